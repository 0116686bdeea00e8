import { MpayError } from '@mpay/protocol';

/**
 * The fixed limits of @mpay/hsm. None is an option: they are properties of the
 * PKCS#11 format (a token label is 32 bytes) or of what custody stores (a
 * sealed secret is a key or a PIN verifier, never a file).
 */

/** PKCS#11 CK_TOKEN_INFO.label is 32 bytes, blank-padded. */
export const TOKEN_LABEL_LENGTH_MAX = 32;
/** Longest CKA_LABEL this package writes or looks for (signing and secret keys). */
export const KEY_LABEL_LENGTH_MAX = 128;
/** CKA_ID of a signing key: random bytes chosen at generation. */
export const KEY_ID_LENGTH_BYTES = 16;
/** AES-256. */
export const SECRET_KEY_LENGTH_BYTES = 32;
/** GCM nonce: 96 bits, the length GCM is defined for without GHASH of the IV. */
export const SEAL_IV_LENGTH_BYTES = 12;
/** GCM tag: 128 bits, the full tag. */
export const SEAL_TAG_LENGTH_BYTES = 16;
/** Largest plaintext `seal` accepts (1 MiB): sealed values are keys and verifiers. */
export const SEAL_PLAINTEXT_BYTES_MAX = 1024 * 1024;
/** Largest additional authenticated data (64 KiB). */
export const SEAL_ADDITIONAL_DATA_BYTES_MAX = 64 * 1024;
/** ECDSA P-256 signature as r‖s. */
export const ECDSA_P256_SIGNATURE_LENGTH_BYTES = 64;
/** Most objects one lookup reads; more with one label or id means the token is not ours to trust. */
export const FIND_OBJECTS_MAX = 16;

/** How long `ensureSoftHsmToken` waits for another process creating a token in the same directory. */
export const TOKEN_LOCK_WAIT_MS_MAX = 30_000;
/** Pause between two tries of the token lock. */
export const TOKEN_LOCK_RETRY_MS = 25;
/** How long `deleteSoftHsmToken` lets softhsm2-util run (it removes one token folder). */
export const TOKEN_DELETE_MS_MAX = 10_000;
/** Random bytes of a generated user or SO PIN (base64url, 32 characters). */
export const GENERATED_PIN_BYTES = 24;

const tokenLabelPattern = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const keyLabelPattern = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const keyIdPattern = new RegExp(`^[0-9a-f]{${KEY_ID_LENGTH_BYTES * 2}}$`);

/**
 * Printable ASCII without leading or trailing blanks, at most 32 characters:
 * tokens pad their label with blanks, so a label that ends in one could not be
 * told apart from its trimmed form.
 */
export function isTokenLabel(value: unknown): value is string {
  return typeof value === 'string' && value.length <= TOKEN_LABEL_LENGTH_MAX && tokenLabelPattern.test(value);
}

/** Refuses (HSM_UNAVAILABLE) a label `isTokenLabel` does not take. */
export function assertTokenLabel(value: string): void {
  if (!isTokenLabel(value)) {
    throw new MpayError(
      'HSM_UNAVAILABLE',
      `token label must be 1 to ${TOKEN_LABEL_LENGTH_MAX} printable ASCII characters`,
    );
  }
}

export function isKeyLabel(value: unknown): value is string {
  return typeof value === 'string' && value.length <= KEY_LABEL_LENGTH_MAX && keyLabelPattern.test(value);
}

/** Lower-case hex of a 16-byte CKA_ID. */
export function isKeyId(value: unknown): value is string {
  return typeof value === 'string' && keyIdPattern.test(value);
}
