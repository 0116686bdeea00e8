import { beforeAll, describe, expect, it } from 'vitest';
import { issueKeyCertificate } from '../certificate/issue.ts';
import { verifyKeyCertificate } from '../certificate/verify.ts';
import { decodeBase64url, encodeBase64url } from '../encoding.ts';
import { signCanonical, signPayload } from '../jws/sign.ts';
import { verifyPayload } from '../jws/verify.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { expectMpayError, resolverFor, T0_SECONDS, withSegment } from '../test-support/fixtures.ts';
import { ACCOUNT_A, ACCOUNT_B, at, bindingFixture } from './fixture.test-helper.ts';
import { issueKeyBinding, type KeyBindingRequest } from './issue.ts';
import { KEY_BINDING_TYPE } from './payload.ts';
import { verifyKeyBinding } from './verify.ts';

let bank: GeneratedKeyPair;
let request: KeyBindingRequest;
let binding: string;

beforeAll(async () => {
  ({ bank, request, binding } = await bindingFixture());
});

/** The payload members of a valid binding, to be spoiled one at a time and signed by the bank's own key. */
function content(): Record<string, unknown> {
  return {
    iss: 'xbank',
    sub: request.subject,
    iat: T0_SECONDS,
    nbf: T0_SECONDS,
    exp: T0_SECONDS + 10,
    serialNumber: 'kb-2',
    deviceId: 'phone-1',
    accounts: [ACCOUNT_A, ACCOUNT_B],
    signingJwk: request.signingJwk,
    encryptionJwk: request.encryptionJwk,
  };
}

async function expectInvalid(jws: string): Promise<void> {
  await expectMpayError(
    verifyKeyBinding(jws, resolverFor(bank.publicJwk), at(T0_SECONDS)),
    'KEY_BINDING_INVALID',
  );
}

describe('key bindings that are invalid', () => {
  it('verifies the well-formed content these cases spoil', async () => {
    await expect(
      verifyKeyBinding(
        await signCanonical(content(), bank.privateJwk, KEY_BINDING_TYPE),
        resolverFor(bank.publicJwk),
        at(T0_SECONDS),
      ),
    ).resolves.toMatchObject({ serialNumber: 'kb-2' });
  });

  it('is invalid when forged, tampered, under an unknown bank key, or from another bank', async () => {
    const forger = await generateSigningKeyPair();
    await expectInvalid(await issueKeyBinding(request, { ...forger.privateJwk, kid: bank.kid }));
    const payloadBytes = decodeBase64url(binding.split('.')[1]!)!;
    payloadBytes[10]! ^= 1;
    await expectInvalid(withSegment(binding, 1, encodeBase64url(payloadBytes)));
    await expectMpayError(verifyKeyBinding(binding, resolverFor(), at(T0_SECONDS)), 'KEY_BINDING_INVALID');
    await expectMpayError(
      verifyKeyBinding(binding, resolverFor(forger.publicJwk), at(T0_SECONDS)),
      'KEY_BINDING_INVALID',
    );
    await expectMpayError(
      verifyKeyBinding(binding, resolverFor(bank.publicJwk), { ...at(T0_SECONDS), issuer: 'ybank' }),
      'KEY_BINDING_INVALID',
    );
    await expectMpayError(
      verifyKeyBinding(12, resolverFor(bank.publicJwk), at(T0_SECONDS)),
      'KEY_BINDING_INVALID',
    );
  });

  it('is never a key certificate or a message, and neither is ever a binding', async () => {
    const certificate = await issueKeyCertificate(
      {
        issuer: 'xbank',
        subject: request.subject,
        signingJwk: request.signingJwk,
        encryptionJwk: request.encryptionJwk,
        notBefore: request.notBefore,
        notAfter: request.notAfter,
        serialNumber: 'kb-000001',
      },
      bank.privateJwk,
    );
    await expectInvalid(certificate);
    await expectMpayError(
      verifyKeyCertificate(binding, resolverFor(bank.publicJwk), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
    await expectMpayError(
      verifyPayload(binding, resolverFor(bank.publicJwk), { audience: 'xbank' }),
      'CRYPTO_VERIFICATION_FAILED',
    );
    await expectInvalid(await signCanonical(content(), bank.privateJwk, 'mpay+jws'));
    const message = await signPayload(
      {},
      { issuer: 'xbank', audience: 'x', transactionId: 't', expiresInSeconds: 60 },
      bank.privateJwk,
    );
    await expectInvalid(message);
  });

  it('is invalid with a member added or missing', async () => {
    await expectInvalid(
      await signCanonical({ ...content(), extra: true }, bank.privateJwk, KEY_BINDING_TYPE),
    );
    for (const member of Object.keys(content())) {
      const { [member]: _removed, ...rest } = content();
      await expectInvalid(await signCanonical(rest, bank.privateJwk, KEY_BINDING_TYPE));
    }
  });

  it('is invalid with accounts unsorted, repeated, empty, too many or not UUIDs', async () => {
    const nine = Array.from({ length: 9 }, (_, index) => `${ACCOUNT_A.slice(0, -1)}${index}`);
    const accountLists: unknown[] = [
      [ACCOUNT_B, ACCOUNT_A],
      [ACCOUNT_A, ACCOUNT_A],
      [],
      nine,
      ['not-a-uuid'],
      [ACCOUNT_A.toUpperCase()],
      ACCOUNT_A,
      [1],
    ];
    for (const accounts of accountLists) {
      await expectInvalid(await signCanonical({ ...content(), accounts }, bank.privateJwk, KEY_BINDING_TYPE));
    }
  });

  it('is invalid with a bad device id, private or swapped keys, a kid that is not the thumbprint, or nbf ≥ exp', async () => {
    const signing = await generateSigningKeyPair();
    const base = content();
    const bad = [
      { ...base, deviceId: '' },
      { ...base, deviceId: 'x'.repeat(65) },
      { ...base, deviceId: 'has space' },
      { ...base, signingJwk: signing.privateJwk },
      { ...base, signingJwk: request.encryptionJwk, encryptionJwk: request.signingJwk },
      { ...base, signingJwk: { ...signing.publicJwk, kid: bank.kid } },
      { ...base, nbf: base.exp },
      { ...base, serialNumber: 'has space' },
      { ...base, sub: '' },
      { ...base, iat: -1 },
    ];
    for (const spoiled of bad) {
      await expectInvalid(await signCanonical(spoiled, bank.privateJwk, KEY_BINDING_TYPE));
    }
  });
});
