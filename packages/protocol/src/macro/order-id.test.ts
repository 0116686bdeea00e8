import { describe, expect, it } from 'vitest';
import { macroOrderId } from './order-id.ts';
import { sha256 } from './scenario.test-helper.ts';

describe('macroOrderId', () => {
  it('is the SHA-256 of the NUL-joined parts as a UUID version 8 (digest taken with coreutils sha256sum)', () => {
    // printf 'macro-payment-order\0xbank\0006b1f3c9e-2d4a-4f8b-9c1d-0e7a5b3c2f10' | sha256sum
    // → dcda74963e8b67b3a3f8fdd52b725cbba93c5cfc40e33fb0759899b6db3cfd78
    // byte 6 0x67 → 0x87 (version 8), byte 8 0xa3 stays (variant 10).
    expect(macroOrderId('xbank', '6b1f3c9e-2d4a-4f8b-9c1d-0e7a5b3c2f10', sha256)).toBe(
      'dcda7496-3e8b-87b3-a3f8-fdd52b725cbb',
    );
  });

  it('differs per bank and per session, and refuses an empty or NUL-carrying part', () => {
    const session = '6b1f3c9e-2d4a-4f8b-9c1d-0e7a5b3c2f10';
    const ids = new Set([
      macroOrderId('xbank', session, sha256),
      macroOrderId('ybank', session, sha256),
      macroOrderId('xbank', '6b1f3c9e-2d4a-4f8b-9c1d-0e7a5b3c2f11', sha256),
    ]);
    expect(ids.size).toBe(3);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(() => macroOrderId('', session, sha256)).toThrow(/assertion failed/);
    expect(() => macroOrderId('x\u0000bank', session, sha256)).toThrow(/assertion failed/);
  });
});
