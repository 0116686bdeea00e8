import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, parseJsonObject } from '../encoding.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { clockAt, expectFrozen, expectMpayError, resolverFor, T0_SECONDS } from '../test-support/fixtures.ts';
import { ACCOUNT_A, ACCOUNT_B, at, bindingFixture, DAY_SECONDS } from './fixture.test-helper.ts';
import { issueKeyBinding, type KeyBindingRequest } from './issue.ts';
import { KEY_BINDING_TYPE } from './payload.ts';
import { verifyKeyBinding } from './verify.ts';

let bank: GeneratedKeyPair;
let request: KeyBindingRequest;
let binding: string;

beforeAll(async () => {
  ({ bank, request, binding } = await bindingFixture());
});

describe('key bindings', () => {
  it('issue then verify returns the bound party, device, accounts (sorted) and keys, frozen', async () => {
    const verified = await verifyKeyBinding(binding, resolverFor(bank.publicJwk), {
      ...at(T0_SECONDS + DAY_SECONDS),
      issuer: 'xbank',
    });
    expect(verified).toEqual({
      issuer: 'xbank',
      subject: 'john.bernard@person.xbank',
      serialNumber: 'kb-000001',
      deviceId: 'phone-1',
      accounts: [ACCOUNT_A, ACCOUNT_B],
      issuedAt: T0_SECONDS,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      signingJwk: request.signingJwk,
      encryptionJwk: request.encryptionJwk,
      issuerKid: bank.kid,
    });
    expectFrozen(verified);
    expectFrozen(verified.accounts);
    const header = parseJsonObject(decodeBase64url(binding.split('.')[0]!)!);
    expect(header).toEqual({ alg: 'ES256', kid: bank.kid, typ: KEY_BINDING_TYPE });
    const payload = parseJsonObject(decodeBase64url(binding.split('.')[1]!)!)!;
    expect(Object.keys(payload).sort()).toEqual([
      'accounts',
      'deviceId',
      'encryptionJwk',
      'exp',
      'iat',
      'iss',
      'nbf',
      'serialNumber',
      'signingJwk',
      'sub',
    ]);
  });

  it('is expired before nbf and from exp on, with the clock skew', async () => {
    const resolve = resolverFor(bank.publicJwk);
    await expect(verifyKeyBinding(binding, resolve, at(T0_SECONDS - 60))).resolves.toBeDefined();
    await expectMpayError(verifyKeyBinding(binding, resolve, at(T0_SECONDS - 61)), 'KEY_BINDING_EXPIRED');
    await expect(verifyKeyBinding(binding, resolve, at(request.notAfter + 59))).resolves.toBeDefined();
    await expectMpayError(
      verifyKeyBinding(binding, resolve, at(request.notAfter + 60)),
      'KEY_BINDING_EXPIRED',
    );
    await expectMpayError(
      verifyKeyBinding(binding, resolve, { ...at(request.notAfter), clockSkewSeconds: 0 }),
      'KEY_BINDING_EXPIRED',
    );
  });

  it('is revoked when isRevoked says so for its serial number, and only after the signature verified', async () => {
    const seen: string[] = [];
    const isRevoked = async (serialNumber: string) => {
      seen.push(serialNumber);
      return true;
    };
    await expectMpayError(
      verifyKeyBinding(binding, resolverFor(bank.publicJwk), { isRevoked, now: clockAt(T0_SECONDS) }),
      'KEY_BINDING_REVOKED',
    );
    expect(seen).toEqual(['kb-000001']);
    await expectMpayError(
      verifyKeyBinding(binding, resolverFor(), { isRevoked, now: clockAt(T0_SECONDS) }),
      'KEY_BINDING_INVALID',
    );
    expect(seen).toEqual(['kb-000001']);
  });

  it('refuses to issue for private, foreign or mislabelled keys, bad accounts or validity', async () => {
    const signing = await generateSigningKeyPair();
    await expectMpayError(
      issueKeyBinding({ ...request, signingJwk: signing.privateJwk }, bank.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    await expectMpayError(
      issueKeyBinding({ ...request, signingJwk: { ...signing.publicJwk, kid: 'mine' } }, bank.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    await expectMpayError(
      issueKeyBinding({ ...request, encryptionJwk: request.signingJwk }, bank.privateJwk),
      'CRYPTO_KEY_INVALID',
    );
    const nine = Array.from({ length: 9 }, (_, index) => `${ACCOUNT_A.slice(0, -1)}${index}`);
    for (const accounts of [[], [ACCOUNT_A, ACCOUNT_A], nine, ['not-a-uuid'], [ACCOUNT_A.toUpperCase()]]) {
      await expect(issueKeyBinding({ ...request, accounts }, bank.privateJwk)).rejects.toThrow(
        'assertion failed',
      );
    }
    await expect(issueKeyBinding({ ...request, deviceId: 'a b' }, bank.privateJwk)).rejects.toThrow(
      'assertion failed',
    );
    await expect(
      issueKeyBinding({ ...request, notAfter: request.notBefore }, bank.privateJwk),
    ).rejects.toThrow('assertion failed');
  });
});
