import {
  type DecryptionKey,
  decodeBase64url,
  encodeBase64url,
  importPrivateKey,
  type PrivateJwk,
  type PublicJwk,
  parsePrivateJwk,
  parsePublicJwk,
  type SigningKey,
  signPayload,
} from '@mpay/envelope';
import { canonicalize, MpayError } from '@mpay/protocol';
import { answerString, type CustodyCallOptions, identifierPattern, postToCustody } from '../custody/http.ts';
import { pinLogin, registerPin, requirePinFormat } from '../pin/opaque.ts';

/**
 * The device's keys at rest (version 2). Both private keys are wrapped
 * (AES-256-GCM) under a key derived from the OPAQUE export key of the PIN,
 * which only a login at custody gives, and custody counts every try. Nothing
 * in the file is derived from the PIN and there is no attempt counter in it,
 * so a copy of the file tests no guess offline.
 */
export interface WalletKeystoreData {
  readonly version: 2;
  readonly partyId: string;
  /** Custody, the OPAQUE server that checks and counts the PIN, and the device's credential there. */
  readonly pinServer: { readonly url: string; readonly custodyId: string; readonly credentialId: string };
  /** AES-256-GCM of JSON `{ signing, encryption }` (the private JWKs). */
  readonly wrappedKeys: { readonly iv: string; readonly ciphertext: string };
  readonly signingPublicJwk: PublicJwk;
  readonly encryptionPublicJwk: PublicJwk;
  /** The customer's bank's signed binding of these keys. */
  readonly binding: string;
  /**
   * The customer's bank's encryption key, from the enrolment answer: the
   * wallet seals one-time codes to it (large payments). Authenticated with
   * the wrapped keys (part of the AES-GCM additional data), so a file whose
   * bank key was swapped does not unlock. Absent: the bank gave none.
   */
  readonly bankEncryptionJwk?: PublicJwk;
}

/** The device's private keys once unlocked: non-extractable WebCrypto keys, held in memory only. */
export interface UnlockedKeys {
  readonly signing: SigningKey;
  readonly encryption: DecryptionKey;
}

export interface DeviceKeyPairs {
  readonly signing: { readonly privateJwk: PrivateJwk; readonly publicJwk: PublicJwk };
  readonly encryption: { readonly privateJwk: PrivateJwk; readonly publicJwk: PublicJwk };
}

export interface CreateKeystoreInput {
  readonly partyId: string;
  readonly pin: string;
  readonly keys: DeviceKeyPairs;
  /** The bank's key binding (`enrolDevice`); custody checks it names `partyId` and these keys. */
  readonly binding: string;
  /** The bank's encryption key from the enrolment answer (`enrolDevice`), for one-time codes. */
  readonly bankEncryptionJwk?: PublicJwk | undefined;
  readonly pinServer: { readonly url: string; readonly custodyId: string };
}

export const keystoreVersion = 2;
const hkdfInfo = 'mpay-wallet-keystore/v2';
const ivLengthBytes = 12;
/** The OPAQUE export key is 64 bytes; anything under 32 is not one. */
const exportKeyLengthBytesMin = 32;
const walletPinProofLifetimeSeconds = 300;
const textEncoder = new TextEncoder();

/** Strict base64url into a fresh ArrayBuffer-backed array, as WebCrypto's types want. */
function bytesOf(text: unknown): Uint8Array<ArrayBuffer> | undefined {
  const bytes = typeof text === 'string' ? decodeBase64url(text) : undefined;
  return bytes === undefined ? undefined : Uint8Array.from(bytes);
}

