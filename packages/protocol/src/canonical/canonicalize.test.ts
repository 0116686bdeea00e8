import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { CANONICAL_NESTING_DEPTH_MAX, canonicalBytes, canonicalize } from './canonicalize.ts';

function expectRejected(value: unknown): void {
  let caught: unknown;
  try {
    canonicalize(value);
  } catch (error) {
    caught = error;
  }
  expect(isMpayError(caught, 'CANONICALIZATION_FAILED')).toBe(true);
}

function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { a: value };
  return value;
}

describe('canonicalize', () => {
  it('sorts member names by UTF-16 code units, not by code points or locale', () => {
    // U+FB33 (one unit, 0xFB33) sorts after U+1F602 (surrogates 0xD83D 0xDE02).
    expect(canonicalize({ '\ufb33': 1, '\u{1f602}': 2, b: 3, B: 4, é: 5 })).toBe(
      '{"B":4,"b":3,"é":5,"\u{1f602}":2,"\ufb33":1}',
    );
  });

  it('serializes numbers as ECMAScript does', () => {
    expect(canonicalize([-0, 1e21, 1e-7, 0.1 + 0.2, 5e-324, -1.5, 100])).toBe(
      '[0,1e+21,1e-7,0.30000000000000004,5e-324,-1.5,100]',
    );
  });

  it('escapes only quote, backslash and control characters, in lowercase hex', () => {
    expect(canonicalize('"\\\b\t\n\f\r\u0000\u001f\u007f\u2028/<')).toBe(
      '"\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u001f\u007f\u2028/<"',
    );
  });

  it('omits undefined members and keeps null', () => {
    expect(canonicalize({ a: undefined, b: null })).toBe('{"b":null}');
  });

  it('accepts a value shared twice (not a cycle) and objects without a prototype', () => {
    const shared = { x: 1 };
    const bare = Object.assign(Object.create(null) as object, { y: 2 });
    expect(canonicalize([shared, shared, bare])).toBe('[{"x":1},{"x":1},{"y":2}]');
  });

  it('encodes UTF-8', () => {
    expect(canonicalBytes('€')).toEqual(new Uint8Array([0x22, 0xe2, 0x82, 0xac, 0x22]));
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['bigint', { a: 1n }],
    ['undefined at top level', undefined],
    ['undefined in an array', [1, undefined]],
    ['a hole in an array', Object.assign(new Array<number>(3), { 0: 1, 2: 2 })],
    ['a function', { f: () => 1 }],
    ['a symbol value', { s: Symbol('s') }],
    ['a symbol key', { [Symbol('s')]: 1 }],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a typed array', new Uint8Array(1)],
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate in a key', { '\udc00': 1 }],
  ])('rejects %s', (_name, value) => {
    expectRejected(value);
  });

  it('rejects cycles', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expectRejected(cycle);
    const arrayCycle: unknown[] = [];
    arrayCycle.push([arrayCycle]);
    expectRejected(arrayCycle);
  });

  it('accepts nesting up to the limit and rejects one level more', () => {
    expect(() => canonicalize(nested(CANONICAL_NESTING_DEPTH_MAX))).not.toThrow();
    expectRejected(nested(CANONICAL_NESTING_DEPTH_MAX + 1));
    expect(() => canonicalize(nested(3), { nestingDepthMax: 2 })).toThrow();
    expect(() => canonicalize(1, { nestingDepthMax: CANONICAL_NESTING_DEPTH_MAX + 1 })).toThrow(RangeError);
  });

  it('round-trips through JSON.parse and is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        expect(canonicalize(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('does not depend on member insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(canonicalize(reversed)).toBe(canonicalize(record));
      }),
    );
  });

  it('agrees with JSON.stringify on values without objects (property)', () => {
    const scalar = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
    );
    fc.assert(
      fc.property(fc.array(scalar), (array) => {
        expect(canonicalize(array)).toBe(JSON.stringify(array));
      }),
    );
  });
});
