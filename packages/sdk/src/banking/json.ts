import { MpayError } from '@mpay/protocol';

/**
 * Strict readers for what the bank answers (hostile until checked): a plain
 * object with exactly the members expected, each of the expected type. A
 * failure is BANK_ANSWER_INVALID naming the member, never a TypeError.
 */

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An instant as the bank writes it (`Date.toISOString()`, or with an offset). */
export const instantPattern =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$/;
export const serialPattern = /^[A-Za-z0-9_-]{1,64}$/;
const signedMinorUnitsPattern = /^-?(0|[1-9][0-9]{0,30})$/;

export function answerInvalid(path: string): never {
  throw new MpayError('BANK_ANSWER_INVALID', path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A plain object with every `required` member, optionally some of `optional`, and no other. */
export function exactRecord(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isPlainObject(value)) return answerInvalid(path);
  for (const name of Object.keys(value)) {
    if (!required.includes(name) && !optional.includes(name)) answerInvalid(`${path}.${name}`);
  }
  for (const name of required) {
    if (!Object.hasOwn(value, name)) answerInvalid(`${path}.${name}`);
  }
  return value;
}

export function readString(value: unknown, path: string, pattern: RegExp): string {
  return typeof value === 'string' && pattern.test(value) ? value : answerInvalid(path);
}

export function readInstant(value: unknown, path: string): string {
  const text = readString(value, path, instantPattern);
  return Number.isNaN(Date.parse(text)) ? answerInvalid(path) : text;
}

/** A balance: minor units of any sign, as decimal text. */
export function readSignedMinorUnits(value: unknown, path: string): bigint {
  return BigInt(readString(value, path, signedMinorUnitsPattern));
}

export function readBoolean(value: unknown, path: string): boolean {
  return typeof value === 'boolean' ? value : answerInvalid(path);
}

export function readArray(value: unknown, path: string, lengthMax: number): readonly unknown[] {
  return Array.isArray(value) && value.length <= lengthMax ? value : answerInvalid(path);
}

/** Bytes of UTF-8 as JSON text, strictly decoded (a malformed sequence is not text). */
export function decodeJsonBytes(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}
