/** Byte and text helpers shared by the envelope; WebCrypto and web standards only. */

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlPattern = /^[A-Za-z0-9_-]*$/;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function encodeBase64url(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < bytes.length; index += 3) {
    const chunk = (bytes[index]! << 16) | ((bytes[index + 1] ?? 0) << 8) | (bytes[index + 2] ?? 0);
    const characters = Math.min(4, Math.ceil(((bytes.length - index) * 8) / 6));
    for (let position = 0; position < characters; position++) {
      text += base64urlAlphabet[(chunk >> (18 - 6 * position)) & 63];
    }
  }
  return text;
}

/**
 * Strict base64url (RFC 4648 §5, no padding, RFC 7515 §2): returns undefined
 * for any other alphabet, padding, whitespace, impossible length, or unused
 * trailing bits that are not zero. Exactly one text per byte string, so a
 * token cannot be altered without altering its bytes.
 */
export function decodeBase64url(text: string): Uint8Array | undefined {
  if (!base64urlPattern.test(text) || text.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let accumulator = 0;
  let bits = 0;
  let written = 0;
  for (const character of text) {
    accumulator = ((accumulator << 6) | base64urlAlphabet.indexOf(character)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[written++] = (accumulator >> bits) & 0xff;
    }
  }
  if ((accumulator & ((1 << bits) - 1)) !== 0) return undefined;
  return bytes;
}

export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** UTF-8 to text, or undefined for ill-formed UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A JSON object from UTF-8 bytes, or undefined for anything else. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const text = decodeUtf8(bytes);
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isPlainRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) difference |= left[index]! ^ right[index]!;
  return difference === 0;
}

export function randomBase64url(byteLength: number): string {
  return encodeBase64url(globalThis.crypto.getRandomValues(new Uint8Array(byteLength)));
}
