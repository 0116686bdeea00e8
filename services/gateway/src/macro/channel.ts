import { hkdf } from 'node:crypto';
import { decodeBase64url, encodeBase64url, encryptDirect } from '@mpay/envelope';
import {
  isMacroClientId,
  type MacroChannelConfirmation,
  macroChannelInfo,
  macroChannelKeyBytes,
  macroRequestKeyInfo,
} from '@mpay/protocol';

/** HKDF's largest output with SHA-256 (RFC 5869: 255 blocks of 32 bytes). */
const hkdfSha256OutputBytesMax = 255 * 32;

/** RFC 5869 HKDF with SHA-256 (node:crypto); the SDK's WebCrypto one gives the same bytes (both pass the Wycheproof vectors). */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  lengthBytes: number,
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 1 || lengthBytes > hkdfSha256OutputBytesMax) {
    return Promise.reject(new RangeError(`HKDF-SHA-256 output must be 1..${hkdfSha256OutputBytesMax} bytes`));
  }
  return new Promise((resolve, reject) => {
    hkdf('sha256', ikm, salt, info, lengthBytes, (error, key) =>
      error === null ? resolve(new Uint8Array(key)) : reject(error),
    );
  });
}

/**
 * The E_SP key of one channel between a client and the MPASP (issue 10 §3):
 * HKDF-SHA-256(ikm = the OPAQUE session key of the mPIN login, salt = the
 * device secret established at registration, info = `macroChannelInfo`).
 * The mPIN reaches it only through the counted OPAQUE login; the device
 * secret only from the registered device.
 */
export async function deriveChannelKey(input: {
  readonly sessionKey: string;
  readonly deviceSecret: string;
  readonly clientId: string;
  readonly sessionId: string;
}): Promise<Uint8Array> {
  const ikm = decodeBase64url(input.sessionKey);
  const salt = decodeBase64url(input.deviceSecret);
  if (ikm === undefined || salt === undefined || ikm.length < 32 || salt.length !== 32) {
    throw new Error('assertion failed: the channel key comes from a session key and a 32-byte device secret');
  }
  const info = new TextEncoder().encode(macroChannelInfo(input.clientId, input.sessionId));
  return hkdfSha256(ikm, salt, info, macroChannelKeyBytes);
}

/** The MPASP's first message on the channel (dir, A256GCM under the channel key, kid the session id). */
export function sealChannelConfirmation(
  channelKey: Uint8Array,
  confirmation: MacroChannelConfirmation,
): Promise<string> {
  return encryptDirect(JSON.stringify(confirmation), channelKey, { kid: confirmation.sessionId });
}

export function channelKeyText(channelKey: Uint8Array): string {
  return encodeBase64url(channelKey);
}

/**
 * The step-1 request key of a client (E_SP{ID_C, AmtInfo_c, h(TransactionData)}):
 * HKDF-SHA-256(ikm = the registration's device secret, salt = the bytes of
 * ID_C, info = `macroRequestKeyInfo`). No mPIN: the paper asks for it at
 * step 3, and the device secret alone (32 random bytes) is not guessable.
 * The same key seals the payment's status to the client.
 */
export async function deriveRequestKey(deviceSecret: string, clientId: string): Promise<Uint8Array> {
  const ikm = decodeBase64url(deviceSecret);
  if (ikm === undefined || ikm.length !== 32 || !isMacroClientId(clientId)) {
    throw new Error('assertion failed: the request key comes from a 32-byte device secret and a client id');
  }
  const encoder = new TextEncoder();
  return hkdfSha256(ikm, encoder.encode(clientId), encoder.encode(macroRequestKeyInfo), macroChannelKeyBytes);
}

/**
 * The E_SP key of one payment's C–MPASP channel, from the opening of its
 * challenge (step 3): `deriveChannelKey` with ID_T in place of the channel
 * session, i.e. HKDF(OPAQUE session key, salt = device secret,
 * info = 'mpay macro E_SP v1' NUL ID_C NUL ID_T).
 */
export function derivePaymentChannelKey(input: {
  readonly sessionKey: string;
  readonly deviceSecret: string;
  readonly clientId: string;
  readonly transactionId: string;
}): Promise<Uint8Array> {
  return deriveChannelKey({
    sessionKey: input.sessionKey,
    deviceSecret: input.deviceSecret,
    clientId: input.clientId,
    sessionId: input.transactionId,
  });
}
