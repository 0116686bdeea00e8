import { signPayload } from '@mpay/envelope';
import {
  formatDecimalAmount,
  type PaymentEffect,
  type PaymentState,
  publicStatusOf,
  signatureValue,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { custodianOf } from '../devices/custody-redirect.ts';
import { enqueueLogEntry } from '../log/outbox.ts';
import { activeBindingOf } from '../registry/bindings.ts';
import type { OutboxEntry, OutboxLease, Payment, PaymentChanges } from './store.ts';

/** What the event that caused a transition brought: the signed messages the outcome rests on. */
export interface StepEvidence {
  /** The customer's decline, or the merchant's signed cancellation request. */
  readonly answer?: string | undefined;
  /** The customer's bank's signed answer to the payment order. */
  readonly bankAnswer?: string | undefined;
  /** The bank's ledger transfer id. */
  readonly transferId?: string | undefined;
  readonly failureCode?: string | undefined;
}

function amountOf(payment: Payment) {
  return { currency: payment.currency, value: formatDecimalAmount(payment.message.data.amount) };
}

/** The level the FSP applied and what it required, as the message states them (once the FSP countersigned). */
function securityOf(payment: Payment) {
  const { type, protections } = payment.message;
  return { level: type, protections: [...(protections ?? [])] };
}

// The FSP signs with the wall clock (iat/exp are about transport freshness, checked by parties on
// their own clocks); the times inside the documents (completedAt, at) are the protocol's clock.

/**
 * iMS step 10: what the customer's receipt states; it names the bank's signed
 * answer it rests on. A phone rebuilds all but the bank's part, the customer
 * signature's value and the time from the message it confirmed
 * (@mpay/protocol ims/receipt.ts, receipt/v2): change one, change the other.
 */
export function receiptContent(payment: Payment, evidence: StepEvidence, now: Date) {
  const customerSign = payment.message.address.from.sign;
  if (customerSign === undefined || evidence.bankAnswer === undefined) {
    throw new Error('assertion failed: a receipt rests on the customer signature and the bank answer');
  }
  return {
    receipt: {
      paymentId: payment.id,
      status: 'completed',
      payer: payment.customer.id,
      payee: payment.merchant.id,
      // The receipt goes into the public log: at a sealing level no account number travels in clear.
      ...(payment.message.protections?.includes('private_data_sealed')
        ? {}
        : { accountPayable: payment.payerAccount }),
      amount: amountOf(payment),
      security: securityOf(payment),
      bankTransferId: evidence.transferId ?? payment.id,
      customerSignature: signatureValue(customerSign),
      bankAnswer: signatureValue(evidence.bankAnswer),
      completedAt: now.toISOString(),
    },
  };
}

/** The customer's receipt, signed by the FSP for the customer. */
async function signReceipt(context: GatewayContext, payment: Payment, evidence: StepEvidence, now: Date) {
  return signPayload(
    receiptContent(payment, evidence, now),
    {
      issuer: context.fsp.id,
      audience: payment.customer.id,
      transactionId: payment.id,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** The FSP's signed statement of an outcome other than completion (declined, cancelled, expired, refused, failed). */
async function signOutcome(
  context: GatewayContext,
  payment: Payment,
  next: PaymentState,
  evidence: StepEvidence,
  now: Date,
) {
  return signPayload(
    {
      paymentOutcome: {
        paymentId: payment.id,
        status: publicStatusOf(next),
        state: next,
        payer: payment.customer.id,
        payee: payment.merchant.id,
        amount: amountOf(payment),
        security: securityOf(payment),
        ...(evidence.failureCode === undefined ? {} : { failureCode: evidence.failureCode }),
        ...(evidence.answer === undefined ? {} : { answer: signatureValue(evidence.answer) }),
        ...(evidence.bankAnswer === undefined ? {} : { bankAnswer: signatureValue(evidence.bankAnswer) }),
        at: now.toISOString(),
      },
    },
    {
      issuer: context.fsp.id,
      audience: payment.customer.id,
      transactionId: payment.id,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** iMS step 9: the merchant's notification, signed by the FSP. */
async function signNotification(
  context: GatewayContext,
  payment: Payment,
  next: PaymentState,
  evidence: StepEvidence,
) {
  return signPayload(
    {
      event: 'payment.updated',
      payment: {
        id: payment.id,
        status: publicStatusOf(next),
        amount: { currency: payment.currency, minor: payment.amountMinor.toString() },
        payer: payment.customer.id,
        securityLevel: payment.message.type,
        ...(evidence.failureCode === undefined ? {} : { failureCode: evidence.failureCode }),
      },
    },
    {
      issuer: context.fsp.id,
      audience: payment.merchant.id,
      transactionId: payment.id,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/**
 * What the log commits to for an outcome: every signature the payment
 * gathered, in order (merchant, FSP, the customer's confirmation or decline or
 * the merchant's cancellation, the bank's answer), then the FSP's receipt or
 * outcome statement.
 */
function loggedMessages(payment: Payment, evidence: StepEvidence, closing: string): string[] {
  const { address } = payment.message;
  return [
    address.to.sign,
    address.fspSign,
    address.from.sign,
    evidence.answer,
    evidence.bankAnswer,
    closing,
  ].filter((jws): jws is string => typeof jws === 'string');
}

/**
 * The receipt's push to the customer's device stream. A device that holds its
 * key gets the receipt in its confirmation's answer, which cancels this push
 * (`cancelReceiptPush`); so the push waits `receiptPushGraceMs` and goes out
 * only when no answer carried the receipt (the bank answered after the
 * confirmation gave up waiting, or the answer did not cancel it in time).
 * Custody's redirect goes at once: custody forwards it to every phone.
 */
async function receiptPush(
  context: GatewayContext,
  sql: Sql,
  payment: Payment,
  now: Date,
): Promise<OutboxEntry> {
  const binding = await activeBindingOf(sql, payment.customer.id, now, context.keyCache);
  const delayMs = custodianOf(context, binding) === undefined ? context.limits.receiptPushGraceMs : 0;
  return { kind: 'device_push', payload: { event: 'receipt' }, ...(delayMs === 0 ? {} : { delayMs }) };
}

/**
 * Whether the payment request's push is made at the commit of the step that
 * writes it, rather than delivered from the outbox after it: for a customer
 * whose device holds the key, by a step that leases its effects (its caller
 * hands them over after the commit, deliverAfterCommit), on a gateway that
 * tells no other instance (no relay: PGlite, or a single instance so
 * configured). The push is a hand to the device's open streams, which
 * acknowledge nothing: made right after the commit, its outbox row is written
 * delivered, one statement less. With a relay the outbox keeps it: the
 * notice to the other instances must survive a crash right after the commit
 * (the row stays leased until the notice went), and a NOTIFY inside the
 * step's transaction would hold PostgreSQL's one notification lock through
 * that transaction's commit, making every gateway's commits wait in turn.
 * Custody's customers go through custody, which must acknowledge: from the
 * outbox, retried.
 */
async function requestPushedAtCommit(
  context: GatewayContext,
  sql: Sql,
  payment: Payment,
  now: Date,
  lease: OutboxLease | undefined,
): Promise<boolean> {
  if (lease === undefined || context.hub.relaying) return false;
  if (context.custodians.length === 0) return true;
  const binding = await activeBindingOf(sql, payment.customer.id, now, context.keyCache);
  return custodianOf(context, binding) === undefined;
}

/**
 * Turns the effects of one step into what the transaction stores: signed
 * receipts and outcome statements (changes), outbox rows, and `writes` of
 * other tables (a log entry) that the caller starts beside the step's own
 * statement (`persistStep`), in the same round trip. Runs inside the step's
 * transaction (`sql`), before it commits.
 */
export async function materialiseEffects(
  context: GatewayContext,
  sql: Sql,
  payment: Payment,
  next: PaymentState,
  effects: readonly PaymentEffect[],
  evidence: StepEvidence,
  now: Date,
  lease?: OutboxLease,
): Promise<{ changes: PaymentChanges; outbox: OutboxEntry[]; writes: (() => Promise<void>)[] }> {
  const outbox: OutboxEntry[] = [];
  const writes: (() => Promise<void>)[] = [];
  let closing: string | undefined;
  const changes: { receipt?: string; outcome?: string } = {};
  if (effects.includes('issue_receipt')) {
    closing = await signReceipt(context, payment, evidence, now);
    changes.receipt = closing;
  } else if (effects.includes('log_outcome') || effects.includes('notify_customer')) {
    closing = await signOutcome(context, payment, next, evidence, now);
    changes.outcome = closing;
  }
  for (const effect of effects) {
    switch (effect) {
      case 'push_request':
        outbox.push({
          kind: 'device_push',
          payload: { event: 'payment-request' },
          ...((await requestPushedAtCommit(context, sql, payment, now, lease))
            ? { pushedAtCommit: true }
            : {}),
        });
        break;
      case 'order_transfer':
        outbox.push({ kind: 'bank_order', payload: {} });
        break;
      case 'notify_customer':
        outbox.push(
          effects.includes('issue_receipt')
            ? await receiptPush(context, sql, payment, now)
            : { kind: 'device_push', payload: { event: 'payment-status' } },
        );
        break;
      case 'notify_merchant':
        if (payment.merchant.webhookUrl !== null) {
          const body = await signNotification(context, payment, next, evidence);
          outbox.push({ kind: 'webhook', payload: { url: payment.merchant.webhookUrl, body } });
        }
        break;
      case 'log_outcome':
        if (context.transactionLog !== undefined && closing !== undefined) {
          const messages = loggedMessages(payment, evidence, closing);
          writes.push(() =>
            enqueueLogEntry(sql, payment.id, `payment.${publicStatusOf(next)}`, messages, now),
          );
          outbox.push({ kind: 'log_entry', payload: {} });
        }
        break;
      case 'issue_receipt':
        break;
    }
  }
  return { changes, outbox, writes };
}
