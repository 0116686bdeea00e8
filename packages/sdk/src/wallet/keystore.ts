import { decodeBase64url, encodeBase64url, type PrivateJwk, type PublicJwk } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';

/** Strict base64url into a fresh ArrayBuffer-backed array, as WebCrypto's types want. */
function bytesOf(text: string): Uint8Array<ArrayBuffer> | undefined {
  const bytes = decodeBase64url(text);
  return bytes === undefined ? undefined : Uint8Array.from(bytes);
}

/**
 * The device's keys. The signing key is wrapped (AES-256-GCM) under a key
 * derived from the PIN with PBKDF2-SHA-256, so a payment can only be signed
 * after the PIN is entered; the encryption key stays usable without the PIN so
 * the wallet can show who asks for how much before asking for it.
 */
export interface WalletKeystoreData {
  version: 1;
  partyId: string;
  kdf: { name: 'PBKDF2'; hash: 'SHA-256'; iterations: number; salt: string };
  wrappedSigningKey: { iv: string; ciphertext: string };
  signingPublicJwk: PublicJwk;
  encryptionPrivateJwk: PrivateJwk;
  failedAttempts: number;
  attemptsMax: number;
  /** The customer's bank's signed binding of these keys, once the device is enrolled. */
  binding?: string;
}

export const pinPattern = /^[0-9]{4,12}$/;
export const pbkdf2IterationsMin = 100_000;
export const pbkdf2IterationsDefault = 310_000;
export const pinAttemptsMaxDefault = 3;

async function deriveWrappingKey(
  pin: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(pin), 'PBKDF2', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

function requirePin(pin: string): void {
  if (!pinPattern.test(pin)) throw new MpayError('WALLET_PIN_INVALID');
}

export async function createKeystore(
  partyId: string,
  pin: string,
  keys: { signing: { privateJwk: PrivateJwk; publicJwk: PublicJwk }; encryption: { privateJwk: PrivateJwk } },
  options: { iterations?: number; attemptsMax?: number } = {},
): Promise<WalletKeystoreData> {
  requirePin(pin);
  const iterations = options.iterations ?? pbkdf2IterationsDefault;
  if (!Number.isSafeInteger(iterations) || iterations < pbkdf2IterationsMin)
    throw new Error('assertion failed: iterations');
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const wrappingKey = await deriveWrappingKey(pin, salt, iterations);
  const plaintext = new TextEncoder().encode(JSON.stringify(keys.signing.privateJwk));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(partyId) },
      wrappingKey,
      plaintext,
    ),
  );
  return {
    version: 1,
    partyId,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: encodeBase64url(salt) },
    wrappedSigningKey: { iv: encodeBase64url(iv), ciphertext: encodeBase64url(ciphertext) },
    signingPublicJwk: keys.signing.publicJwk,
    encryptionPrivateJwk: keys.encryption.privateJwk,
    failedAttempts: 0,
    attemptsMax: options.attemptsMax ?? pinAttemptsMaxDefault,
  };
}

/**
 * Unwraps the signing key with the PIN. A wrong PIN counts against
 * `attemptsMax` (the caller persists `keystore.failedAttempts`); when they are
 * used up the wallet is locked for good and must be enrolled again.
 */
export async function unlockSigningKey(keystore: WalletKeystoreData, pin: string): Promise<PrivateJwk> {
  if (keystore.failedAttempts >= keystore.attemptsMax) throw new MpayError('WALLET_LOCKED');
  const salt = bytesOf(keystore.kdf.salt);
  const iv = bytesOf(keystore.wrappedSigningKey.iv);
  const ciphertext = bytesOf(keystore.wrappedSigningKey.ciphertext);
  if (salt === undefined || iv === undefined || ciphertext === undefined)
    throw new MpayError('CRYPTO_KEY_INVALID');
  try {
    requirePin(pin);
    const wrappingKey = await deriveWrappingKey(pin, salt, keystore.kdf.iterations);
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(keystore.partyId) },
      wrappingKey,
      ciphertext,
    );
    keystore.failedAttempts = 0;
    return JSON.parse(new TextDecoder().decode(plaintext)) as PrivateJwk;
  } catch {
    keystore.failedAttempts += 1;
    throw new MpayError(
      keystore.failedAttempts >= keystore.attemptsMax ? 'WALLET_LOCKED' : 'WALLET_PIN_INVALID',
    );
  }
}
