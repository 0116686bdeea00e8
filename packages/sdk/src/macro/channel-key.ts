import { decodeBase64url, encodeBase64url } from '@mpay/envelope';
import {
  isMacroClientId,
  MpayError,
  macroChannelInfo,
  macroChannelKeyBytes,
  macroDeviceSecretBytes,
  macroRequestKeyInfo,
} from '@mpay/protocol';

/** HKDF's largest output with SHA-256 (RFC 5869: 255 blocks of 32 bytes). */
const hkdfSha256OutputBytesMax = 255 * 32;

/** RFC 5869 HKDF with SHA-256 through WebCrypto: the same in a browser and in Node. */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  lengthBytes: number,
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 1 || lengthBytes > hkdfSha256OutputBytesMax) {
    throw new RangeError(`HKDF-SHA-256 output must be 1..${hkdfSha256OutputBytesMax} bytes`);
  }
  const key = await crypto.subtle.importKey('raw', ikm as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info: info as BufferSource },
    key,
    lengthBytes * 8,
  );
  return new Uint8Array(bits);
}

/** The device secret of a macro registration: 32 bytes from the CSPRNG, base64url. Keep it with the device's keys. */
export function createMacroDeviceSecret(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(macroDeviceSecretBytes)));
}

/**
 * The E_SP channel key, as the MPASP derives it (issue 10 §3):
 * HKDF-SHA-256(ikm = the OPAQUE session key of the mPIN login, salt = the
 * device secret, info = `macroChannelInfo(clientId, sessionId)`), 32 bytes
 * for `dir` + A256GCM.
 */
export async function deriveMacroChannelKey(input: {
  readonly sessionKey: string;
  readonly deviceSecret: string;
  readonly clientId: string;
  readonly sessionId: string;
}): Promise<Uint8Array> {
  const ikm = decodeBase64url(input.sessionKey);
  const salt = decodeBase64url(input.deviceSecret);
  if (ikm === undefined || ikm.length < 32) throw new MpayError('CRYPTO_KEY_INVALID', 'sessionKey');
  if (salt === undefined || salt.length !== macroDeviceSecretBytes) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'deviceSecret');
  }
  const info = new TextEncoder().encode(macroChannelInfo(input.clientId, input.sessionId));
  return hkdfSha256(ikm, salt, info, macroChannelKeyBytes);
}

/**
 * The step-1 request key, as the MPASP derives it: HKDF-SHA-256(ikm = the
 * device secret, salt = the bytes of ID_C, info = 'mpay macro request v1').
 * It seals the payment request (no mPIN: the paper asks it at step 3) and
 * opens the MPASP's status messages.
 */
export async function deriveMacroRequestKey(deviceSecret: string, clientId: string): Promise<Uint8Array> {
  const ikm = decodeBase64url(deviceSecret);
  if (ikm === undefined || ikm.length !== macroDeviceSecretBytes) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'deviceSecret');
  }
  if (!isMacroClientId(clientId)) throw new MpayError('REQUEST_INVALID', 'clientId');
  const encoder = new TextEncoder();
  return hkdfSha256(ikm, encoder.encode(clientId), encoder.encode(macroRequestKeyInfo), macroChannelKeyBytes);
}
