import {
  amountOfMacroAmount,
  checkPayAck,
  type FundsTransferContent,
  isMpayError,
  MpayError,
  macroOrderId,
  type PayAckContent,
  parseFundsTransferContent,
  parsePayAckContent,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FundsTransfer, VerifiedAnswer } from '../interbank/messages.ts';
import type { PaymentOrder } from '../interbank/orders-store.ts';
import { sha256 } from './approval-request.ts';
import { selectMacroApproval } from './approvals-store.ts';

/**
 * Steps 8 and 10 of seed 002 §4.2 on the interbank path:
 *
 *   (8)  CB → MB: FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}
 *   (10) MB → CB: [SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}
 *
 * A macro payment's order is delivered as any other (the hold, the signed
 * funds transfer, the signed answer: deliver.ts, receive.ts), and its
 * message carries the core's FundsTransferContent beside the transfer, under
 * the same signature. The merchant bank checks the two ask for the same
 * thing, and its answer to a credited one carries the core's PayAckContent,
 * made from that FT; the client bank posts its hold only on a Pay_Ack that
 * names its own FT exactly.
 */

function mismatch(holds: boolean, field: string): void {
  if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', `macroFundsTransfer.${field}`);
}

/** The paper's FT of a message, parsed strictly by the core. */
export function parseMacroFundsTransfer(value: unknown): FundsTransferContent {
  return parseFundsTransferContent(value, sha256);
}

/** Pay_Ack of an answer, parsed strictly by the core. */
export function parsePayAck(value: unknown): PayAckContent {
  return parsePayAckContent(value, sha256);
}

/**
 * At the merchant bank: the FT content asks for exactly the transfer it
 * travels with: the same banks, payee ID_M, amount and currency (in minor
 * units), deadline, and the transfer is the client bank's order for SID_T
 * (its id is macroOrderId(ID_CB, SID_T), so one session pays once).
 * PAYMENT_MESSAGE_MISMATCH with the field otherwise.
 */
export function checkMacroFundsTransfer(
  transfer: FundsTransfer,
  content: FundsTransferContent,
): FundsTransferContent {
  const amount = amountOfMacroAmount(content.amount);
  mismatch(content.from === transfer.debtorBank, 'from');
  mismatch(content.to === transfer.creditorBank, 'to');
  mismatch(content.merchantId === transfer.payeeId, 'merchantId');
  mismatch(amount.currency === transfer.currency && amount.minor.toString() === transfer.amount, 'amount');
  mismatch(content.expiresAt === transfer.deadline, 'expiresAt');
  mismatch(transfer.id === macroOrderId(content.from, content.sessionId, sha256), 'sessionId');
  return content;
}

const orderReference = /^macro ([0-9a-f-]{36})$/;

/**
 * At the client bank: the FT content of `order` if it is a macro payment's
 * (placed by the approval of SID_T under macroOrderId(ID_CB, SID_T), see
 * macro/approval.ts), else undefined.
 */
export async function macroFundsTransferOf(
  sql: Sql,
  self: string,
  order: PaymentOrder,
): Promise<FundsTransferContent | undefined> {
  const sessionId = orderReference.exec(order.reference)?.[1];
  if (sessionId === undefined || order.id !== macroOrderId(self, sessionId, sha256)) return undefined;
  const record = await selectMacroApproval(sql, sessionId);
  if (record?.orderId !== order.id || order.payeeId === null) {
    throw new Error(`assertion failed: the macro order ${order.id} has its approval`);
  }
  return parseMacroFundsTransfer({
    kind: 'macro_funds_transfer',
    from: self,
    to: order.creditorBank,
    sessionId,
    clientId: record.clientId,
    merchantId: order.payeeId,
    amount: { currency: record.currency, value: record.amountText },
    expiresAt: order.deadline.toISOString(),
  });
}

/**
 * At the client bank, before the hold is posted or voided: a macro order's
 * credited answer carries a Pay_Ack naming its FT exactly (checkPayAck); a
 * refusal, or an answer to any other order, carries none. Otherwise
 * MACRO_PAY_ACK_INVALID: the answer is not acted on, the hold stays, and the
 * delivery alarms the operator.
 */
export function checkAnswerPayAck(
  macro: FundsTransferContent | undefined,
  answer: VerifiedAnswer,
  now: Date,
): void {
  const expected = macro !== undefined && answer.outcome === 'credited';
  if (answer.payAck === undefined) {
    if (expected) throw new MpayError('MACRO_PAY_ACK_INVALID', 'missing');
    return;
  }
  if (!expected) throw new MpayError('MACRO_PAY_ACK_INVALID', 'unexpected');
  try {
    checkPayAck(macro, answer.payAck, now);
  } catch (error) {
    if (isMpayError(error)) throw new MpayError('MACRO_PAY_ACK_INVALID', error.detail ?? error.code);
    throw error;
  }
}
