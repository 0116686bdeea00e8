import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode, isWellFormedText, utf8Decode } from './bytes.ts';
import { toUint64 } from './tree-size.ts';

describe('bytes', () => {
  it('decodes only canonical, padded standard base64', () => {
    expect(base64Decode('')).toEqual(new Uint8Array(0));
    expect(base64Decode('AA==')).toEqual(new Uint8Array([0]));
    expect(base64Decode('+/+/')).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]));
    for (const bad of ['AA', 'AA=', 'AB==', 'AAB=', 'A===', '-_-_', 'AA==AA==', ' AA==', 'AA==\n', 'A A=']) {
      expect(base64Decode(bad), bad).toBeUndefined();
    }
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64Decode(base64Encode(bytes))).toEqual(bytes);
  });

  it('decodes strict UTF-8 and spots unpaired surrogates', () => {
    expect(utf8Decode(new Uint8Array([0xe2, 0x80, 0x94]))).toBe('\u2014');
    expect(utf8Decode(new Uint8Array([0xff]))).toBeUndefined();
    expect(utf8Decode(new Uint8Array([0xed, 0xa0, 0x80]))).toBeUndefined();
    expect(utf8Decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe('\ufeffa');
    expect(isWellFormedText('\ud83d\ude00')).toBe(true);
    expect(isWellFormedText('\ud83d')).toBe(false);
    expect(isWellFormedText('\ude00x')).toBe(false);
  });

  it('accepts tree sizes as safe integers or uint64 bigints only', () => {
    expect(toUint64(0)).toBe(0n);
    expect(toUint64(Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(toUint64((1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
    for (const bad of [-1, 0.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, -1n, 1n << 64n]) {
      expect(toUint64(bad)).toBeUndefined();
    }
  });
});
