import { awaitingBankRefundStates } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import type { DeliveryStep } from '../payments/settle.ts';
import { findPayment } from '../payments/store.ts';
import { findBank } from '../registry/banks.ts';
import { cachedAt } from '../registry/key-cache.ts';
import { placeRefundOrder, type RefundOrderOutcome } from './bank-client.ts';
import { findRefund } from './store.ts';
import { applyRefundEventIn } from './transition.ts';

async function recordOutcome(
  context: GatewayContext,
  sql: Sql,
  refundId: string,
  outcome: Exclude<RefundOrderOutcome, { kind: 'pending' }>,
): Promise<void> {
  const now = context.clock();
  if (outcome.kind === 'refunded') {
    await applyRefundEventIn(
      context,
      sql,
      refundId,
      {
        event: 'bank_refunded',
        evidence: { bankAnswer: outcome.bankAnswer },
        detail: "the merchant bank verified the merchant's signature and paid the customer back",
      },
      now,
    );
  } else if (outcome.kind === 'refused') {
    await applyRefundEventIn(
      context,
      sql,
      refundId,
      {
        event: 'bank_refused',
        evidence: { bankAnswer: outcome.bankAnswer, failureCode: outcome.code },
        detail: `refused: ${outcome.code}`,
      },
      now,
    );
  } else {
    context.log.error({ refundId, code: outcome.code }, 'the merchant bank failed the refund order for good');
    await applyRefundEventIn(
      context,
      sql,
      refundId,
      {
        event: 'bank_failed',
        evidence: { failureCode: outcome.code },
        detail: `the merchant bank answered ${outcome.code}`,
      },
      now,
    );
  }
}

/**
 * The refund's order to the merchant's bank, with the merchant's own
 * signature, and the bank's signed answer recorded as the refund's next step
 * (receipt, webhook and log entry come with it). Safe to run again at any
 * time: the order id is the refund id, and a refund no longer waiting for
 * its bank is left alone. No transaction is held while the bank is asked;
 * the outcome commits with `finish` (the outbox row's delivery), or not at
 * all. While the customer's bank has not answered, the refund is `ordered`
 * and the outbox asks again.
 */
export async function settleRefundWithBank(
  context: GatewayContext,
  refundId: string,
  finish: (sql: Sql) => Promise<void>,
): Promise<DeliveryStep> {
  const refund = await findRefund(context.database, refundId);
  if (!awaitingBankRefundStates.includes(refund.state)) {
    await context.database.transaction(finish);
    return { done: true };
  }
  const payment = await findPayment(context.database, refund.paymentId);
  const bank = await findBank(context.database, payment.merchant.bankId, cachedAt(context));
  const outcome = await placeRefundOrder(
    context.fsp,
    bank,
    {
      id: refund.id,
      originalOrderId: payment.id,
      originalBank: payment.customer.bankId,
      payerId: refund.merchantId,
      payeeId: refund.customerId,
      amountMinor: refund.amountMinor,
      currency: refund.currency,
      reference: `refund ${refund.id}`,
      authorisation: refund.authorisation,
    },
    context.limits.bankTimeoutMs,
  );
  if (outcome.kind === 'pending') {
    if (outcome.accepted && refund.state === 'merchant_refund_verified') {
      await context.database.transaction(async (sql) => {
        const locked = await findRefund(sql, refundId, { lock: true });
        if (locked.state !== 'merchant_refund_verified') return;
        await applyRefundEventIn(
          context,
          sql,
          refundId,
          {
            event: 'bank_accepted',
            detail: 'the merchant bank holds the refund and pays the customer bank back',
          },
          context.clock(),
        );
      });
    }
    return { done: false, code: outcome.code };
  }
  await context.database.transaction(async (sql) => {
    const locked = await findRefund(sql, refundId, { lock: true });
    // Another worker may have recorded the answer while this one asked the bank.
    if (awaitingBankRefundStates.includes(locked.state)) await recordOutcome(context, sql, refundId, outcome);
    await finish(sql);
  });
  return { done: true };
}
