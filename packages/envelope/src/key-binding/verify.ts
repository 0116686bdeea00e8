import { MpayError } from '@mpay/protocol';
import { certifiableKey, isSeconds, isSerialNumber } from '../certificate/payload.ts';
import { parseCanonicalObject } from '../jws/verify.ts';
import { type VerificationKeyResolver, verifyCompactSignature } from '../jws/verify-compact.ts';
import type { PublicJwk } from '../keys/jwk.ts';
import { clockSkewSecondsLimit, isIdentifier, nowSeconds, resolveLimit } from '../limits.ts';
import { isAccountList, isDeviceId, KEY_BINDING_MEMBERS, KEY_BINDING_TYPE } from './payload.ts';

export interface KeyBinding {
  /** The bank that bound the keys. */
  readonly issuer: string;
  /** The customer's party id. */
  readonly subject: string;
  readonly serialNumber: string;
  readonly deviceId: string;
  /** The accounts the signing key may debit: sorted, unique. */
  readonly accounts: readonly string[];
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
  /** kid of the bank key that signed the binding. */
  readonly issuerKid: string;
}

export interface VerifyKeyBindingOptions {
  /** Required, so that no caller forgets revocation. Errors it throws propagate. */
  readonly isRevoked: (serialNumber: string) => boolean | Promise<boolean>;
  /** When set, the binding's `iss` must be exactly this bank. */
  readonly issuer?: string;
  /** Default 60, at most 300. */
  readonly clockSkewSeconds?: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
  readonly compactLengthMax?: number;
}

function invalid(cause?: unknown): never {
  throw new MpayError('KEY_BINDING_INVALID', undefined, cause === undefined ? undefined : { cause });
}

/**
 * Verifies a key binding against the bank's public keys (resolved by kid):
 * KEY_BINDING_INVALID for a bad signature, wrong typ, unknown bank key or a
 * malformed payload (a member added or missing, accounts not sorted and
 * unique, a key that is not its thumbprint); KEY_BINDING_EXPIRED outside
 * [nbf, exp) with clock skew; KEY_BINDING_REVOKED when
 * `isRevoked(serialNumber)` says so. Checks in that order, so that an
 * unsigned binding never reaches the revocation lookup.
 */
export async function verifyKeyBinding(
  binding: unknown,
  resolveBankKey: VerificationKeyResolver,
  options: VerifyKeyBindingOptions,
): Promise<KeyBinding> {
  const clockSkewSeconds = resolveLimit('clockSkewSeconds', options.clockSkewSeconds, clockSkewSecondsLimit);
  const verified = await verifyCompactSignature(binding, resolveBankKey, {
    typ: KEY_BINDING_TYPE,
    compactLengthMax: options.compactLengthMax,
  }).catch(invalid);
  const payload = parseCanonicalObject(verified.payloadBytes);
  if (payload === undefined || Object.keys(payload).sort().join() !== KEY_BINDING_MEMBERS.join()) invalid();
  const { iss, sub, iat, nbf, exp, serialNumber, deviceId, accounts } = payload;
  if (!isIdentifier(iss) || !isIdentifier(sub) || !isSerialNumber(serialNumber)) invalid();
  if (!isDeviceId(deviceId) || !isAccountList(accounts)) invalid();
  if (!isSeconds(iat) || !isSeconds(nbf) || !isSeconds(exp) || nbf >= exp) invalid();
  if (options.issuer !== undefined && iss !== options.issuer) invalid();
  const signingJwk = await certifiableKey(payload.signingJwk, 'sig').catch(invalid);
  const encryptionJwk = await certifiableKey(payload.encryptionJwk, 'enc').catch(invalid);

  const now = nowSeconds(options.now);
  if (now < nbf - clockSkewSeconds || now >= exp + clockSkewSeconds)
    throw new MpayError('KEY_BINDING_EXPIRED');
  if (await options.isRevoked(serialNumber)) throw new MpayError('KEY_BINDING_REVOKED');
  return Object.freeze({
    issuer: iss,
    subject: sub,
    serialNumber,
    deviceId,
    accounts: Object.freeze([...accounts]),
    issuedAt: iat,
    notBefore: nbf,
    notAfter: exp,
    signingJwk,
    encryptionJwk,
    issuerKid: verified.header.kid,
  });
}
