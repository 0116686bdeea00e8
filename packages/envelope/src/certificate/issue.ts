import { assert, MpayError } from '@mpay/protocol';
import { type SigningKey, signCanonical } from '../jws/sign.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';
import { isIdentifier, nowSeconds } from '../limits.ts';
import {
  CERTIFICATE_TYPE,
  certifiableKey,
  isCertifiedName,
  isSeconds,
  isSerialNumber,
  type KeyCertificatePayload,
} from './payload.ts';

export interface KeyCertificateRequest {
  /** The FSP's party id. */
  readonly issuer: string;
  /** The party whose keys are certified. */
  readonly subject: string;
  /**
   * The subject's display name as the FSP registered it, certified so that a
   * wallet can show it as the payee (`isCertifiedName`: REQUEST_INVALID
   * otherwise). Without it the certificate names no one but `subject`.
   */
  readonly name?: string | undefined;
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
 * A name that is not a certifiable display name is REQUEST_INVALID: it comes
 * from whoever registered the party, not from the program.
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
  if (request.name !== undefined && !isCertifiedName(request.name))
    throw new MpayError('REQUEST_INVALID', 'name');
  const payload: KeyCertificatePayload = {
    iss: request.issuer,
    sub: request.subject,
    iat: nowSeconds(request.now),
    nbf: request.notBefore,
    exp: request.notAfter,
    serialNumber: request.serialNumber,
    signingJwk: await certifiableKey(request.signingJwk, 'sig'),
    encryptionJwk: await certifiableKey(request.encryptionJwk, 'enc'),
    ...(request.name === undefined ? {} : { name: request.name }),
  };
  return signCanonical({ ...payload }, fspPrivateKey, CERTIFICATE_TYPE);
}
