import { MpayError } from '@mpay/protocol';
import { CONTENT_ENCRYPTION_ALGORITHM, DIRECT_ALGORITHM } from '../algorithms.ts';
import { decodeBase64url, encodeBase64url, encodeUtf8 } from '../encoding.ts';
import type { JweOperations, P256PublicMembers } from '../engine.ts';
import type { JweProtectedHeader } from './header.ts';

/**
 * Compact JWE (RFC 7516 §7.1) with ECDH-ES (RFC 7518 §4.6, the Concat KDF's
 * output the content key) or `dir`, and A256GCM (RFC 7518 §5.3), computed
 * with the node:crypto engine's own operations: the same tokens jose makes
 * and reads under WebCrypto (the tests cross them both ways, and the
 * Wycheproof vectors run through both). ECDH-ES+A256KW stays with jose.
 *
 * The header was checked by `readJweHeader` before a key is touched; here
 * every failure is a bare CRYPTO_DECRYPTION_FAILED.
 */

/** The algorithms computed here; others are jose's. */
export function computedHere(alg: JweProtectedHeader['alg']): boolean {
  return alg === 'ECDH-ES' || alg === DIRECT_ALGORITHM;
}

const ivLength = 12;
const tagLength = 16;
const keyLength = 32;

function fail(cause?: unknown): never {
  throw new MpayError('CRYPTO_DECRYPTION_FAILED', undefined, cause === undefined ? undefined : { cause });
}

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The content key of ECDH-ES in direct key agreement mode (RFC 7518 §4.6.2):
 * the Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, one round for 256
 * bits: SHA-256(counter 1 ‖ Z ‖ AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖
 * SuppPubInfo), AlgorithmID the `enc` value, no apu/apv (the header allows
 * none: empty, each a zero length), SuppPubInfo the key length in bits.
 */
function contentKeyOf(jwe: JweOperations, z: Uint8Array): Uint8Array {
  const algorithmId = encodeUtf8(CONTENT_ENCRYPTION_ALGORITHM);
  return jwe.sha256(
    concat([
      uint32(1),
      z,
      uint32(algorithmId.length),
      algorithmId,
      uint32(0),
      uint32(0),
      uint32(keyLength * 8),
    ]),
  );
}

export interface Sealed {
  readonly compact: string;
  /** ECDH-ES's shared secret (for an answer key); undefined for `dir`. */
  readonly z?: Uint8Array;
}

/** Seals `plaintext` under `header` to `key`: a recipient's public ECDH key (ECDH-ES), or a 32-byte key (`dir`). */
export function sealCompact(
  jwe: JweOperations,
  plaintext: Uint8Array,
  header: JweProtectedHeader,
  key: CryptoKey | Uint8Array,
): Sealed {
  let contentKey: Uint8Array;
  let z: Uint8Array | undefined;
  let written: Record<string, unknown> = { ...header };
  if (header.alg === 'ECDH-ES') {
    if (key instanceof Uint8Array) throw new MpayError('CRYPTO_KEY_INVALID');
    const agreed = jwe.ephemeralAgreement(key);
    z = agreed.z;
    contentKey = contentKeyOf(jwe, z);
    written = { ...header, epk: agreed.epk };
  } else if (header.alg === DIRECT_ALGORITHM && key instanceof Uint8Array && key.length === keyLength) {
    contentKey = key;
  } else {
    throw new MpayError('CRYPTO_KEY_INVALID');
  }
  const protectedHeader = encodeBase64url(encodeUtf8(JSON.stringify(written)));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(ivLength));
  const { ciphertext, tag } = jwe.aes256GcmSeal(plaintext, contentKey, iv, encodeUtf8(protectedHeader));
  const compact = `${protectedHeader}..${encodeBase64url(iv)}.${encodeBase64url(ciphertext)}.${encodeBase64url(tag)}`;
  return z === undefined ? { compact } : { compact, z };
}

/**
 * Opens a compact JWE whose header `readJweHeader` accepted, with our private
 * ECDH key (ECDH-ES) or a 32-byte key (`dir`). ECDH-ES and `dir` carry no
 * encrypted key: its segment must be empty. Returns the plaintext and, for
 * ECDH-ES, Z.
 */
export function openCompact(
  jwe: JweOperations,
  compact: string,
  header: JweProtectedHeader,
  key: CryptoKey | Uint8Array,
): { readonly plaintext: Uint8Array; readonly z?: Uint8Array } {
  const segments = compact.split('.');
  if (segments.length !== 5) fail();
  const [protectedHeader, encryptedKey, ivText, ciphertextText, tagText] = segments as [
    string,
    string,
    string,
    string,
    string,
  ];
  const iv = decodeBase64url(ivText);
  const ciphertext = decodeBase64url(ciphertextText);
  const tag = decodeBase64url(tagText);
  if (encryptedKey !== '' || iv?.length !== ivLength || tag?.length !== tagLength || ciphertext === undefined)
    fail();
  let contentKey: Uint8Array;
  let z: Uint8Array | undefined;
  try {
    if (header.alg === 'ECDH-ES') {
      const epk = (header as unknown as { epk?: Record<string, unknown> }).epk;
      // The coordinates' form (base64url of 32 bytes each) and the curve are the engine's checks (uncompressedP256Point).
      if (key instanceof Uint8Array || typeof epk?.x !== 'string' || typeof epk.y !== 'string') fail();
      z = jwe.agreement(key, { kty: 'EC', crv: 'P-256', x: epk.x, y: epk.y } satisfies P256PublicMembers);
      contentKey = contentKeyOf(jwe, z);
    } else if (header.alg === DIRECT_ALGORITHM && key instanceof Uint8Array && key.length === keyLength) {
      contentKey = key;
    } else {
      fail();
    }
    const plaintext = jwe.aes256GcmOpen(ciphertext, contentKey, iv, tag, encodeUtf8(protectedHeader));
    return z === undefined ? { plaintext } : { plaintext, z };
  } catch (cause) {
    // Whatever failed (a key of another kind included) says only that decryption failed, as jose's path does.
    if (cause instanceof MpayError && cause.code === 'CRYPTO_DECRYPTION_FAILED') throw cause;
    return fail(cause);
  }
}
