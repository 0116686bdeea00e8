import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url } from '../encoding.ts';
import { signCanonical, signPayload } from '../jws/sign.ts';
import { verifyPayload } from '../jws/verify.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { expectMpayError, resolverFor, T0_SECONDS, withSegment } from '../test-support/fixtures.ts';
import { at, certificateFixture } from './fixture.test-helper.ts';
import { issueKeyCertificate, type KeyCertificateRequest } from './issue.ts';
import { CERTIFICATE_TYPE } from './payload.ts';
import { verifyKeyCertificate } from './verify.ts';

let fsp: GeneratedKeyPair;
let request: KeyCertificateRequest;
let certificate: string;

beforeAll(async () => {
  ({ fsp, request, certificate } = await certificateFixture());
});

describe('key certificates that are invalid', () => {
  it('is invalid when forged, tampered, from an unknown FSP key, or from another issuer', async () => {
    const forger = await generateSigningKeyPair();
    const forged = await issueKeyCertificate(request, { ...forger.privateJwk, kid: fsp.kid });
    await expectMpayError(
      verifyKeyCertificate(forged, resolverFor(fsp.publicJwk), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
    const payloadBytes = decodeBase64url(certificate.split('.')[1]!)!;
    payloadBytes[10]! ^= 1;
    const tampered = withSegment(certificate, 1, encodeBase64url(payloadBytes));
    await expectMpayError(
      verifyKeyCertificate(tampered, resolverFor(fsp.publicJwk), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
    await expectMpayError(
      verifyKeyCertificate(certificate, resolverFor(), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
    await expectMpayError(
      verifyKeyCertificate(certificate, resolverFor(fsp.publicJwk), { ...at(T0_SECONDS), issuer: 'other' }),
      'CERTIFICATE_INVALID',
    );
  });
  it('is invalid with the wrong typ, and a certificate is never a message', async () => {
    const content = {
      iss: 'gateway',
      sub: request.subject,
      iat: T0_SECONDS,
      nbf: request.notBefore,
      exp: request.notAfter,
      serialNumber: 'c-2',
      signingJwk: request.signingJwk,
      encryptionJwk: request.encryptionJwk,
    };
    const wrongType = await signCanonical(content, fsp.privateJwk, 'mpay+jws');
    await expectMpayError(
      verifyKeyCertificate(wrongType, resolverFor(fsp.publicJwk), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
    await expect(
      verifyKeyCertificate(
        await signCanonical(content, fsp.privateJwk, CERTIFICATE_TYPE),
        resolverFor(fsp.publicJwk),
        at(T0_SECONDS),
      ),
    ).resolves.toBeDefined();
    await expectMpayError(
      verifyPayload(certificate, resolverFor(fsp.publicJwk), { audience: 'gateway' }),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const message = await signPayload(
      {},
      { issuer: 'gateway', audience: 'x', transactionId: 't', expiresInSeconds: 60 },
      fsp.privateJwk,
    );
    await expectMpayError(
      verifyKeyCertificate(message, resolverFor(fsp.publicJwk), at(T0_SECONDS)),
      'CERTIFICATE_INVALID',
    );
  });
  it('is invalid with extra or missing members, a private key, a swapped use, or a kid that is not the thumbprint', async () => {
    const base = {
      iss: 'gateway',
      sub: 's',
      iat: T0_SECONDS,
      nbf: T0_SECONDS,
      exp: T0_SECONDS + 10,
      serialNumber: 'c-3',
      signingJwk: request.signingJwk,
      encryptionJwk: request.encryptionJwk,
    };
    const signing = await generateSigningKeyPair();
    const bad = [
      { ...base, extra: true },
      { ...base, serialNumber: undefined },
      { ...base, signingJwk: signing.privateJwk },
      { ...base, signingJwk: request.encryptionJwk, encryptionJwk: request.signingJwk },
      { ...base, signingJwk: { ...signing.publicJwk, kid: fsp.kid } },
      { ...base, nbf: base.exp },
      { ...base, serialNumber: 'has space' },
    ];
    for (const content of bad) {
      const forgedByFsp = await signCanonical(content, fsp.privateJwk, CERTIFICATE_TYPE);
      await expectMpayError(
        verifyKeyCertificate(forgedByFsp, resolverFor(fsp.publicJwk), at(T0_SECONDS)),
        'CERTIFICATE_INVALID',
      );
    }
  });
});
