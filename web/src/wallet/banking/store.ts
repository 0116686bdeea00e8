import type { PublicJwk, PublicJwkSet } from '@mpay/envelope';
import { type BankingKeyState, type BankingKeyStore, importBankingPrivateKeys } from '@mpay/sdk';
import { deleteValue, keysWith, readValue, writeValue } from '../storage.ts';
import type { OpenOrder, OrderKind } from './order-draft.ts';

/**
 * What the banking section keeps on the phone, in the wallet's IndexedDB
 * under the `banking:` prefix:
 * - `banking:keys`: the SDK's key state (KMM), its private keys only as
 *   non-extractable CryptoKeys (`importBankingPrivateKeys` before every
 *   write): IndexedDB stores them without exporting them, and no script,
 *   this page's included, can read them back;
 * - `banking:device`: the bank as pinned at enrolment, the phone number the
 *   customer gave, and whether the password is registered;
 * - `banking:signing-keys`: the public signing keys this phone has held
 *   (the current one and those renewed), to recognise its own signed
 *   requests in the log's receipts;
 * - `banking:billers`: the billers paid before (id and the name the bank gave);
 * - `banking:open-order:<kind>`: the transfer (bill payment) sent whose
 *   outcome is not known yet, with its request id: its next try, after a
 *   reload or a new login too, goes with the same id (order-draft.ts).
 * The session key is never stored: a reload logs in again.
 */

const keysKey = 'banking:keys';
const deviceKey = 'banking:device';
const signingKeysKey = 'banking:signing-keys';
const billersKey = 'banking:billers';
const signingKeysMax = 16;
const billersMax = 20;

/** The bank as the app pinned it at enrolment (its GET /bank): its signatures are checked under these keys. */
export interface PinnedBankKeys {
  readonly id: string;
  readonly keys: PublicJwkSet;
  readonly encryptionJwk: PublicJwk;
}

export interface BankingDeviceRecord {
  readonly bank: PinnedBankKeys;
  readonly partyId: string;
  /** The phone number the customer gave (a page cannot read the SIM's): the login's "phone number" factor. */
  readonly msisdn: string;
  readonly deviceId: string;
  readonly passwordRegistered: boolean;
}

export interface KnownBiller {
  readonly id: string;
  readonly name: string;
}

/** The KMM's store in IndexedDB: private keys kept only as non-extractable CryptoKeys. */
export class IndexedDbBankingKeyStore implements BankingKeyStore {
  async load(): Promise<BankingKeyState | undefined> {
    return readValue<BankingKeyState>(keysKey);
  }

  async save(state: BankingKeyState): Promise<void> {
    const held = await importBankingPrivateKeys(state);
    await rememberSigningKey(held.current.signing.publicJwk);
    await writeValue(keysKey, held);
  }
}

async function rememberSigningKey(key: PublicJwk): Promise<void> {
  const known = (await readValue<PublicJwk[]>(signingKeysKey)) ?? [];
  if (known.some((each) => each.x === key.x && each.y === key.y)) return;
  await writeValue(signingKeysKey, [key, ...known].slice(0, signingKeysMax));
}

export async function signingKeysHeld(): Promise<readonly PublicJwk[]> {
  return (await readValue<PublicJwk[]>(signingKeysKey)) ?? [];
}

export function readDevice(): Promise<BankingDeviceRecord | undefined> {
  return readValue<BankingDeviceRecord>(deviceKey);
}

export function writeDevice(device: BankingDeviceRecord): Promise<void> {
  return writeValue(deviceKey, device);
}

export async function knownBillers(): Promise<readonly KnownBiller[]> {
  return (await readValue<KnownBiller[]>(billersKey)) ?? [];
}

export async function rememberBiller(biller: KnownBiller): Promise<readonly KnownBiller[]> {
  const others = (await knownBillers()).filter((each) => each.id !== biller.id);
  const next = [biller, ...others].slice(0, billersMax);
  await writeValue(billersKey, next);
  return next;
}

const openOrderPrefix = 'banking:open-order:';

export function readOpenOrder<D extends OpenOrder['draft']>(
  kind: D['kind'],
): Promise<OpenOrder<D> | undefined> {
  return readValue<OpenOrder<D>>(`${openOrderPrefix}${kind}`);
}

/** Kept before each try is sent: a page closed while it was under way sends the same order next time. */
export function writeOpenOrder(order: OpenOrder): Promise<void> {
  return writeValue(`${openOrderPrefix}${order.draft.kind}`, order);
}

/** The order's outcome is known (carried out, or refused: nothing moved): the next one is a new order. */
export function forgetOpenOrder(kind: OrderKind): Promise<void> {
  return deleteValue(`${openOrderPrefix}${kind}`);
}

/** Forgets everything banking on this phone (its keys included): it must enrol again. */
export async function forgetBanking(): Promise<void> {
  for (const key of await keysWith('banking:')) await deleteValue(key);
}
