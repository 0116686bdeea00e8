import { assert } from '@mpay/protocol';
import { certifiableKey, isSeconds, isSerialNumber } from '../certificate/payload.ts';
import { type SigningKey, signCanonical } from '../jws/sign.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';
import { isIdentifier, nowSeconds } from '../limits.ts';
import { isAccountList, isDeviceId, KEY_BINDING_TYPE, type KeyBindingPayload } from './payload.ts';

export interface KeyBindingRequest {
  /** The bank's id. */
  readonly issuer: string;
  /** The customer's party id. */
  readonly subject: string;
  readonly deviceId: string;
  /** The accounts the key may debit: 1–8 account ids, in any order, unique. */
  readonly accounts: readonly string[];
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
  /** Validity period, seconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Unique per bank; what revocation names. */
  readonly serialNumber: string;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
}

/**
 * Issues a key binding: the bank's compact JWS (typ 'mpay-key-binding+jws')
 * over the canonical binding payload, accounts sorted. The bound keys must be
 * public, allow-listed, valid, and carry their thumbprint as kid
 * (CRYPTO_KEY_INVALID / CRYPTO_ALGORITHM_REJECTED otherwise); anything else
 * malformed in the request is a programmer error.
 */
export async function issueKeyBinding(
  request: KeyBindingRequest,
  bankPrivateKey: PrivateJwk | SigningKey,
): Promise<string> {
  assert(isIdentifier(request.issuer), 'issuer must be an identifier');
  assert(isIdentifier(request.subject), 'subject must be an identifier');
  assert(isDeviceId(request.deviceId), 'deviceId must be 1-64 base64url characters');
  assert(isSerialNumber(request.serialNumber), 'serialNumber must be 1-64 base64url characters');
  assert(isSeconds(request.notBefore) && isSeconds(request.notAfter), 'validity must be whole seconds');
  assert(request.notBefore < request.notAfter, 'notBefore must be before notAfter');
  const accounts = [...request.accounts].sort();
  assert(isAccountList(accounts), 'accounts must be 1-8 distinct lower-case UUIDs');
  const payload: KeyBindingPayload = {
    iss: request.issuer,
    sub: request.subject,
    iat: nowSeconds(request.now),
    nbf: request.notBefore,
    exp: request.notAfter,
    serialNumber: request.serialNumber,
    deviceId: request.deviceId,
    accounts,
    signingJwk: await certifiableKey(request.signingJwk, 'sig'),
    encryptionJwk: await certifiableKey(request.encryptionJwk, 'enc'),
  };
  return signCanonical({ ...payload }, bankPrivateKey, KEY_BINDING_TYPE);
}
