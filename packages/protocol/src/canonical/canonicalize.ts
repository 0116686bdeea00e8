import { MpayError } from '../errors/index.ts';

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte sequence per JSON value,
 * so that a signature covers the value and not one of its many spellings.
 *
 * Only I-JSON values are accepted (RFC 8785 §3.1): plain objects, arrays,
 * strings without lone surrogates, finite numbers, booleans and null. Anything
 * else (bigint, undefined in an array, functions, symbols, class instances,
 * cycles, nesting deeper than the limit) fails with CANONICALIZATION_FAILED.
 * Object members whose value is `undefined` are omitted, as JSON.stringify does.
 */

/** Deepest nesting of arrays and objects accepted, counting the outermost as 1. */
export const CANONICAL_NESTING_DEPTH_MAX = 64;

export interface CanonicalizeOptions {
  /** Deepest nesting accepted; at most CANONICAL_NESTING_DEPTH_MAX. */
  readonly nestingDepthMax?: number;
}

const encoder = new TextEncoder();
const loneSurrogate = /\p{Cs}/u;
const shortEscapes: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
};

export function canonicalize(value: unknown, options: CanonicalizeOptions = {}): string {
  const nestingDepthMax = options.nestingDepthMax ?? CANONICAL_NESTING_DEPTH_MAX;
  if (
    !Number.isInteger(nestingDepthMax) ||
    nestingDepthMax < 0 ||
    nestingDepthMax > CANONICAL_NESTING_DEPTH_MAX
  ) {
    throw new RangeError(`nestingDepthMax must be an integer in [0, ${CANONICAL_NESTING_DEPTH_MAX}]`);
  }
  const parts: string[] = [];
  writeValue(value, { parts, ancestors: new Set(), nestingDepthMax });
  return parts.join('');
}

/** The UTF-8 bytes of `canonicalize(value)`: what gets signed. */
export function canonicalBytes(value: unknown, options: CanonicalizeOptions = {}): Uint8Array {
  return encoder.encode(canonicalize(value, options));
}

interface Writer {
  readonly parts: string[];
  /** The containers on the path from the root: a repeat is a cycle. */
  readonly ancestors: Set<object>;
  readonly nestingDepthMax: number;
}

function fail(detail: string): never {
  throw new MpayError('CANONICALIZATION_FAILED', detail);
}

function writeValue(value: unknown, writer: Writer): void {
  switch (typeof value) {
    case 'string':
      writer.parts.push(serializeString(value));
      return;
    case 'number':
      writer.parts.push(serializeNumber(value));
      return;
    case 'boolean':
      writer.parts.push(value ? 'true' : 'false');
      return;
    case 'object':
      if (value === null) {
        writer.parts.push('null');
        return;
      }
      writeContainer(value, writer);
      return;
    default:
      fail(`unsupported type ${typeof value}`);
  }
}

function writeContainer(container: object, writer: Writer): void {
  if (writer.ancestors.has(container)) fail('cycle');
  if (writer.ancestors.size >= writer.nestingDepthMax) fail('nesting too deep');
  writer.ancestors.add(container);
  if (Array.isArray(container)) writeArray(container, writer);
  else writeObject(container, writer);
  writer.ancestors.delete(container);
}

function writeArray(array: readonly unknown[], writer: Writer): void {
  writer.parts.push('[');
  for (let index = 0; index < array.length; index++) {
    if (index > 0) writer.parts.push(',');
    const element = array[index];
    if (element === undefined) fail('undefined array element');
    writeValue(element, writer);
  }
  writer.parts.push(']');
}

function writeObject(object: object, writer: Writer): void {
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) fail('not a plain object');
  if (Object.getOwnPropertySymbols(object).length > 0) fail('symbol key');
  const record = object as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
  const names = Object.keys(record).sort();
  let first = true;
  writer.parts.push('{');
  for (const name of names) {
    const member = record[name];
    if (member === undefined) continue;
    if (!first) writer.parts.push(',');
    first = false;
    writer.parts.push(serializeString(name), ':');
    writeValue(member, writer);
  }
  writer.parts.push('}');
}

/** RFC 8785 §3.2.2.3: ECMAScript Number.prototype.toString, which String(n) is. */
function serializeNumber(value: number): string {
  if (!Number.isFinite(value)) fail('non-finite number');
  return String(value);
}

function needsEscape(value: string): boolean {
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    if (unit < 0x20 || unit === 0x22 || unit === 0x5c) return true;
  }
  return false;
}

/** RFC 8785 §3.2.2.2: escape only '"', '\' and U+0000..U+001F; everything else literal. */
function serializeString(value: string): string {
  if (loneSurrogate.test(value)) fail('lone surrogate');
  if (!needsEscape(value)) return `"${value}"`;
  let escaped = '"';
  for (const character of value) {
    const short = shortEscapes[character];
    if (short !== undefined) escaped += short;
    else if (character < ' ') escaped += `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else escaped += character;
  }
  return `${escaped}"`;
}
