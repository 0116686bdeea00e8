import { assert, MpayError } from '@mpay/protocol';
import { CompactEncrypt } from 'jose';
import { CONTENT_ENCRYPTION_ALGORITHM, DIRECT_ALGORITHM, SESSION_KEY_LENGTH_BYTES } from '../algorithms.ts';
import { encodeUtf8 } from '../encoding.ts';
import { cryptoEngine } from '../engine.ts';
import { isMediaType } from '../jws/header.ts';
import { importPublicKey } from '../keys/import.ts';
import type { PublicJwk } from '../keys/jwk.ts';
import { isIdentifier } from '../limits.ts';
import { computedHere, sealCompact } from './compact.ts';
import type { JweProtectedHeader } from './header.ts';

export interface EncryptOptions {
  /** JWE `cty`, the media type of the plaintext, e.g. 'mpay+jws' for a signed message. */
  readonly contentType?: string;
}

export interface EncryptDirectOptions extends EncryptOptions {
  /** Identifies the session key to the recipient (JWE `kid`). */
  readonly kid?: string;
}

/**
 * Encrypts to a party's P-256 public key: the key's own algorithm (ECDH-ES or
 * ECDH-ES+A256KW), A256GCM, and the key's kid in the protected header so the
 * recipient knows which of its keys to use.
 */
export async function encryptTo(
  plaintext: Uint8Array | string,
  recipientPublicJwk: PublicJwk,
  options: EncryptOptions = {},
): Promise<string> {
  const { cryptoKey, header } = await recipientOf(recipientPublicJwk, options.contentType);
  return seal(plaintext, header, cryptoKey);
}

/** A party's P-256 encryption key, imported (refused unless `use` is enc), and the protected header for it. */
export async function recipientOf(
  recipientPublicJwk: PublicJwk,
  contentType: string | undefined,
): Promise<{ readonly cryptoKey: CryptoKey; readonly header: JweProtectedHeader }> {
  const recipient = await importPublicKey(recipientPublicJwk);
  if (recipient.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return {
    cryptoKey: recipient.cryptoKey,
    header: buildHeader({ alg: recipient.alg, kid: recipient.kid }, contentType),
  };
}

/** Encrypts with a shared 256-bit session key: `dir` and A256GCM. */
export async function encryptDirect(
  plaintext: Uint8Array | string,
  sessionKey: Uint8Array,
  options: EncryptDirectOptions = {},
): Promise<string> {
  requireSessionKey(sessionKey);
  assert(options.kid === undefined || isIdentifier(options.kid), 'kid must be an identifier');
  const header = buildHeader({ alg: DIRECT_ALGORITHM, kid: options.kid }, options.contentType);
  return seal(plaintext, header, sessionKey);
}

export function requireSessionKey(sessionKey: unknown): asserts sessionKey is Uint8Array {
  if (!(sessionKey instanceof Uint8Array) || sessionKey.length !== SESSION_KEY_LENGTH_BYTES) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'session key');
  }
}

/** The protected header of every JWE made here: alg, A256GCM, the key's kid, the plaintext's media type. */
function buildHeader(
  key: { alg: JweProtectedHeader['alg']; kid: string | undefined },
  contentType: string | undefined,
): JweProtectedHeader {
  assert(contentType === undefined || isMediaType(contentType), 'contentType must be a media type');
  return {
    alg: key.alg,
    enc: CONTENT_ENCRYPTION_ALGORITHM,
    ...(key.kid === undefined ? {} : { kid: key.kid }),
    ...(contentType === undefined ? {} : { cty: contentType }),
  };
}

async function seal(
  plaintext: Uint8Array | string,
  header: JweProtectedHeader,
  key: CryptoKey | Uint8Array,
): Promise<string> {
  const bytes = typeof plaintext === 'string' ? encodeUtf8(plaintext) : plaintext;
  const own = cryptoEngine().jwe;
  if (own !== undefined && computedHere(header.alg)) return sealCompact(own, bytes, header, key).compact;
  return new CompactEncrypt(bytes).setProtectedHeader({ ...header }).encrypt(key);
}
