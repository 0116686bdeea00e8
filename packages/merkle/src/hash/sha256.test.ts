import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256, sha256WebCrypto } from './sha256.ts';

describe('sha256', () => {
  it('the Node fast path and WebCrypto agree on any input, views included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(8), async (bytes, cut) => {
        const view = bytes.subarray(Math.min(cut, bytes.length));
        const fast = await sha256(view);
        expect(fast).toEqual(await sha256WebCrypto(view));
        expect(fast.byteOffset).toBe(0);
        expect(fast.buffer.byteLength).toBe(32);
      }),
      { numRuns: 200 },
    );
  });
});
