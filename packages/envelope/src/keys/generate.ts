import { exportJWK, generateKeyPair } from 'jose';
import {
  KEY_AGREEMENT_ALGORITHM_DEFAULT,
  type KeyAgreementAlgorithm,
  keyTypeForAlgorithm,
  SIGNING_ALGORITHM_DEFAULT,
  type SigningAlgorithm,
} from '../algorithms.ts';
import { jwkThumbprint } from './import.ts';
import { type PrivateJwk, type PublicJwk, parsePrivateJwk, publicPart } from './jwk.ts';

export interface GeneratedKeyPair {
  /** Secret: store encrypted at rest, never log. */
  readonly privateJwk: PrivateJwk;
  readonly publicJwk: PublicJwk;
  /** RFC 7638 thumbprint of the public key; also the `kid` of both JWKs. */
  readonly kid: string;
}

/** A fresh signing key pair: ES256 (P-256) by default, or EdDSA (Ed25519). */
export async function generateSigningKeyPair(
  alg: SigningAlgorithm = SIGNING_ALGORITHM_DEFAULT,
): Promise<GeneratedKeyPair> {
  return generate(alg);
}

/** A fresh P-256 key pair for JWE key agreement (ECDH-ES by default). */
export async function generateEncryptionKeyPair(
  alg: KeyAgreementAlgorithm = KEY_AGREEMENT_ALGORITHM_DEFAULT,
): Promise<GeneratedKeyPair> {
  return generate(alg);
}

async function generate(alg: SigningAlgorithm | KeyAgreementAlgorithm): Promise<GeneratedKeyPair> {
  const expected = keyTypeForAlgorithm[alg];
  const { privateKey } = await generateKeyPair(alg, { crv: expected.crv, extractable: true });
  const exported = await exportJWK(privateKey);
  const withoutKid = parsePrivateJwk({ ...exported, alg, use: expected.use });
  const kid = await jwkThumbprint(withoutKid);
  const privateJwk: PrivateJwk = Object.freeze({ ...withoutKid, kid });
  return Object.freeze({ privateJwk, publicJwk: Object.freeze(publicPart(privateJwk)), kid });
}
