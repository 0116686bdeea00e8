import { parseDecimalAmount } from '@mpay/protocol';
import type { CustodyPaymentRequestView, Receipt, RefundReceipt } from '@mpay/sdk';
import type { CustodyPaymentRecord, CustodyPaymentStatus, CustodyRefundRecord } from './store.ts';

/**
 * How what the phone verified becomes its record of a payment: pure functions
 * over verified values. An answered payment never goes back to `pending`, and
 * a completed one stays completed whatever arrives after it.
 */

const finalStatuses: ReadonlySet<CustodyPaymentStatus> = new Set([
  'completed',
  'declined',
  'expired',
  'cancelled',
  'failed',
]);

export function isFinal(status: CustodyPaymentStatus): boolean {
  return finalStatuses.has(status);
}

/** A verified payment request (iMS §5 step 3) as the phone keeps it until it is answered. */
export function recordOfRequest(
  view: CustodyPaymentRequestView,
  now: string,
  previous: CustodyPaymentRecord | undefined,
): CustodyPaymentRecord {
  if (previous !== undefined && previous.status !== 'pending' && previous.status !== 'unverified')
    return previous;
  return {
    paymentId: view.paymentId,
    status: 'pending',
    receivedAt: previous?.receivedAt ?? now,
    updatedAt: now,
    merchant: { id: view.merchant.id, name: view.merchant.name },
    amount: { currency: view.amount.currency, value: view.amount.value },
    ...(view.description === undefined ? {} : { description: view.description }),
    securityLevel: view.securityLevel,
    protections: [...view.protections],
    forward: view.forward,
  };
}

/** A request that did not verify: kept by its stable code, never shown as a request. */
export function recordOfUnverified(
  paymentId: string,
  code: string,
  now: string,
  previous: CustodyPaymentRecord | undefined,
): CustodyPaymentRecord {
  if (previous !== undefined && previous.status !== 'pending' && previous.status !== 'unverified')
    return previous;
  const { forward: _forward, ...rest } = previous ?? { paymentId, receivedAt: now };
  return {
    ...rest,
    paymentId,
    receivedAt: previous?.receivedAt ?? now,
    status: code === 'MESSAGE_EXPIRED' ? 'expired' : 'unverified',
    verificationCode: code,
    updatedAt: now,
  };
}

interface StatementFields {
  readonly status?: unknown;
  readonly payee?: unknown;
  readonly amount?: { readonly currency?: unknown; readonly value?: unknown };
  readonly completedAt?: unknown;
  readonly at?: unknown;
  readonly failureCode?: unknown;
}

const outcomeStatuses: ReadonlySet<string> = new Set(['declined', 'expired', 'cancelled', 'failed']);

/** The FSP's verified receipt (`receipt`) or outcome (`outcome`) of a payment, merged into its record. */
export function recordOfStatement(
  kind: 'receipt' | 'outcome',
  statement: Receipt,
  paymentId: string,
  now: string,
  previous: CustodyPaymentRecord | undefined,
): CustodyPaymentRecord {
  if (previous?.status === 'completed') return previous;
  const fields = (kind === 'receipt' ? statement.payload.receipt : statement.payload.paymentOutcome) as
    | StatementFields
    | undefined;
  const outcome = typeof fields?.status === 'string' ? fields.status : '';
  const status: CustodyPaymentStatus =
    kind === 'receipt'
      ? 'completed'
      : outcomeStatuses.has(outcome)
        ? (outcome as CustodyPaymentStatus)
        : 'failed';
  const amount =
    typeof fields?.amount?.currency === 'string' && typeof fields.amount.value === 'string'
      ? { currency: fields.amount.currency, value: fields.amount.value }
      : previous?.amount;
  const payee = typeof fields?.payee === 'string' ? fields.payee : undefined;
  const merchant = previous?.merchant ?? (payee === undefined ? undefined : { id: payee, name: payee });
  const at = kind === 'receipt' ? fields?.completedAt : fields?.at;
  const { forward: _forward, ...rest } = previous ?? { paymentId, receivedAt: now };
  return {
    ...rest,
    paymentId,
    receivedAt: previous?.receivedAt ?? now,
    status,
    updatedAt: now,
    ...(merchant === undefined ? {} : { merchant }),
    ...(amount === undefined ? {} : { amount }),
    statement: statement.jws,
    ...(typeof at === 'string' ? { completedAt: at } : {}),
    ...(typeof fields?.failureCode === 'string' ? { failureCode: fields.failureCode } : {}),
  };
}

/** Custody's answer that the bank has not answered yet, or that the decline was signed. */
export function recordOfAnswer(
  status: 'authorised' | 'declined',
  now: string,
  previous: CustodyPaymentRecord,
): CustodyPaymentRecord {
  if (isFinal(previous.status)) return previous;
  const { forward: _forward, ...rest } = previous;
  return { ...rest, status, updatedAt: now };
}

/**
 * A verified refund receipt (custody's forward, the FSP's signature, of this
 * payment, to this customer) as the history keeps it, named as the payment
 * was when this phone has it and the payer is its merchant. An amount that is
 * no decimal of its currency throws AMOUNT_INVALID: such a receipt is refused,
 * never kept with a guessed amount.
 */
export function recordOfRefund(
  receipt: RefundReceipt,
  now: string,
  payment: CustodyPaymentRecord | undefined,
): CustodyRefundRecord {
  const amount = parseDecimalAmount(receipt.amount.value, receipt.amount.currency, 'refund amount');
  const merchant = payment?.paymentId === receipt.paymentId ? payment.merchant : undefined;
  return {
    refundId: receipt.refundId,
    paymentId: receipt.paymentId,
    merchantId: receipt.payer,
    // A payment known only from its receipt has the payee's id for a name: no certified name to show.
    merchantName: merchant?.id === receipt.payer && merchant.name !== merchant.id ? merchant.name : undefined,
    amountMinor: amount.minor.toString(),
    currency: amount.currency,
    at: now,
    receiptJws: receipt.jws,
  };
}
