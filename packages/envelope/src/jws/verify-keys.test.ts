import { MpayError } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url } from '../encoding.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { expectMpayError, resolverFor, signRawEs256 } from '../test-support/fixtures.ts';
import { expectations, options, signedMessageFixture } from '../test-support/signed-message.ts';
import { verifyPayload } from './verify.ts';

let es256: GeneratedKeyPair;
let ed25519: GeneratedKeyPair;
let token: string;

beforeAll(async () => {
  ({ es256, ed25519, token } = await signedMessageFixture());
});

describe('verifyPayload rejects unknown keys and oversize or malformed tokens', () => {
  const resolve = () => resolverFor(es256.publicJwk);
  const verify = (jws: unknown) => verifyPayload(jws, resolve(), expectations, options);

  it('a missing kid, an unknown kid, and a key bound to another algorithm', async () => {
    const payload = decodeBase64url(token.split('.')[1]!)!;
    const withoutKid = await signRawEs256('{"alg":"ES256","typ":"mpay+jws"}', payload, es256.privateJwk);
    await expectMpayError(verify(withoutKid), 'CRYPTO_VERIFICATION_FAILED');
    await expectMpayError(
      verifyPayload(token, resolverFor(), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const ed25519UnderEs256Kid = { ...ed25519.publicJwk, kid: es256.kid };
    await expectMpayError(
      verifyPayload(token, resolverFor(ed25519UnderEs256Kid), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const other = await generateSigningKeyPair();
    await expectMpayError(
      verifyPayload(token, () => ({ ...other.publicJwk }), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('lets an MpayError from the resolver through and hides any other error', async () => {
    const unknown = () => Promise.reject(new (class extends Error {})('db down'));
    await expectMpayError(verifyPayload(token, unknown, expectations, options), 'CRYPTO_VERIFICATION_FAILED');
    const keyUnknown = () => Promise.reject(new MpayError('KEY_UNKNOWN'));
    await expectMpayError(verifyPayload(token, keyUnknown, expectations, options), 'KEY_UNKNOWN');
  });

  it('tokens over the length limit, malformed tokens and non-strings', async () => {
    await expectMpayError(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: token.length - 1 }),
      'CRYPTO_VERIFICATION_FAILED',
    );
    await expect(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: token.length }),
    ).resolves.toBeDefined();
    for (const malformed of [
      '',
      '..',
      `${token}.`,
      token.replace('.', ''),
      `${token}=`,
      ` ${token}`,
      42,
      null,
    ]) {
      await expectMpayError(verify(malformed), 'CRYPTO_VERIFICATION_FAILED');
    }
    await expect(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: 0 }),
    ).rejects.toThrow(RangeError);
  });
});
