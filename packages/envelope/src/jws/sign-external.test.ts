import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../keys/generate.ts';
import { signPayload } from './sign.ts';
import { verifyPayload } from './verify.ts';

const claims = {
  issuer: 'john@person.xbank',
  audience: 'fsp.mpay',
  transactionId: 'p1',
  expiresInSeconds: 60,
};

describe('signing with a key held elsewhere (an HSM)', () => {
  it('gives the same kind of compact JWS, which verifies under the public key', async () => {
    const pair = await generateSigningKeyPair();
    const held = createPrivateKey({ key: pair.privateJwk as never, format: 'jwk' });
    const seen: Uint8Array[] = [];
    const jws = await signPayload({ amount: '12.50' }, claims, {
      kid: pair.publicJwk.kid!,
      alg: 'ES256',
      sign: async (input) => {
        seen.push(input);
        return nodeSign('sha256', input, { key: held, dsaEncoding: 'ieee-p1363' });
      },
    });
    expect(seen).toHaveLength(1);
    expect(new TextDecoder().decode(seen[0])).toBe(jws.split('.').slice(0, 2).join('.'));
    const verified = await verifyPayload(jws, async () => pair.publicJwk, {
      issuer: claims.issuer,
      audience: claims.audience,
      transactionId: claims.transactionId,
    });
    expect(verified.payload.amount).toBe('12.50');
  });

  it('fails closed: a holder that fails or signs wrongly gives no valid signature', async () => {
    const pair = await generateSigningKeyPair();
    const key = { kid: pair.publicJwk.kid!, alg: 'ES256' as const };
    await expect(
      signPayload({}, claims, { ...key, sign: async () => Promise.reject(new Error('token removed')) }),
    ).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
    const forged = await signPayload({}, claims, { ...key, sign: async () => new Uint8Array(64) });
    await expect(
      verifyPayload(forged, async () => pair.publicJwk, {
        issuer: claims.issuer,
        audience: claims.audience,
        transactionId: claims.transactionId,
      }),
    ).rejects.toMatchObject({ code: 'CRYPTO_VERIFICATION_FAILED' });
  });
});
