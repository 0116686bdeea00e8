import { signPayload } from '@mpay/envelope';
import {
  createAmount,
  formatDecimalAmount,
  type RefundEffect,
  type RefundState,
  refundStatusOf,
  signatureValue,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import type { Payment } from '../payments/store.ts';
import { enqueueRefundLogEntry } from './log.ts';
import type { Refund, RefundChanges, RefundOutboxEntry } from './store.ts';

/** What the event that moved a refund brought: the signed answer the outcome rests on. */
export interface RefundEvidence {
  /** The merchant's bank's signed answer to the refund order. */
  readonly bankAnswer?: string | undefined;
  readonly failureCode?: string | undefined;
}

function amountOf(refund: Refund) {
  return {
    currency: refund.currency,
    value: formatDecimalAmount(createAmount(refund.currency, refund.amountMinor)),
  };
}

// The FSP signs with the wall clock (iat/exp are about transport freshness); the times inside are the protocol's.

/**
 * The customer's refund receipt, signed by the FSP (audience the customer,
 * transaction the payment, so that the wallet opens it as it opens the
 * payment's receipt): who paid back whom how much, for which payment, and the
 * signatures it rests on (the merchant's refund, its bank's answer).
 */
async function signRefundReceipt(
  context: GatewayContext,
  refund: Refund,
  evidence: RefundEvidence,
  now: Date,
) {
  if (evidence.bankAnswer === undefined)
    throw new Error('assertion failed: a refund receipt rests on the bank answer');
  return signPayload(
    {
      refundReceipt: {
        refundId: refund.id,
        paymentId: refund.paymentId,
        status: 'completed',
        payer: refund.merchantId,
        payee: refund.customerId,
        amount: amountOf(refund),
        merchantSignature: signatureValue(refund.authorisation),
        bankAnswer: signatureValue(evidence.bankAnswer),
        completedAt: now.toISOString(),
      },
    },
    {
      issuer: context.fsp.id,
      audience: refund.customerId,
      transactionId: refund.paymentId,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** The FSP's signed statement of a refund that moved no money (refused, failed), for the merchant and the log. */
async function signRefundOutcome(
  context: GatewayContext,
  refund: Refund,
  next: RefundState,
  evidence: RefundEvidence,
  now: Date,
) {
  return signPayload(
    {
      refundOutcome: {
        refundId: refund.id,
        paymentId: refund.paymentId,
        status: refundStatusOf(next),
        state: next,
        payer: refund.merchantId,
        payee: refund.customerId,
        amount: amountOf(refund),
        ...(evidence.failureCode === undefined ? {} : { failureCode: evidence.failureCode }),
        ...(evidence.bankAnswer === undefined ? {} : { bankAnswer: signatureValue(evidence.bankAnswer) }),
        at: now.toISOString(),
      },
    },
    {
      issuer: context.fsp.id,
      audience: refund.merchantId,
      transactionId: refund.id,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** The merchant's webhook: `refund.updated`, as verifyNotification parses it. */
async function signRefundNotification(
  context: GatewayContext,
  refund: Refund,
  next: RefundState,
  evidence: RefundEvidence,
) {
  return signPayload(
    {
      event: 'refund.updated',
      refund: {
        id: refund.id,
        paymentId: refund.paymentId,
        status: refundStatusOf(next),
        amount: { currency: refund.currency, minor: refund.amountMinor.toString() },
        ...(evidence.failureCode === undefined ? {} : { failureCode: evidence.failureCode }),
      },
    },
    {
      issuer: context.fsp.id,
      audience: refund.merchantId,
      transactionId: refund.id,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** The outbox row that orders the merchant's bank (the first effect of every refund). */
function refundOrderEntry(refundId: string): RefundOutboxEntry {
  return { kind: 'refund_order', payload: { refundId } };
}

/** The outbox rows of a refund's first step: nothing but its order can be due before a bank decided. */
export function firstRefundOutbox(refundId: string, effects: readonly RefundEffect[]): RefundOutboxEntry[] {
  return effects.map((effect) => {
    if (effect !== 'order_refund')
      throw new Error(`assertion failed: a refund starts with its order, not ${effect}`);
    return refundOrderEntry(refundId);
  });
}

/**
 * Turns the effects of one refund step into what the transaction stores: the
 * signed receipt or outcome statement (changes) and outbox rows. Runs inside
 * the step's transaction, before it commits.
 */
export async function materialiseRefundEffects(
  context: GatewayContext,
  sql: Sql,
  refund: Refund,
  payment: Payment,
  next: RefundState,
  effects: readonly RefundEffect[],
  evidence: RefundEvidence,
  now: Date,
): Promise<{ changes: RefundChanges; outbox: RefundOutboxEntry[] }> {
  const outbox: RefundOutboxEntry[] = [];
  const changes: { receipt?: string; outcome?: string } = {};
  let closing: string | undefined;
  if (effects.includes('notify_customer')) {
    closing = await signRefundReceipt(context, refund, evidence, now);
    changes.receipt = closing;
  } else if (effects.includes('log_outcome')) {
    closing = await signRefundOutcome(context, refund, next, evidence, now);
    changes.outcome = closing;
  }
  for (const effect of effects) {
    switch (effect) {
      case 'order_refund':
        outbox.push(refundOrderEntry(refund.id));
        break;
      case 'notify_customer':
        outbox.push({ kind: 'device_push', payload: { event: 'refund-receipt', refundId: refund.id } });
        break;
      case 'notify_merchant':
        if (payment.merchant.webhookUrl !== null) {
          const body = await signRefundNotification(context, refund, next, evidence);
          outbox.push({
            kind: 'webhook',
            payload: { url: payment.merchant.webhookUrl, body, refundId: refund.id },
          });
        }
        break;
      case 'log_outcome':
        if (context.transactionLog !== undefined && closing !== undefined) {
          const messages = [refund.authorisation, evidence.bankAnswer, closing].filter(
            (jws): jws is string => typeof jws === 'string',
          );
          await enqueueRefundLogEntry(sql, refund.id, `refund.${refundStatusOf(next)}`, messages, now);
          outbox.push({ kind: 'log_entry', payload: { refundId: refund.id } });
        }
        break;
    }
  }
  return { changes, outbox };
}
