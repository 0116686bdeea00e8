import { randomBytes } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import pkcs11js, { type AesGCM, type Mechanism, type PKCS11, type Template } from 'pkcs11js';
import {
  SEAL_ADDITIONAL_DATA_BYTES_MAX,
  SEAL_IV_LENGTH_BYTES,
  SEAL_PLAINTEXT_BYTES_MAX,
  SEAL_TAG_LENGTH_BYTES,
  SECRET_KEY_LENGTH_BYTES,
} from '../limits.ts';
import { findObjects } from '../pkcs11/objects.ts';

const BITS_PER_BYTE = 8;

/**
 * Creates the AES-256 key labelled `label` unless the token has it. Runs in
 * one synchronous block, so two callers in one process cannot both create it.
 */
export function ensureSecretKeyObject(pkcs11: PKCS11, session: Buffer, label: string): void {
  if (findSecretKey(pkcs11, session, label) !== undefined) return;
  pkcs11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    ...byLabel(label),
    { type: pkcs11js.CKA_VALUE_LEN, value: SECRET_KEY_LENGTH_BYTES },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    // softhsm2's defaults add sign, verify, wrap and unwrap; this key only seals.
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ]);
}

/** iv ‖ ciphertext ‖ tag, AES-256-GCM inside the token with a fresh 96-bit IV. */
export function sealWith(
  pkcs11: PKCS11,
  session: Buffer,
  label: string,
  plaintext: Uint8Array,
  additionalData: Uint8Array,
): Uint8Array {
  if (plaintext.length > SEAL_PLAINTEXT_BYTES_MAX) throw new MpayError('REQUEST_TOO_LARGE', 'plaintext');
  if (additionalData.length > SEAL_ADDITIONAL_DATA_BYTES_MAX) {
    throw new MpayError('REQUEST_TOO_LARGE', 'additional data');
  }
  const key = requireSecretKey(pkcs11, session, label);
  // Random IVs: at most 2^32 seals per key keep GCM's collision bound (NIST SP 800-38D §8.3);
  // custody seals one value per customer secret, far below it.
  const iv = randomBytes(SEAL_IV_LENGTH_BYTES);
  pkcs11.C_EncryptInit(session, gcm(iv, additionalData), key);
  const output = Buffer.alloc(plaintext.length + SEAL_TAG_LENGTH_BYTES);
  // An empty input reaches the library as a null pointer, which softhsm2 refuses in C_Encrypt
  // (CKR_ARGUMENTS_BAD); C_EncryptFinal alone gives the tag of the empty message.
  const sealed =
    plaintext.length === 0
      ? pkcs11.C_EncryptFinal(session, output)
      : pkcs11.C_Encrypt(session, Buffer.from(plaintext), output);
  if (sealed.length !== plaintext.length + SEAL_TAG_LENGTH_BYTES) {
    throw new MpayError('HSM_UNAVAILABLE', `secret key "${label}": ciphertext of ${sealed.length} bytes`);
  }
  return new Uint8Array(Buffer.concat([iv, sealed]));
}

/**
 * The plaintext, or CRYPTO_DECRYPTION_FAILED for anything wrong with the
 * sealed bytes or the additional data, without saying what. A missing key or a
 * closed token is HSM_UNAVAILABLE instead: that is the HSM's state, not the
 * message's, and may pass.
 */
export function unsealWith(
  pkcs11: PKCS11,
  session: Buffer,
  label: string,
  sealed: Uint8Array,
  additionalData: Uint8Array,
): Uint8Array {
  const key = requireSecretKey(pkcs11, session, label);
  const sealedLengthMax = SEAL_IV_LENGTH_BYTES + SEAL_PLAINTEXT_BYTES_MAX + SEAL_TAG_LENGTH_BYTES;
  if (
    sealed.length < SEAL_IV_LENGTH_BYTES + SEAL_TAG_LENGTH_BYTES ||
    sealed.length > sealedLengthMax ||
    additionalData.length > SEAL_ADDITIONAL_DATA_BYTES_MAX
  ) {
    throw new MpayError('CRYPTO_DECRYPTION_FAILED');
  }
  const bytes = Buffer.from(sealed);
  const iv = bytes.subarray(0, SEAL_IV_LENGTH_BYTES);
  const ciphertext = bytes.subarray(SEAL_IV_LENGTH_BYTES);
  try {
    pkcs11.C_DecryptInit(session, gcm(iv, additionalData), key);
    // Room for the whole input: a CKR_BUFFER_TOO_SMALL would leave the operation active in the session.
    const plaintext = pkcs11.C_Decrypt(session, ciphertext, Buffer.alloc(ciphertext.length));
    if (plaintext.length !== ciphertext.length - SEAL_TAG_LENGTH_BYTES) throw new Error('plaintext length');
    return new Uint8Array(plaintext);
  } catch (cause) {
    throw new MpayError('CRYPTO_DECRYPTION_FAILED', undefined, { cause });
  }
}

/** CK_GCM_PARAMS (the PKCS#11 v2.40 layout, with ulIvBits, which softhsm2 and current HSMs read). */
function gcm(iv: Buffer, additionalData: Uint8Array): Mechanism {
  const parameter: AesGCM = {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    aad: Buffer.from(additionalData),
    ivBits: SEAL_IV_LENGTH_BYTES * BITS_PER_BYTE,
    tagBits: SEAL_TAG_LENGTH_BYTES * BITS_PER_BYTE,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

function requireSecretKey(pkcs11: PKCS11, session: Buffer, label: string): Buffer {
  const key = findSecretKey(pkcs11, session, label);
  if (key === undefined) throw new MpayError('HSM_UNAVAILABLE', `secret key "${label}": not in the token`);
  return key;
}

/**
 * The one AES key with this label. Two would make sealing a guess (the value
 * sealed under one cannot be unsealed under the other), so that is refused.
 */
function findSecretKey(pkcs11: PKCS11, session: Buffer, label: string): Buffer | undefined {
  const found = findObjects(pkcs11, session, byLabel(label));
  if (found.length > 1)
    throw new MpayError('HSM_UNAVAILABLE', `secret key "${label}": several keys have this label`);
  return found[0];
}

function byLabel(label: string): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}
