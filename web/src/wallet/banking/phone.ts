import { isMpayError, luhnCheckDigit } from '@mpay/protocol';
import { BankingClient, BankingKeyManager, type BankingKeyState } from '@mpay/sdk';
import { apiUrl, type WebConfig } from '../../config.ts';
import { type BankingDeviceRecord, IndexedDbBankingKeyStore, readDevice } from './store.ts';

/**
 * The phone as the banking section sees it: the SDK's Key Management Module
 * over the IndexedDB store, and the Business Logic Module (BankingClient)
 * talking to the customer's bank through the platform's /api/<bank> path,
 * exactly as Node code uses them. The bank is the one pinned at enrolment.
 */
export interface BankingPhone {
  readonly config: WebConfig;
  readonly device: BankingDeviceRecord;
  readonly keys: BankingKeyManager;
  readonly client: BankingClient;
}

export function bankUrlOf(config: WebConfig, bankId: string): string {
  return apiUrl(config, bankId);
}

export function phoneOf(config: WebConfig, device: BankingDeviceRecord): BankingPhone {
  const keys = new BankingKeyManager(new IndexedDbBankingKeyStore());
  const client = new BankingClient({
    bankUrl: bankUrlOf(config, device.bank.id),
    keys,
    bank: { id: device.bank.id, keys: device.bank.keys, encryptionJwk: device.bank.encryptionJwk },
  });
  return { config, device, keys, client };
}

/** Where the phone is: not enrolled, enrolled but not registered for banking, or ready to log in. */
export type PhoneStage =
  | { readonly stage: 'new' }
  | { readonly stage: 'registering'; readonly phone: BankingPhone; readonly state: BankingKeyState }
  | { readonly stage: 'ready'; readonly phone: BankingPhone; readonly state: BankingKeyState };

export async function readPhoneStage(config: WebConfig): Promise<PhoneStage> {
  const [state, device] = await Promise.all([new IndexedDbBankingKeyStore().load(), readDevice()]);
  if (state === undefined || device === undefined || device.bank.id !== state.bankId) return { stage: 'new' };
  const phone = phoneOf(config, device);
  if (state.registration === undefined || !device.passwordRegistered)
    return { stage: 'registering', phone, state };
  return { stage: 'ready', phone, state };
}

/**
 * A renewal whose answer never reached this phone (the page closed, the
 * connection dropped): the bank issued the new binding under the notice's id,
 * so the SDK finds it (`recoverRenewal`) and adopts it when it names the keys
 * this phone made. The new state, or undefined when there was nothing to recover.
 */
export async function recoverPendingRenewal(phone: BankingPhone): Promise<BankingKeyState | undefined> {
  const state = await phone.keys.state();
  if (state.pending === undefined) return undefined;
  return phone.client.recoverRenewal(state.pending.noticeId);
}

/** The session ended at the bank or here (expired, idle, renewed, revoked): the customer logs in again. */
export function sessionEnded(phone: BankingPhone, error: unknown): boolean {
  return isMpayError(error, 'BANKING_SESSION_INVALID') || phone.client.session() === undefined;
}

// ─── ID_C's parts as a page can have them ───────────────────────────────────

function randomDigits(count: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(count));
  return [...bytes].map((byte) => String(byte % 10)).join('');
}

/**
 * Made-up but well-formed identifiers for a browser that has no SIM or IMEI
 * to read (the CLI makes them up the same way): an ICCID ("89", 17 digits,
 * Luhn: 20 digits) and an IMEI (TAC "35", 12 digits, Luhn: 15 digits).
 */
export function madeUpSim(): string {
  const body = `89${randomDigits(17)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

export function madeUpImei(): string {
  const body = `35${randomDigits(12)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

/** This browser's device id at the bank's key depository: `web-<8 hex>`. */
export function newDeviceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `web-${[...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** The last four digits, the rest hidden: how the page shows a SIM or IMEI number. */
export function lastFour(digits: string): string {
  return `•••• ${digits.slice(-4)}`;
}
