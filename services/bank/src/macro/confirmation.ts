import { encryptTo, signPayload } from '@mpay/envelope';
import { MpayError, type PayConfirmToClientContent, parsePayConfirmToClientContent } from '@mpay/protocol';
import { selectOrder } from '../interbank/orders-store.ts';
import { sha256 } from './approval-request.ts';
import { selectMacroApproval } from './approvals-store.ts';
import { type MacroContext, macroBankLimits } from './context.ts';
import type { AuthenticatedDevice } from './device.ts';

/**
 * Step 11 of seed 002 §4.2 at the client bank:
 *
 *   CB → C: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{CB-C}
 *
 * made once the payment order is completed, i.e. once the merchant bank's
 * signed answer credited the merchant and the hold was posted (step 10's
 * acknowledgement, as the interbank path has it today): the core's
 * PayConfirmToClientContent, signed by the bank, sealed to the device that
 * asks. Before that, the state only.
 */
export type ConfirmationState = 'approval_requested' | 'declined' | 'refused' | 'sending' | 'completed';

export interface Confirmation {
  readonly sessionId: string;
  readonly state: ConfirmationState;
  readonly refusalCode?: string | undefined;
  /** Pay_Confirm sealed to the device (compact JWE of the bank's JWS), when completed. */
  readonly payConfirm?: string | undefined;
}

/** The confirmation of SID_T for `device`'s party; MACRO_APPROVAL_UNKNOWN for another party's session. */
export async function readConfirmation(
  context: MacroContext,
  device: AuthenticatedDevice,
  sessionId: string,
): Promise<Confirmation> {
  const record = await selectMacroApproval(context.database, sessionId);
  if (record === undefined || record.partyId !== device.partyId || record.approvalRequest === null) {
    throw new MpayError('MACRO_APPROVAL_UNKNOWN');
  }
  if (record.state !== 'approved') {
    return {
      sessionId,
      state: record.state,
      ...(record.refusalCode === null ? {} : { refusalCode: record.refusalCode }),
    };
  }
  const order = record.orderId === null ? undefined : await selectOrder(context.database, record.orderId);
  if (order === undefined || order.payeeId === null)
    throw new Error('assertion failed: an approval has its order');
  if (order.state === 'refused')
    return { sessionId, state: 'refused', refusalCode: order.refusalCode ?? 'REFUSED' };
  if (order.state === 'sending') return { sessionId, state: 'sending' };
  const content: PayConfirmToClientContent = parsePayConfirmToClientContent(
    {
      kind: 'macro_pay_confirm_to_client',
      from: context.bank.id,
      to: record.clientId,
      sessionId,
      merchantId: order.payeeId,
      amount: { currency: record.currency, value: record.amountText },
      expiresAt: record.expiresAt.toISOString(),
    },
    sha256,
  );
  const signed = await signPayload(
    content,
    {
      issuer: context.bank.id,
      audience: record.partyId,
      transactionId: sessionId,
      expiresInSeconds: macroBankLimits.statementLifetimeSeconds,
    },
    context.bank.signingKey,
  );
  const payConfirm = await encryptTo(signed, device.binding.encryptionJwk, { contentType: 'mpay+jws' });
  return { sessionId, state: 'completed', payConfirm };
}
