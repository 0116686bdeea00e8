/** Byte and text helpers shared by the envelope; WebCrypto and web standards only. */

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Each character's code in the alphabet's order. */
const base64urlCodes = Uint8Array.from(base64urlAlphabet, (character) => character.charCodeAt(0));
/** Each ASCII code's value in the alphabet, or -1: outside it. */
const base64urlValues = (() => {
  const values = new Int8Array(128).fill(-1);
  for (let value = 0; value < 64; value++) values[base64urlCodes[value]!] = value;
  return values;
})();
const asciiDecoder = new TextDecoder();

/** Base64url without padding. The characters are written as ASCII bytes, then read as one string. */
export function encodeBase64url(bytes: Uint8Array): string {
  const whole = bytes.length - (bytes.length % 3);
  const rest = bytes.length - whole;
  const out = new Uint8Array((whole / 3) * 4 + (rest === 0 ? 0 : rest + 1));
  let written = 0;
  for (let index = 0; index < whole; index += 3) {
    const chunk = (bytes[index]! << 16) | (bytes[index + 1]! << 8) | bytes[index + 2]!;
    out[written++] = base64urlCodes[chunk >>> 18]!;
    out[written++] = base64urlCodes[(chunk >>> 12) & 63]!;
    out[written++] = base64urlCodes[(chunk >>> 6) & 63]!;
    out[written++] = base64urlCodes[chunk & 63]!;
  }
  if (rest > 0) {
    const chunk = (bytes[whole]! << 16) | (rest === 2 ? bytes[whole + 1]! << 8 : 0);
    out[written++] = base64urlCodes[chunk >>> 18]!;
    out[written++] = base64urlCodes[(chunk >>> 12) & 63]!;
    if (rest === 2) out[written++] = base64urlCodes[(chunk >>> 6) & 63]!;
  }
  return asciiDecoder.decode(out);
}

/**
 * Strict base64url (RFC 4648 §5, no padding, RFC 7515 §2): returns undefined
 * for any other alphabet, padding, whitespace, impossible length, or unused
 * trailing bits that are not zero. Exactly one text per byte string, so a
 * token cannot be altered without altering its bytes.
 */
export function decodeBase64url(text: string): Uint8Array | undefined {
  const length = text.length;
  if (length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Math.floor((length * 6) / 8));
  let accumulator = 0;
  let bits = 0;
  let written = 0;
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    const value = code < 128 ? base64urlValues[code]! : -1;
    if (value < 0) return undefined;
    accumulator = ((accumulator << 6) | value) & 0xffffff;
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
