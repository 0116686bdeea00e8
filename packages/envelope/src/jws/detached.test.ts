import { detachPayload } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../keys/index.ts';
import { attachCanonicalPayload } from './detached.ts';
import { signPayload } from './sign.ts';
import { decodeUnverified, verifyPayload } from './verify.ts';

describe('attachCanonicalPayload', () => {
  it('rebuilds exactly the JWS signed, from the payload in any member order; only that payload verifies', async () => {
    const { privateJwk, publicJwk } = await generateSigningKeyPair('ES256');
    const expected = { issuer: 'a', audience: 'b', transactionId: 't' };
    const jws = await signPayload(
      { b: 'two', a: 1, nested: { z: true, y: [3, 2] } },
      { ...expected, expiresInSeconds: 60 },
      privateJwk,
    );
    const detached = detachPayload(jws);
    expect(detached.split('.')[1]).toBe('');
    const signed = decodeUnverified(jws)?.payload as Record<string, unknown>;
    // The same members listed backwards: the canonical bytes, and so the JWS, are the same.
    const reversed = Object.fromEntries(Object.entries(signed).reverse());
    expect(Object.keys(reversed)).not.toEqual(Object.keys(signed));
    expect(attachCanonicalPayload(detached, reversed)).toBe(jws);
    const resolve = async () => publicJwk;
    await expect(
      verifyPayload(attachCanonicalPayload(detached, reversed), resolve, expected),
    ).resolves.toBeDefined();
    await expect(
      verifyPayload(attachCanonicalPayload(detached, { ...signed, a: 2 }), resolve, expected),
    ).rejects.toMatchObject({ code: 'CRYPTO_VERIFICATION_FAILED' });
  });
});
