import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
} from '../keys/generate.ts';
import { clockAt, T0_SECONDS } from '../test-support/fixtures.ts';
import { issueKeyBinding, type KeyBindingRequest } from './issue.ts';

export const DAY_SECONDS = 86_400;

/** Verification options at a given instant, with nothing revoked. */
export const at = (seconds: number) => ({ isRevoked: () => false, now: clockAt(seconds) });

export const ACCOUNT_A = '0a1b2c3d-0000-4000-8000-000000000001';
export const ACCOUNT_B = '0a1b2c3d-0000-4000-8000-000000000002';

/** A bank key and one binding it issued for John Bernard's phone and two accounts, valid for a year from T0. */
export async function bindingFixture(): Promise<{
  bank: GeneratedKeyPair;
  request: KeyBindingRequest;
  binding: string;
}> {
  const bank = await generateSigningKeyPair();
  const signing = await generateSigningKeyPair();
  const encryption = await generateEncryptionKeyPair();
  const request: KeyBindingRequest = {
    issuer: 'xbank',
    subject: 'john.bernard@person.xbank',
    deviceId: 'phone-1',
    // Given unsorted: the issuer sorts them.
    accounts: [ACCOUNT_B, ACCOUNT_A],
    signingJwk: signing.publicJwk,
    encryptionJwk: encryption.publicJwk,
    notBefore: T0_SECONDS,
    notAfter: T0_SECONDS + 365 * DAY_SECONDS,
    serialNumber: 'kb-000001',
    now: clockAt(T0_SECONDS),
  };
  return { bank, request, binding: await issueKeyBinding(request, bank.privateJwk) };
}
