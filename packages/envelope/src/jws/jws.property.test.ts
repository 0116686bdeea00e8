import { canonicalize, isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLAIM_NAMES } from '../claims.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { clockAt, resolverFor, T0_SECONDS } from '../test-support/fixtures.ts';
import { signPayload } from './sign.ts';
import { verifyPayload } from './verify.ts';

const claims = {
  issuer: 'xbank',
  audience: 'gateway',
  transactionId: 't',
  expiresInSeconds: 60,
  now: clockAt(T0_SECONDS),
};
const expectations = { audience: 'gateway' };
const options = { now: clockAt(T0_SECONDS) };
const claimNames: readonly string[] = CLAIM_NAMES;
const payloads = fc.dictionary(
  fc.string().filter((name) => !claimNames.includes(name)),
  fc.jsonValue(),
);

let keyPairs: GeneratedKeyPair[];

beforeAll(async () => {
  keyPairs = [await generateSigningKeyPair('ES256'), await generateSigningKeyPair('EdDSA')];
});

describe('JWS properties', () => {
  it('sign then verify returns the payload, for any JSON object and both algorithms', async () => {
    await fc.assert(
      fc.asyncProperty(payloads, fc.integer({ min: 0, max: 1 }), async (payload, which) => {
        const keyPair = keyPairs[which]!;
        const jws = await signPayload(payload, claims, keyPair.privateJwk);
        const { payload: verified, claims: verifiedClaims } = await verifyPayload(
          jws,
          resolverFor(keyPair.publicJwk),
          expectations,
          options,
        );
        expect(canonicalize(verified)).toBe(canonicalize({ ...payload, ...verifiedClaims }));
      }),
      { numRuns: 150 },
    );
  });

  it('any single-character change of a compact JWS fails verification', async () => {
    const payload = { amount: '1250', currency: 'EUR', note: 'ünïcödé €' };
    const tokens = await Promise.all(
      keyPairs.map((keyPair) => signPayload(payload, claims, keyPair.privateJwk)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        async (which, position, code) => {
          const token = tokens[which]!;
          const index = position % token.length;
          fc.pre(token.charCodeAt(index) !== code);
          const mutated = token.slice(0, index) + String.fromCharCode(code) + token.slice(index + 1);
          const resolve = resolverFor(keyPairs[which]!.publicJwk);
          const error = await verifyPayload(mutated, resolve, expectations, options).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(isMpayError(error)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('changing the last character of any segment fails (the unused base64url bits)', async () => {
    const token = await signPayload({ a: 1 }, claims, keyPairs[0]!.privateJwk);
    const resolve = resolverFor(keyPairs[0]!.publicJwk);
    const ends = token.split('.').map((_segment, index, all) => all.slice(0, index + 1).join('.').length - 1);
    for (const end of ends) {
      for (const replacement of 'AQgw_-9'.split('')) {
        if (token[end] === replacement) continue;
        const mutated = token.slice(0, end) + replacement + token.slice(end + 1);
        await expect(verifyPayload(mutated, resolve, expectations, options)).rejects.toThrow();
      }
    }
  });
});
