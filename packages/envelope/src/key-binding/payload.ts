import type { PublicJwk } from '../keys/jwk.ts';

/** JWS `typ` of a key binding; neither a message verifier nor a certificate verifier accepts one. */
export const KEY_BINDING_TYPE = 'mpay-key-binding+jws';

/**
 * The signed members of a key binding, and no others: the bank (`iss`) binds a
 * customer's device keys to the customer's party id (`sub`), one device and
 * the accounts that key may debit (SA2pMP §4.3: ID_C = SIM + phone id +
 * account id; the public key depository at the bank).
 */
export interface KeyBindingPayload {
  /** The bank that keeps the account, e.g. 'xbank'. */
  readonly iss: string;
  /** The customer's party id, e.g. 'john.bernard@person.xbank'. */
  readonly sub: string;
  /** Issued at, not before, expires at: seconds since the epoch. */
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly serialNumber: string;
  readonly deviceId: string;
  /** Account ids (canonical lower-case UUIDs), sorted, unique. */
  readonly accounts: readonly string[];
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
}

export const KEY_BINDING_MEMBERS: readonly string[] = [
  'accounts',
  'deviceId',
  'encryptionJwk',
  'exp',
  'iat',
  'iss',
  'nbf',
  'serialNumber',
  'signingJwk',
  'sub',
];

/** Most accounts one binding names: a customer's key is for a few accounts, not a whole bank. */
export const KEY_BINDING_ACCOUNTS_MAX = 8;

const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const accountIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && deviceIdPattern.test(value);
}

export function isAccountId(value: unknown): value is string {
  return typeof value === 'string' && accountIdPattern.test(value);
}

/**
 * 1 to KEY_BINDING_ACCOUNTS_MAX account ids in strictly ascending order (so
 * sorted and unique: one binding has exactly one spelling).
 */
export function isAccountList(value: unknown): value is readonly string[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > KEY_BINDING_ACCOUNTS_MAX) return false;
  return value.every(
    (account, index) => isAccountId(account) && (index === 0 || (value[index - 1] as string) < account),
  );
}
