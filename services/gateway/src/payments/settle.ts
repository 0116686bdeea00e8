import { awaitingBankPaymentStates } from '@mpay/protocol';
import { type Sql, together } from '@mpay/storage';
import { type PaymentOrderOutcome, placePaymentOrder } from '../banks/client.ts';
import type { GatewayContext } from '../context.ts';
import { deliverAfterCommit, outboxLeaseOf } from '../outbox/deliver.ts';
import { findBank } from '../registry/banks.ts';
import { cachedAt } from '../registry/key-cache.ts';
import { findPayment, lockPayment, type OutboxLease, type Payment } from './store.ts';
import { applyEventIn } from './transition.ts';

/** A delivery to a bank: done, or to be tried again (the code of why not, for the outbox row). */
export type DeliveryStep = { readonly done: true } | { readonly done: false; readonly code: string };

/** Done: also the payment as this step left it (answered, or found answered), read in its transaction. */
export type SettlementStep =
  | { readonly done: true; readonly payment: Payment }
  | { readonly done: false; readonly code: string };

/**
 * iMS steps 7–8 for a payment the customer authorised: order the payment from
 * the customer's bank with the customer's own signature, and record the
 * bank's signed answer as the protocol's next step (receipt, notification and
 * log entry come with it). Safe to run again at any time: the order id is the
 * payment id, and a payment no longer waiting for its bank is left alone.
 * No database transaction is held while the bank is asked; the outcome then
 * commits with `finish` (the outbox row's delivery), or not at all.
 * `known`: the payment as its caller just committed it (the confirmation),
 * not read again before the bank is asked; it is read under lock after.
 */
export async function settleWithBank(
  context: GatewayContext,
  paymentId: string,
  finish: (sql: Sql) => Promise<void>,
  known?: Payment,
): Promise<SettlementStep> {
  const payment = known?.id === paymentId ? known : await findPayment(context.database, paymentId);
  if (!awaitingBankPaymentStates.includes(payment.state)) {
    await context.database.transaction(finish);
    return { done: true, payment };
  }
  const authorisation = payment.message.address.from.sign;
  if (authorisation === undefined)
    throw new Error('assertion failed: an authorised payment carries the customer signature');
  const bank = await findBank(context.database, payment.customer.bankId, cachedAt(context));
  const outcome = await placePaymentOrder(
    context.fsp,
    bank,
    {
      id: payment.id,
      payerId: payment.customer.id,
      debitAccountId: payment.payerAccount,
      payeeId: payment.merchant.id,
      creditBankId: payment.merchant.bankId,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      reference: `iMS ${payment.id}`,
      authorisation,
      approvalRequired: payment.message.protections?.includes('bank_approval') ?? false,
      // Sealed private fields: the approval must say the bank opened its copy.
      privateDataSealed: payment.message.data.sealed !== undefined,
    },
    context.limits.bankTimeoutMs,
  );
  if (outcome.kind === 'pending') return { done: false, code: outcome.code };
  const lease = outboxLeaseOf(context, context.clock());
  const settled = await context.database.transaction(async (sql) => {
    // Read before the bank was asked: kept unless another worker recorded a step meanwhile. The order's
    // outbox row is marked delivered in the same round trip (whatever the step: the bank has answered).
    const [locked] = await together([lockPayment(sql, payment), finish(sql)]);
    // Another worker may have recorded the answer while this one asked the bank.
    return awaitingBankPaymentStates.includes(locked.state)
      ? await recordOutcome(context, sql, locked, outcome, lease)
      : locked;
  });
  // The receipt, the notification and the log entry, after the commit that wrote them.
  deliverAfterCommit(context, lease);
  return { done: true, payment: settled };
}

/** The bank's answer as the payment's next step, on the payment `locked` in this transaction (not read again). */
async function recordOutcome(
  context: GatewayContext,
  sql: Sql,
  locked: Payment,
  outcome: Exclude<PaymentOrderOutcome, { kind: 'pending' }>,
  lease: OutboxLease | undefined,
): Promise<Payment> {
  const now = context.clock();
  const paymentId = locked.id;
  if (outcome.kind === 'transferred') {
    return applyEventIn(
      context,
      sql,
      paymentId,
      {
        event: 'bank_transferred',
        locked,
        lease,
        lastInTransaction: true,
        evidence: { bankAnswer: outcome.bankAnswer },
        changes: {
          bankAnswer: outcome.bankAnswer,
          detail: 'the customer bank verified the customer signature and paid',
        },
      },
      now,
    );
  }
  if (outcome.kind === 'refused') {
    return applyEventIn(
      context,
      sql,
      paymentId,
      {
        event: 'bank_refused',
        locked,
        lease,
        lastInTransaction: true,
        evidence: { bankAnswer: outcome.bankAnswer, failureCode: outcome.code },
        changes: {
          ...(outcome.bankAnswer === undefined ? {} : { bankAnswer: outcome.bankAnswer }),
          detail: `the customer bank refused: ${outcome.code}`,
        },
      },
      now,
    );
  }
  context.log.error({ paymentId, code: outcome.code }, 'the customer bank failed the order for good');
  return applyEventIn(
    context,
    sql,
    paymentId,
    {
      event: 'bank_failed',
      locked,
      lease,
      lastInTransaction: true,
      evidence: { failureCode: outcome.code },
      changes: { detail: `the customer bank answered ${outcome.code}` },
    },
    now,
  );
}
