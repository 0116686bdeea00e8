import { assert } from '@mpay/protocol';
import { type SigningKey, signCanonical } from '../jws/sign.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';
import { isIdentifier, nowSeconds } from '../limits.ts';
import {
  CERTIFICATE_TYPE,
  certifiableKey,
  isSeconds,
  isSerialNumber,
  type KeyCertificatePayload,
} from './payload.ts';

export interface KeyCertificateRequest {
  /** The FSP's party id. */
  readonly issuer: string;
  /** The party whose keys are certified. */
  readonly subject: string;
  readonly signingJwk: PublicJwk;
  readonly encryptionJwk: PublicJwk;
  /** Validity period, seconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Unique per issuer; what revocation lists name. */
  readonly serialNumber: string;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
}

/**
 * Issues a key certificate: the FSP's compact JWS (typ
 * 'mpay-key-certificate+jws') over the canonical certificate payload. The
 * certified keys must be public, allow-listed, valid, and carry their
 * thumbprint as kid (CRYPTO_KEY_INVALID / CRYPTO_ALGORITHM_REJECTED otherwise).
 */
export async function issueKeyCertificate(
  request: KeyCertificateRequest,
  fspPrivateKey: PrivateJwk | SigningKey,
): Promise<string> {
  assert(isIdentifier(request.issuer), 'issuer must be an identifier');
  assert(isIdentifier(request.subject), 'subject must be an identifier');
  assert(isSerialNumber(request.serialNumber), 'serialNumber must be 1-64 base64url characters');
  assert(isSeconds(request.notBefore) && isSeconds(request.notAfter), 'validity must be whole seconds');
  assert(request.notBefore < request.notAfter, 'notBefore must be before notAfter');
  const payload: KeyCertificatePayload = {
    iss: request.issuer,
    sub: request.subject,
    iat: nowSeconds(request.now),
    nbf: request.notBefore,
    exp: request.notAfter,
    serialNumber: request.serialNumber,
    signingJwk: await certifiableKey(request.signingJwk, 'sig'),
    encryptionJwk: await certifiableKey(request.encryptionJwk, 'enc'),
  };
  return signCanonical({ ...payload }, fspPrivateKey, CERTIFICATE_TYPE);
}
