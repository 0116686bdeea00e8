import { assert, canonicalBytes, MpayError } from '@mpay/protocol';
import { isSigningAlgorithm, type SigningAlgorithm } from '../algorithms.ts';
import { CLAIM_NAMES, type ClaimsInput, issueClaims } from '../claims.ts';
import { encodeBase64url, isPlainRecord } from '../encoding.ts';
import { cryptoEngine } from '../engine.ts';
import { importPrivateKey } from '../keys/import.ts';
import type { PrivateJwk } from '../keys/jwk.ts';
import { isIdentifier } from '../limits.ts';
import { isMediaType, type JwsProtectedHeader, MESSAGE_TYPE } from './header.ts';

/** An already imported private signing key, e.g. a non-extractable WebCrypto key. */
export interface SigningKey {
  readonly cryptoKey: CryptoKey;
  readonly kid: string;
  readonly alg: SigningAlgorithm;
}

/**
 * A signing key that never leaves its holder (an HSM through PKCS#11): it is
 * handed the JWS signing input and returns the signature in JWS form (for
 * ES256 the 64-byte r‖s of ECDSA P-256 over SHA-256 of the input).
 */
export interface ExternalSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly sign: (signingInput: Uint8Array) => Promise<Uint8Array>;
}

export interface SignOptions {
  /** JWS `typ`; default 'mpay+jws'. */
  readonly typ?: string;
}

/**
 * Signs `payload` plus fresh claims as a compact JWS whose payload bytes are
 * exactly the RFC 8785 canonical form of `{...payload, iss, aud, txn, iat, exp,
 * nonce}`. A payload that already uses a claim name is refused (CLAIMS_INVALID)
 * rather than silently overwritten.
 */
export async function signPayload(
  payload: Readonly<Record<string, unknown>>,
  claims: ClaimsInput,
  privateKey: PrivateJwk | SigningKey | ExternalSigningKey,
  options: SignOptions = {},
): Promise<string> {
  if (!isPlainRecord(payload)) throw new MpayError('CANONICALIZATION_FAILED', 'payload');
  for (const name of CLAIM_NAMES) {
    if (Object.hasOwn(payload, name)) throw new MpayError('CLAIMS_INVALID', name);
  }
  return signCanonical({ ...payload, ...issueClaims(claims) }, privateKey, options.typ ?? MESSAGE_TYPE);
}

/** Signs the canonical bytes of `content` with header {alg, kid, typ}. */
export async function signCanonical(
  content: Readonly<Record<string, unknown>>,
  privateKey: PrivateJwk | SigningKey | ExternalSigningKey,
  typ: string,
): Promise<string> {
  assert(isMediaType(typ), 'typ must be a media type');
  if ('sign' in privateKey) return signExternally(content, privateKey, typ);
  const key = await resolveSigningKey(privateKey);
  return signWith(
    content,
    { kid: key.kid, alg: key.alg, sign: (input) => cryptoEngine().sign(key.alg, key.cryptoKey, input) },
    typ,
  );
}

async function resolveSigningKey(privateKey: PrivateJwk | SigningKey): Promise<SigningKey> {
  if ('cryptoKey' in privateKey) {
    if (!isSigningAlgorithm(privateKey.alg)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
    if (!isIdentifier(privateKey.kid)) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
    if (privateKey.cryptoKey.type !== 'private') throw new MpayError('CRYPTO_KEY_INVALID');
    return privateKey;
  }
  const imported = await importPrivateKey(privateKey);
  if (imported.use !== 'sig') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return imported;
}

const textEncoder = new TextEncoder();

/** A key held elsewhere (an HSM): its kid and alg checked as an imported key's are. */
function signExternally(
  content: Readonly<Record<string, unknown>>,
  key: ExternalSigningKey,
  typ: string,
): Promise<string> {
  if (!isSigningAlgorithm(key.alg)) throw new MpayError('CRYPTO_ALGORITHM_REJECTED', 'alg');
  if (!isIdentifier(key.kid)) throw new MpayError('CRYPTO_KEY_INVALID', 'kid');
  return signWith(content, key, typ);
}

/**
 * The compact JWS (RFC 7515 §7.1) of the canonical bytes of `content` under the header
 * {alg, kid, typ}, its members in sorted order so that the header is canonical JSON as
 * verification requires. The signature is `key.sign`'s over the ASCII signing input.
 */
async function signWith(
  content: Readonly<Record<string, unknown>>,
  key: ExternalSigningKey,
  typ: string,
): Promise<string> {
  const header: JwsProtectedHeader = { alg: key.alg, kid: key.kid, typ };
  const signingInput = `${encodeBase64url(canonicalBytes(header))}.${encodeBase64url(canonicalBytes(content))}`;
  let signature: Uint8Array;
  try {
    signature = await key.sign(textEncoder.encode(signingInput));
  } catch (cause) {
    if (cause instanceof MpayError) throw cause;
    throw new MpayError('CRYPTO_KEY_INVALID', undefined, { cause });
  }
  return `${signingInput}.${encodeBase64url(signature)}`;
}
