import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, parseJsonObject } from '../encoding.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { clockAt, expectMpayError, resolverFor, T0_SECONDS } from '../test-support/fixtures.ts';
import { at, certificateFixture, DAY_SECONDS } from './fixture.test-helper.ts';
import { issueKeyCertificate, type KeyCertificateRequest } from './issue.ts';
import { CERTIFICATE_TYPE } from './payload.ts';
import { verifyKeyCertificate } from './verify.ts';

let fsp: GeneratedKeyPair;
let request: KeyCertificateRequest;
let certificate: string;

beforeAll(async () => {
  ({ fsp, request, certificate } = await certificateFixture());
});

describe('key certificates', () => {
  it('issue then verify returns the certified fields and keys', async () => {
    const verified = await verifyKeyCertificate(certificate, resolverFor(fsp.publicJwk), {
      ...at(T0_SECONDS + DAY_SECONDS),
      issuer: 'gateway',
    });
    expect(verified).toEqual({
      issuer: 'gateway',
      subject: request.subject,
      serialNumber: 'c-000001',
      issuedAt: T0_SECONDS,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      signingJwk: request.signingJwk,
      encryptionJwk: request.encryptionJwk,
      issuerKid: fsp.kid,
    });
    const header = parseJsonObject(decodeBase64url(certificate.split('.')[0]!)!);
    expect(header).toEqual({ alg: 'ES256', kid: fsp.kid, typ: CERTIFICATE_TYPE });
  });

  it('is expired before nbf and after exp, with the clock skew', async () => {
    const resolve = resolverFor(fsp.publicJwk);
    await expect(verifyKeyCertificate(certificate, resolve, at(T0_SECONDS - 60))).resolves.toBeDefined();
    await expectMpayError(
      verifyKeyCertificate(certificate, resolve, at(T0_SECONDS - 61)),
      'CERTIFICATE_EXPIRED',
    );
    await expect(
      verifyKeyCertificate(certificate, resolve, at(request.notAfter + 59)),
    ).resolves.toBeDefined();
    await expectMpayError(
      verifyKeyCertificate(certificate, resolve, at(request.notAfter + 60)),
      'CERTIFICATE_EXPIRED',
    );
  });

  it('is revoked when isRevoked says so for its serial number', async () => {
    const seen: string[] = [];
    const isRevoked = async (serialNumber: string) => {
      seen.push(serialNumber);
      return true;
    };
    await expectMpayError(
      verifyKeyCertificate(certificate, resolverFor(fsp.publicJwk), { isRevoked, now: clockAt(T0_SECONDS) }),
      'CERTIFICATE_REVOKED',
    );
    expect(seen).toEqual(['c-000001']);
  });

  it('refuses to issue for private, foreign or mislabelled keys', async () => {
    const signing = await generateSigningKeyPair();
    await expectMpayError(
      issueKeyCertificate({ ...request, signingJwk: signing.privateJwk }, fsp.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    await expectMpayError(
      issueKeyCertificate({ ...request, signingJwk: { ...signing.publicJwk, kid: 'mine' } }, fsp.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    await expectMpayError(
      issueKeyCertificate({ ...request, encryptionJwk: request.signingJwk }, fsp.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    await expect(
      issueKeyCertificate({ ...request, notAfter: request.notBefore }, fsp.privateJwk),
    ).rejects.toThrow();
  });
});