/** HKDF-SHA-256(exportKey, salt = empty, info = 'mpay-wallet-keystore/v2') → AES-256-GCM key. */
async function wrappingKeyOf(exportKey: string): Promise<CryptoKey> {
  const material = bytesOf(exportKey);
  if (material === undefined || material.length < exportKeyLengthBytesMin)
    throw new MpayError('CRYPTO_KEY_INVALID', 'exportKey');
  const hkdf = await crypto.subtle.importKey('raw', material, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: textEncoder.encode(hkdfInfo) },
    hkdf,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/**
 * The GCM additional data: the keys belong to this party and this credential
 * at custody, and (when the file has one) seal codes to this bank key. A file
 * without a bank key has the additional data it always had.
 */
function additionalDataOf(
  partyId: string,
  credentialId: string,
  bankEncryptionJwk: PublicJwk | undefined,
): Uint8Array<ArrayBuffer> {
  const bank = bankEncryptionJwk === undefined ? '' : `\n${canonicalize(bankEncryptionJwk)}`;
  return textEncoder.encode(`${partyId}\n${credentialId}${bank}`);
}

/** An enc key, or CRYPTO_KEY_INVALID. */
function bankEncryptionKeyOf(value: unknown): PublicJwk {
  const jwk = parsePublicJwk(value);
  if (jwk.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'bankEncryptionJwk');
  return jwk;
}

/**
 * Wraps the device's private keys under the export key (the pure half of
 * `createKeystore`, once custody has given the credential id).
 */
export async function wrapKeystore(
  input: Omit<CreateKeystoreInput, 'pin' | 'pinServer'> & {
    readonly pinServer: WalletKeystoreData['pinServer'];
  },
  exportKey: string,
): Promise<WalletKeystoreData> {
  const { partyId, keys, binding, pinServer } = input;
  if (keys.signing.publicJwk.use !== 'sig' || keys.encryption.publicJwk.use !== 'enc')
    throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  const bankEncryptionJwk =
    input.bankEncryptionJwk === undefined ? undefined : bankEncryptionKeyOf(input.bankEncryptionJwk);
  const iv = crypto.getRandomValues(new Uint8Array(ivLengthBytes));
  const plaintext = textEncoder.encode(
    JSON.stringify({ signing: keys.signing.privateJwk, encryption: keys.encryption.privateJwk }),
  );
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      {
        name: 'AES-GCM',
        iv,
        additionalData: additionalDataOf(partyId, pinServer.credentialId, bankEncryptionJwk),
      },
      await wrappingKeyOf(exportKey),
      plaintext,
    ),
  );
  return Object.freeze({
    version: keystoreVersion,
    partyId,
    pinServer: Object.freeze({ ...pinServer }),
    wrappedKeys: Object.freeze({ iv: encodeBase64url(iv), ciphertext: encodeBase64url(ciphertext) }),
    signingPublicJwk: keys.signing.publicJwk,
    encryptionPublicJwk: keys.encryption.publicJwk,
    binding,
    ...(bankEncryptionJwk === undefined ? {} : { bankEncryptionJwk }),
  });
}

/**
 * Creates the device's keystore: registers the PIN at custody with OPAQUE
 * (`/pin-registrations`), hands custody the registration record with the
 * bank's binding and a proof, signed with the device key, that this device
 * asks for it (`/wallet-pins`), then wraps the keys under the export key.
 */
export async function createKeystore(
  input: CreateKeystoreInput,
  options: CustodyCallOptions = {},
): Promise<WalletKeystoreData> {
  requirePinFormat(input.pin);
  const { partyId, pinServer } = input;
  const registration = await registerPin(pinServer.url, input.pin, options);
  const proof = await signPayload(
    { walletPin: { registrationId: registration.registrationId, partyId } },
    {
      issuer: partyId,
      audience: pinServer.custodyId,
      transactionId: registration.registrationId,
      expiresInSeconds: walletPinProofLifetimeSeconds,
    },
    input.keys.signing.privateJwk,
  );
  const answer = await postToCustody(
    `${pinServer.url}/wallet-pins`,
    {
      registrationId: registration.registrationId,
      registrationRecord: registration.registrationRecord,
      binding: input.binding,
      proof,
    },
    options,
  );
  const credentialId = answerString(answer, 'credentialId', identifierPattern);
  return wrapKeystore(
    {
      partyId,
      keys: input.keys,
      binding: input.binding,
      bankEncryptionJwk: input.bankEncryptionJwk,
      pinServer: { ...pinServer, credentialId },
    },
    registration.exportKey,
  );
}

/**
 * A keystore as read from storage, checked for shape. A version-1 file (PIN
 * through PBKDF2, counter in the file) is refused: it must not be used again.
 */
