import { type FspTrust, type PaymentRequestView, parseKeystore, type WalletKeystoreData } from '@mpay/sdk';
import type { RefundReceiptFields } from '../refund-screen.tsx';
import { deleteValue, keysWith, readValue, writeValue } from '../storage.ts';

/**
 * What the Pay section keeps on the phone, in IndexedDB under `ims:` keys:
 * the enrolled device (the keystore holds the private keys wrapped under the
 * OPAQUE export key of the PIN, never in clear), the FSP's keys as pinned at
 * enrolment, and the history of payments. Never the customer's authenticator
 * (the second factor's otpauth secret): a phone that kept it would hold both
 * factors of a large payment; it is shown once at enrolment for an
 * authenticator app (authenticator.tsx) and then dropped.
 */

/** This phone's enrolment: who, at which bank, its keystore and the FSP it trusts. */
export interface StoredDevice {
  readonly partyId: string;
  readonly displayName: string;
  readonly bankId: string;
  readonly deviceId: string;
  /** The bank's serial of the device's key binding. */
  readonly serial: string;
  readonly enrolledAt: string;
  readonly keystore: WalletKeystoreData;
  /** The FSP's id and keys, fetched once at enrolment and pinned: later pages do not trust a new answer. */
  readonly fsp: FspTrust;
}

/** A payment as the history lists it. Amounts are minor units as a decimal string (JSON-able). */
export interface PaymentRecord {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly amountMinor: string;
  readonly currency: string;
  readonly description?: string | undefined;
  readonly procedure: string;
  readonly securityLevel: string;
  /**
   * completed: the FSP's receipt; declined: by the customer; refused: the
   * bank or the FSP said no; cancelled (by the merchant) or expired before
   * the customer answered, as the FSP's signed outcome said.
   */
  readonly status: 'completed' | 'declined' | 'refused' | 'cancelled' | 'expired';
  readonly at: string;
  /** The FSP's signed receipt (compact JWS), verified when it arrived. */
  readonly receiptJws?: string | undefined;
  readonly bankTransferId?: string | undefined;
  /** Why it was refused (a stable code). */
  readonly failureCode?: string | undefined;
}

/** Money a merchant gave back for a payment: the FSP's refund receipt, verified when it arrived. */
export type RefundRecord = RefundReceiptFields;

/** The history's record of a request this phone showed, as it ended. */
export function paymentRecordOf(
  view: PaymentRequestView,
  status: PaymentRecord['status'],
  extra: Partial<PaymentRecord> = {},
): PaymentRecord {
  return {
    paymentId: view.paymentId,
    merchantId: view.merchant.id,
    merchantName: view.merchant.name,
    amountMinor: view.amount.minor.toString(),
    currency: view.amount.currency,
    description: view.description,
    procedure: view.procedure,
    securityLevel: view.securityLevel,
    status,
    at: new Date().toISOString(),
    ...extra,
  };
}

const deviceKey = 'ims:device';
/** Where earlier versions of this page kept the authenticator's otpauth URI (a secret): read once, deleted. */
const legacyAuthenticatorKey = 'ims:authenticator';
const paymentPrefix = 'ims:payment:';
const refundPrefix = 'ims:refund:';
/** Payments the history keeps; the oldest go first. */
export const historyEntriesMax = 500;

export async function readDevice(): Promise<StoredDevice | undefined> {
  const device = await readValue<StoredDevice>(deviceKey);
  if (device === undefined) return undefined;
  // A damaged or outdated keystore is refused here, before any PIN is asked for.
  parseKeystore(device.keystore);
  return device;
}

export async function writeDevice(device: StoredDevice): Promise<void> {
  await writeValue(deviceKey, device);
}

/**
 * An authenticator an earlier version of this page stored, taken out of
 * IndexedDB: deleted before it is returned, for the page to show once (as at
 * enrolment) so that the customer can move it to an authenticator app.
 */
export async function takeLegacyAuthenticator(): Promise<string | undefined> {
  const stored = await readValue<unknown>(legacyAuthenticatorKey);
  if (stored === undefined) return undefined;
  await deleteValue(legacyAuthenticatorKey);
  return typeof stored === 'string' && stored.startsWith('otpauth://') ? stored : undefined;
}

/** Forgets this phone's wallet: the keystore and the history. */
export async function forgetDevice(): Promise<void> {
  for (const key of await keysWith('ims:')) await deleteValue(key);
}

export async function recordPayment(record: PaymentRecord): Promise<void> {
  await writeValue(`${paymentPrefix}${record.paymentId}`, record);
  const keys = await keysWith(paymentPrefix);
  if (keys.length <= historyEntriesMax) return;
  const oldest = (await listPayments()).slice(historyEntriesMax);
  for (const stale of oldest) await deleteValue(`${paymentPrefix}${stale.paymentId}`);
}

/** The kept payment, if this phone has it. */
export function readPayment(paymentId: string): Promise<PaymentRecord | undefined> {
  return readValue<PaymentRecord>(`${paymentPrefix}${paymentId}`);
}

/** Every value under a prefix, newest first by `at`. */
async function listNewestFirst<T extends { readonly at: string }>(prefix: string): Promise<T[]> {
  const keys = await keysWith(prefix);
  const records = await Promise.all(keys.map((key) => readValue<T>(key)));
  return records
    .filter((record): record is Awaited<T> & T => record !== undefined)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

/** Every kept payment, newest first. */
export function listPayments(): Promise<PaymentRecord[]> {
  return listNewestFirst<PaymentRecord>(paymentPrefix);
}

/**
 * Keeps a refund receipt, once: a refund already kept (the push and a later
 * look-up bring the same one) is not written again, so it keeps the time this
 * phone first had it. Bounded as the payments are.
 */
export async function recordRefund(record: RefundRecord): Promise<boolean> {
  const key = `${refundPrefix}${record.refundId}`;
  if ((await readValue<RefundRecord>(key)) !== undefined) return false;
  await writeValue(key, record);
  const refunds = await listRefunds();
  for (const stale of refunds.slice(historyEntriesMax)) await deleteValue(`${refundPrefix}${stale.refundId}`);
  return true;
}

/** The kept refunds (of one payment, when given), newest first. */
export async function listRefunds(paymentId?: string): Promise<RefundRecord[]> {
  const refunds = await listNewestFirst<RefundRecord>(refundPrefix);
  return paymentId === undefined ? refunds : refunds.filter((refund) => refund.paymentId === paymentId);
}
