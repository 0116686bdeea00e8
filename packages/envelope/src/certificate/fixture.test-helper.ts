import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
} from '../keys/generate.ts';
import { clockAt, T0_SECONDS } from '../test-support/fixtures.ts';
import { issueKeyCertificate, type KeyCertificateRequest } from './issue.ts';

export const DAY_SECONDS = 86_400;

/** Verification options at a given instant, with nothing revoked. */
export const at = (seconds: number) => ({ isRevoked: () => false, now: clockAt(seconds) });

/** An FSP key and one certificate it issued for John Bernard, valid for a year from T0. */
export async function certificateFixture(): Promise<{
  fsp: GeneratedKeyPair;
  request: KeyCertificateRequest;
  certificate: string;
}> {
  const fsp = await generateSigningKeyPair();
  const signing = await generateSigningKeyPair('EdDSA');
  const encryption = await generateEncryptionKeyPair();
  const request: KeyCertificateRequest = {
    issuer: 'gateway',
    subject: 'john.bernard@person.xbank',
    signingJwk: signing.publicJwk,
    encryptionJwk: encryption.publicJwk,
    notBefore: T0_SECONDS,
    notAfter: T0_SECONDS + 365 * DAY_SECONDS,
    serialNumber: 'c-000001',
    now: clockAt(T0_SECONDS),
  };
  return { fsp, request, certificate: await issueKeyCertificate(request, fsp.privateJwk) };
}