export function parseKeystore(value: unknown): WalletKeystoreData {
  const data = value as Partial<Record<keyof WalletKeystoreData, unknown>> | null;
  if (typeof data !== 'object' || data === null) throw new MpayError('CRYPTO_KEY_INVALID', 'keystore');
  if (data.version === 1)
    throw new MpayError(
      'CRYPTO_KEY_INVALID',
      'wallet keystore version 1 (PIN-derived key) is no longer accepted: enrol the device again',
    );
  if (data.version !== keystoreVersion) throw new MpayError('CRYPTO_KEY_INVALID', 'keystore version');
  const pinServer = data.pinServer as Partial<WalletKeystoreData['pinServer']> | undefined;
  const wrapped = data.wrappedKeys as Partial<WalletKeystoreData['wrappedKeys']> | undefined;
  const wellFormed =
    typeof data.partyId === 'string' &&
    typeof data.binding === 'string' &&
    typeof pinServer?.url === 'string' &&
    typeof pinServer.custodyId === 'string' &&
    typeof pinServer.credentialId === 'string' &&
    bytesOf(wrapped?.iv)?.length === ivLengthBytes &&
    bytesOf(wrapped?.ciphertext) !== undefined &&
    typeof data.signingPublicJwk === 'object' &&
    typeof data.encryptionPublicJwk === 'object';
  if (!wellFormed) throw new MpayError('CRYPTO_KEY_INVALID', 'keystore');
  if (data.bankEncryptionJwk !== undefined) bankEncryptionKeyOf(data.bankEncryptionJwk);
  return data as WalletKeystoreData;
}

/** The same key: the unwrapped private JWK's public members are the keystore's public JWK's. */
function samePublicKey(privateJwk: PrivateJwk, publicJwk: PublicJwk): boolean {
  return (
    privateJwk.kty === publicJwk.kty &&
    privateJwk.crv === publicJwk.crv &&
    privateJwk.x === publicJwk.x &&
    privateJwk.y === publicJwk.y &&
    privateJwk.alg === publicJwk.alg &&
    privateJwk.use === publicJwk.use
  );
}

/**
 * Unwraps the keys with the export key (the pure half of `unlockKeystore`).
 * The keys come back as non-extractable CryptoKeys. Any failure (a wrong
 * export key, a file changed in any byte) is CRYPTO_KEY_INVALID.
 */
export async function unwrapKeystore(value: WalletKeystoreData, exportKey: string): Promise<UnlockedKeys> {
  const keystore = parseKeystore(value);
  const iv = bytesOf(keystore.wrappedKeys.iv)!;
  const ciphertext = bytesOf(keystore.wrappedKeys.ciphertext)!;
  const wrappingKey = await wrappingKeyOf(exportKey);
  let keys: { signing: PrivateJwk; encryption: PrivateJwk };
  try {
    const plaintext = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv,
        additionalData: additionalDataOf(
          keystore.partyId,
          keystore.pinServer.credentialId,
          keystore.bankEncryptionJwk,
        ),
      },
      wrappingKey,
      ciphertext,
    );
    const parsed = JSON.parse(new TextDecoder().decode(plaintext)) as {
      signing?: unknown;
      encryption?: unknown;
    };
    keys = { signing: parsePrivateJwk(parsed.signing), encryption: parsePrivateJwk(parsed.encryption) };
  } catch (cause) {
    throw new MpayError('CRYPTO_KEY_INVALID', undefined, { cause });
  }
  if (
    !samePublicKey(keys.signing, keystore.signingPublicJwk) ||
    !samePublicKey(keys.encryption, keystore.encryptionPublicJwk)
  )
    throw new MpayError('CRYPTO_KEY_INVALID');
  const signing = await importPrivateKey(keys.signing);
  const encryption = await importPrivateKey(keys.encryption);
  if (signing.use !== 'sig' || encryption.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return Object.freeze({
    signing: Object.freeze({ cryptoKey: signing.cryptoKey, kid: signing.kid, alg: signing.alg }),
    encryption: Object.freeze({ cryptoKey: encryption.cryptoKey, kid: encryption.kid, alg: encryption.alg }),
  });
}

/**
 * Unlocks the keystore with the PIN: a login at custody (which counts the
 * try: PIN_REFUSED, PIN_BLOCKED), then the keys unwrapped under its export
 * key. A successful login whose export key does not open the file is
 * CRYPTO_KEY_INVALID (the file is not this credential's).
 */
export async function unlockKeystore(
  value: WalletKeystoreData,
  pin: string,
  options: CustodyCallOptions = {},
): Promise<UnlockedKeys> {
  const keystore = parseKeystore(value);
  requirePinFormat(pin);
  const { exportKey } = await pinLogin(keystore.pinServer.url, keystore.pinServer.credentialId, pin, options);
  return unwrapKeystore(keystore, exportKey);
}
