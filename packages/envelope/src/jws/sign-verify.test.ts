import { canonicalBytes } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url } from '../encoding.ts';
import type { GeneratedKeyPair } from '../keys/generate.ts';
import { importPrivateKey, importPublicKey } from '../keys/import.ts';
import { clockAt, expectMpayError, resolverFor, T0_SECONDS } from '../test-support/fixtures.ts';
import {
  claims,
  expectations,
  options,
  payment,
  signedMessageFixture,
} from '../test-support/signed-message.ts';
import { signPayload } from './sign.ts';
import { decodeUnverified, verifyPayload } from './verify.ts';

let es256: GeneratedKeyPair;
let ed25519: GeneratedKeyPair;
let token: string;

beforeAll(async () => {
  ({ es256, ed25519, token } = await signedMessageFixture());
});

describe('signPayload / verifyPayload', () => {
  it.each(['ES256', 'EdDSA'] as const)('round-trips with %s', async (alg) => {
    const keyPair = alg === 'ES256' ? es256 : ed25519;
    const jws = await signPayload(payment, claims, keyPair.privateJwk);
    const verified = await verifyPayload(jws, resolverFor(keyPair.publicJwk), expectations, options);
    expect(verified.header).toEqual({ alg, kid: keyPair.kid, typ: 'mpay+jws' });
    expect(verified.kid).toBe(keyPair.kid);
    expect(verified.payload).toMatchObject(payment);
    expect(verified.claims).toMatchObject({ iss: claims.issuer, aud: 'gateway', txn: 'txn-1' });
    expect(verified.claims.exp - verified.claims.iat).toBe(120);
  });

  it('signs exactly the canonical bytes of payload plus claims', async () => {
    const [, payloadSegment] = token.split('.');
    const bytes = decodeBase64url(payloadSegment!)!;
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    expect(bytes).toEqual(canonicalBytes(parsed));
    expect(Object.keys(parsed).sort()).toEqual([
      'amount',
      'aud',
      'currency',
      'exp',
      'iat',
      'iss',
      'nonce',
      'payee',
      'txn',
    ]);
    expect(parsed.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('uses a fresh nonce per signature', async () => {
    const again = await signPayload(payment, claims, es256.privateJwk);
    expect(decodeUnverified(again)?.payload).not.toEqual(decodeUnverified(token)?.payload);
  });

  it('refuses a payload that already uses a claim name', async () => {
    for (const name of ['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']) {
      await expectMpayError(
        signPayload({ ...payment, [name]: 'x' }, claims, es256.privateJwk),
        'CLAIMS_INVALID',
      );
    }
  });

  it('signs with an imported non-extractable CryptoKey and verifies with a CryptoKey', async () => {
    const signingKey = await importPrivateKey(es256.privateJwk);
    if (signingKey.use !== 'sig') throw new Error('expected a signing key');
    const jws = await signPayload(payment, claims, signingKey);
    const { cryptoKey } = await importPublicKey(es256.publicJwk);
    await expect(verifyPayload(jws, () => cryptoKey, expectations, options)).resolves.toBeDefined();
  });

  it('separates message types: a token with another typ is not a message', async () => {
    const other = await signPayload(payment, claims, es256.privateJwk, { typ: 'mpay-other+jws' });
    await expectMpayError(
      verifyPayload(other, resolverFor(es256.publicJwk), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    await expect(
      verifyPayload(other, resolverFor(es256.publicJwk), expectations, { ...options, typ: 'mpay-other+jws' }),
    ).resolves.toBeDefined();
  });

  it('runs the claim checks after the signature', async () => {
    const resolve = resolverFor(es256.publicJwk);
    await expectMpayError(verifyPayload(token, resolve, { audience: 'xbank' }, options), 'CLAIMS_INVALID');
    await expectMpayError(
      verifyPayload(token, resolve, { ...expectations, issuer: 'x' }, options),
      'CLAIMS_INVALID',
    );
    await expectMpayError(
      verifyPayload(token, resolve, { ...expectations, transactionId: 'txn-2' }, options),
      'CLAIMS_INVALID',
    );
    await expectMpayError(
      verifyPayload(token, resolve, expectations, { now: clockAt(T0_SECONDS + 500) }),
      'MESSAGE_EXPIRED',
    );
    await expectMpayError(
      verifyPayload(token, resolve, expectations, { now: clockAt(T0_SECONDS - 100) }),
      'CLAIMS_INVALID',
    );
  });
});
