import { assert, MpayError } from '../errors/index.ts';
import { amountEquals } from '../money/index.ts';
import {
  amountOfMacroAmount,
  type FundsTransferContent,
  type PayAckContent,
  type PayConfirmToMerchantContent,
} from './messages.ts';

/**
 * Steps 8–10 of seed 002 §4.2, between the banks, as pure functions over the
 * core's contents (the banks sign, seal and persist them):
 *
 *   (8)  CB → MB: FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}
 *   (9)  MB → M:  E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}
 *   (10) MB → CB: [SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}
 *
 * The MB makes steps 9 and 10 from the FT it credited, and nothing else: every
 * field of Pay_Confirm and Pay_Ack comes from FT, so the MB's signature over
 * them binds what it was asked. The CB posts its hold only on a Pay_Ack that
 * names its own FT exactly (`checkPayAck`).
 */

/** Step 10 for `transfer`, as the MB signs it, valid until `expiresAt` (the signed answer's own expiry). */
export function payAckOf(transfer: FundsTransferContent, expiresAt: Date): PayAckContent {
  assert(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()), 'expiresAt is a valid Date');
  return Object.freeze({
    kind: 'macro_pay_ack',
    from: transfer.to,
    to: transfer.from,
    sessionId: transfer.sessionId,
    clientId: transfer.clientId,
    merchantId: transfer.merchantId,
    amount: transfer.amount,
    expiresAt: expiresAt.toISOString(),
  });
}

/** Step 9 for `transfer`: what the MB tells the merchant it credited. */
export function payConfirmToMerchantOf(transfer: FundsTransferContent): PayConfirmToMerchantContent {
  return Object.freeze({
    kind: 'macro_pay_confirm_to_merchant',
    from: transfer.to,
    to: transfer.merchantId,
    sessionId: transfer.sessionId,
    clientId: transfer.clientId,
    amount: transfer.amount,
    expiresAt: transfer.expiresAt,
  });
}

function mismatch(holds: boolean, field: string): void {
  if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', field);
}

/**
 * The CB's check of step 10 against the FT it sent (both already parsed
 * strictly by the core, Pay_Ack's signature verified under the MB's key):
 * from the MB the FT went to, to this CB, and the same SID_T, ID_C, ID_M and
 * AmtInfo_c (compared in minor units), not expired at `now`. Throws
 * PAYMENT_MESSAGE_MISMATCH with the field, or MESSAGE_EXPIRED.
 */
export function checkPayAck(transfer: FundsTransferContent, ack: PayAckContent, now: Date): void {
  assert(now instanceof Date && !Number.isNaN(now.getTime()), 'now is a valid Date');
  mismatch(ack.kind === 'macro_pay_ack', 'kind');
  mismatch(ack.from === transfer.to, 'from');
  mismatch(ack.to === transfer.from, 'to');
  mismatch(ack.sessionId === transfer.sessionId, 'sessionId');
  mismatch(ack.clientId === transfer.clientId, 'clientId');
  mismatch(ack.merchantId === transfer.merchantId, 'merchantId');
  mismatch(amountEquals(amountOfMacroAmount(ack.amount), amountOfMacroAmount(transfer.amount)), 'amount');
  if (Date.parse(ack.expiresAt) <= now.getTime()) throw new MpayError('MESSAGE_EXPIRED', 'expiresAt');
}
