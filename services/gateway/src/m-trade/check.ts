import { amountEquals, type ImsMessage, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { findClaim, lockParty, markClaimRequested } from './store.ts';

/**
 * The m-trade hook of iMS step 1 (payments/request.ts, in the request's
 * transaction): when a customer claimed the till code of this transaction
 * id, the till's payment request must be exactly what was claimed — m-trade,
 * the same merchant, customer and amount — else TRADE_CLAIM_MISMATCH. A
 * request for a transaction id nobody claimed goes on unchanged (the till
 * took the customer's phone number instead of showing a code).
 */
export async function checkTradeClaim(
  sql: Sql,
  request: {
    readonly message: ImsMessage;
    readonly merchant: { readonly id: string };
    readonly customer: { readonly id: string };
  },
  now: Date,
): Promise<void> {
  // A claim's parties and amount never change after it is stored: they are read without a lock.
  const claim = await findClaim(sql, request.message.transactionId);
  if (claim === undefined) return;
  if (
    request.message.procedure !== 'm-trade' ||
    claim.merchantId !== request.merchant.id ||
    claim.customerId !== request.customer.id ||
    !amountEquals(claim.amount, request.message.data.amount)
  ) {
    throw new MpayError('TRADE_CLAIM_MISMATCH');
  }
  await lockParty(sql, request.customer.id);
  await markClaimRequested(sql, claim.transactionId, now);
}
