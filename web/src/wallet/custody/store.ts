import type { CustodyEnrolment, CustodyTrust, FspTrust } from '@mpay/sdk';
import type { RefundReceiptFields } from '../refund-screen.tsx';
import { deleteValue, keysWith, readValue, writeValue } from '../storage.ts';

/**
 * What the custody section keeps on the phone (IndexedDB, prefix `custody:`).
 * No key: the customer's key is in custody's HSM. The phone keeps its bearer
 * token for custody, the PIN credential's id, the keys of custody and of the
 * FSP as they were at enrolment (pinned from then on: a forward or a receipt
 * under any other key is refused), the inbox cursor and what it verified:
 * payments, refunds and custody's alerts.
 */
const setupKey = 'custody:setup';
const cursorKey = 'custody:cursor';
const paymentPrefix = 'custody:payment:';
const refundPrefix = 'custody:refund:';
/** Payments, and refunds, the history keeps (each); the oldest go first. */
export const historyEntriesMax = 500;

export interface CustodySetupRecord {
  readonly enrolment: CustodyEnrolment;
  readonly bankId: string;
  readonly displayName: string;
  readonly custody: CustodyTrust;
  readonly fsp: FspTrust;
  readonly enrolledAt: string;
}

/** Where a payment stands as this phone knows it (from custody's answers and the FSP's signed statements). */
export type CustodyPaymentStatus =
  | 'pending'
  | 'authorised'
  | 'completed'
  | 'declined'
  | 'expired'
  | 'cancelled'
  | 'failed'
  | 'unverified';

/** One payment as verified: only what the SDK verified is kept, with the signed text it came in. */
export interface CustodyPaymentRecord {
  readonly paymentId: string;
  readonly status: CustodyPaymentStatus;
  readonly receivedAt: string;
  readonly updatedAt: string;
  readonly merchant?: { readonly id: string; readonly name: string };
  /** As signed: ISO 4217 code and the decimal value (`12.50`). */
  readonly amount?: { readonly currency: string; readonly value: string };
  readonly description?: string;
  readonly securityLevel?: string;
  readonly protections?: readonly string[];
  /** The custody-signed forward, kept while the request waits for an answer (re-verified on every load). */
  readonly forward?: string;
  /** The FSP's signed receipt or outcome (compact JWS), verified before it was stored. */
  readonly statement?: string;
  readonly completedAt?: string;
  /** The stable code of a failed or refused payment, as the FSP's outcome names it. */
  readonly failureCode?: string;
  /** Why a request was not shown (its stable code), for `unverified`. */
  readonly verificationCode?: string;
}

export function readSetup(): Promise<CustodySetupRecord | undefined> {
  return readValue<CustodySetupRecord>(setupKey);
}

export function writeSetup(setup: CustodySetupRecord): Promise<void> {
  return writeValue(setupKey, setup);
}

export function readCursor(): Promise<string | undefined> {
  return readValue<string>(cursorKey);
}

export function writeCursor(cursor: string): Promise<void> {
  return writeValue(cursorKey, cursor);
}

/** Keeps a payment's record (a new one or its next state); the oldest beyond `historyEntriesMax` go. */
export async function writePayment(record: CustodyPaymentRecord): Promise<void> {
  await writeValue(`${paymentPrefix}${record.paymentId}`, record);
  if ((await keysWith(paymentPrefix)).length <= historyEntriesMax) return;
  for (const stale of (await readPayments()).slice(historyEntriesMax))
    await deleteValue(`${paymentPrefix}${stale.paymentId}`);
}

/** Every payment this phone has seen, newest first. */
export async function readPayments(): Promise<CustodyPaymentRecord[]> {
  const keys = await keysWith(paymentPrefix);
  const records = await Promise.all(keys.map((key) => readValue<CustodyPaymentRecord>(key)));
  return records
    .filter((record): record is CustodyPaymentRecord => record !== undefined)
    .sort((left, right) => right.receivedAt.localeCompare(left.receivedAt));
}

const alertPrefix = 'custody:alert:';

/** A custody alert about the customer's key (wrong PINs, a block), as custody signed it. */
export interface CustodyAlertRecord {
  readonly alertId: string;
  readonly reason: string;
  readonly at: string;
}

export function writeAlert(alert: CustodyAlertRecord): Promise<void> {
  return writeValue(`${alertPrefix}${alert.alertId}`, alert);
}

/** Every alert, newest first. */
export async function readAlerts(): Promise<CustodyAlertRecord[]> {
  const keys = await keysWith(alertPrefix);
  const alerts = await Promise.all(keys.map((key) => readValue<CustodyAlertRecord>(key)));
  return alerts
    .filter((alert): alert is CustodyAlertRecord => alert !== undefined)
    .sort((left, right) => right.at.localeCompare(left.at));
}

/**
 * Money a merchant gave back for a payment: the FSP's refund receipt, forwarded
 * by custody and verified on this phone (custody's signature, then the FSP's)
 * before it was kept. The fields the shared refund card shows
 * (../refund-screen.tsx); amounts are minor units as a decimal string.
 */
export type CustodyRefundRecord = RefundReceiptFields;

/**
 * Keeps a refund, once per refund id: one already kept (custody's inbox read
 * again) is not written again, so it keeps the time this phone first had it.
 * False when it was kept already. Bounded as the payments are.
 */
export async function recordRefund(record: CustodyRefundRecord): Promise<boolean> {
  const key = `${refundPrefix}${record.refundId}`;
  if ((await readValue<CustodyRefundRecord>(key)) !== undefined) return false;
  await writeValue(key, record);
  if ((await keysWith(refundPrefix)).length <= historyEntriesMax) return true;
  for (const stale of (await readRefunds()).slice(historyEntriesMax))
    await deleteValue(`${refundPrefix}${stale.refundId}`);
  return true;
}

/** Every kept refund, newest first. */
export async function readRefunds(): Promise<CustodyRefundRecord[]> {
  const keys = await keysWith(refundPrefix);
  const refunds = await Promise.all(keys.map((key) => readValue<CustodyRefundRecord>(key)));
  return refunds
    .filter((refund): refund is CustodyRefundRecord => refund !== undefined)
    .sort((left, right) => right.at.localeCompare(left.at));
}
