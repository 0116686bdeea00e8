import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from './canonicalize.ts';

// cyberphone/json-canonicalization testdata (Apache-2.0), checked in under test/vectors.
const testdata = new URL('../../../../test/vectors/jcs/testdata/', import.meta.url);
const names = readdirSync(new URL('input/', testdata)).filter((name) => name.endsWith('.json'));

function hexToBytes(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, '');
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

describe('RFC 8785 vectors (cyberphone/json-canonicalization)', () => {
  it('finds every vector file', () => {
    expect(names.sort()).toEqual([
      'arrays.json',
      'french.json',
      'structures.json',
      'unicode.json',
      'values.json',
      'weird.json',
    ]);
  });

  it.each(names)('%s canonicalizes to the expected bytes', (name) => {
    const input: unknown = JSON.parse(readFileSync(new URL(`input/${name}`, testdata), 'utf8'));
    const expected = new Uint8Array(readFileSync(new URL(`output/${name}`, testdata)));
    const expectedHex = hexToBytes(
      readFileSync(new URL(`outhex/${name.replace(/json$/, 'txt')}`, testdata), 'utf8'),
    );
    const actual = canonicalBytes(input);
    expect(actual).toEqual(expected);
    expect(actual).toEqual(expectedHex);
  });
});
