import { MpayError } from '@mpay/protocol';
import { parseCanonicalObject } from '../jws/verify.ts';
import { type VerificationKeyResolver, verifyCompactSignature } from '../jws/verify-compact.ts';
import type { PublicJwk } from '../keys/jwk.ts';
import { clockSkewSecondsLimit, isIdentifier, nowSeconds, resolveLimit } from '../limits.ts';
import {
  CERTIFICATE_TYPE,
  certifiableKey,
  hasCertificateMembers,
  isCertifiedName,
  isSeconds,
  isSerialNumber,
} from './payload.ts';

export interface KeyCertificate {
  readonly issuer: string;
  readonly subject: string;
  /**
   * The subject's display name, certified by the FSP (`isCertifiedName`);
   * undefined for a certificate that names none (issued before names were
   * certified). Only this name may be shown as the subject's.
   */
  readonly name?: string;
  readonly serialNumber: string;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
  /** kid of the FSP key that signed the certificate. */
  readonly issuerKid: string;
}

export interface VerifyCertificateOptions {
  /** Required, so that no caller forgets revocation. Errors it throws propagate. */
  readonly isRevoked: (serialNumber: string) => boolean | Promise<boolean>;
  /** When set, the certificate's `iss` must be exactly this. */
  readonly issuer?: string;
  /** Default 60, at most 300. */
  readonly clockSkewSeconds?: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
  readonly compactLengthMax?: number;
}

function invalid(cause?: unknown): never {
  throw new MpayError('CERTIFICATE_INVALID', undefined, cause === undefined ? undefined : { cause });
}

/**
 * Verifies a key certificate against the FSP's public keys (resolved by kid):
 * CERTIFICATE_INVALID for a bad signature, wrong typ, unknown FSP key or a
 * malformed payload (a `name` that is not a certifiable display name
 * included); CERTIFICATE_EXPIRED outside [nbf, exp] (with clock skew);
 * CERTIFICATE_REVOKED when `isRevoked(serialNumber)` says so.
 */
export async function verifyKeyCertificate(
  certificate: unknown,
  resolveFspKey: VerificationKeyResolver,
  options: VerifyCertificateOptions,
): Promise<KeyCertificate> {
  const clockSkewSeconds = resolveLimit('clockSkewSeconds', options.clockSkewSeconds, clockSkewSecondsLimit);
  const verified = await verifyCompactSignature(certificate, resolveFspKey, {
    typ: CERTIFICATE_TYPE,
    compactLengthMax: options.compactLengthMax,
  }).catch(invalid);
  const payload = parseCanonicalObject(verified.payloadBytes);
  if (payload === undefined || !hasCertificateMembers(payload)) invalid();
  const { iss, sub, iat, nbf, exp, serialNumber, name } = payload;
  if (!isIdentifier(iss) || !isIdentifier(sub) || !isSerialNumber(serialNumber)) invalid();
  if (name !== undefined && !isCertifiedName(name)) invalid();
  if (!isSeconds(iat) || !isSeconds(nbf) || !isSeconds(exp) || nbf >= exp) invalid();
  if (options.issuer !== undefined && iss !== options.issuer) invalid();
  const signingJwk = await certifiableKey(payload.signingJwk, 'sig').catch(invalid);
  const encryptionJwk = await certifiableKey(payload.encryptionJwk, 'enc').catch(invalid);

  const now = nowSeconds(options.now);
  if (now < nbf - clockSkewSeconds || now >= exp + clockSkewSeconds)
    throw new MpayError('CERTIFICATE_EXPIRED');
  if (await options.isRevoked(serialNumber)) throw new MpayError('CERTIFICATE_REVOKED');
  return Object.freeze({
    issuer: iss,
    subject: sub,
    ...(name === undefined ? {} : { name }),
    serialNumber,
    issuedAt: iat,
    notBefore: nbf,
    notAfter: exp,
    signingJwk,
    encryptionJwk,
    issuerKid: verified.header.kid,
  });
}
