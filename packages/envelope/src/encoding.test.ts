import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url } from './encoding.ts';

const text = new TextEncoder();

describe('base64url', () => {
  it('the RFC 4648 §10 vectors, in the URL-safe alphabet without padding', () => {
    const vectors = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ] as const;
    for (const [plain, encoded] of vectors) {
      expect(encodeBase64url(text.encode(plain))).toBe(encoded);
      expect(decodeBase64url(encoded)).toEqual(text.encode(plain));
    }
  });

  it('agrees with Node’s own codec on every length up to 200 bytes and on every byte value', () => {
    const every = Uint8Array.from({ length: 256 }, (_, index) => index);
    const samples = [
      every,
      ...Array.from({ length: 201 }, (_, length) => crypto.getRandomValues(new Uint8Array(length))),
    ];
    for (const bytes of samples) {
      const expected = Buffer.from(bytes).toString('base64url');
      expect(encodeBase64url(bytes)).toBe(expected);
      expect(decodeBase64url(expected)).toEqual(bytes);
    }
  });

  it('refuses padding, the other alphabet, whitespace, non-ASCII, an impossible length and unused bits that are not zero', () => {
    for (const wrong of [
      'Zg==',
      'Zm9v+A',
      'Zm9v/A',
      'Zm9v YmFy',
      'Zm9v\nYmFy',
      'Zm9vé',
      'Zm9v\u0100',
      'Z',
      'Zm9vY',
      'Zh',
      'Zm9',
      'Zm9vYh',
    ]) {
      expect(decodeBase64url(wrong), wrong).toBeUndefined();
    }
    // One text per byte string: 'Zh' and 'Zg' would both read as 'f' if the unused bits were ignored.
    expect(decodeBase64url('Zg')).toEqual(text.encode('f'));
  });
});
