import { randomUUID } from 'node:crypto';
import { generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { authenticatorCode, enrolDevice } from '@mpay/sdk';
import { type Secret, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankEncryptionKey } from '../bank-identity.ts';
import { issueTestEnrolmentCode, startTestBank, type TestBank, uniquePartyId } from '../test-helpers.ts';
import { openTotpSecret } from './secret.ts';

// The second factor is provisioned at the customer's first enrolment, to the
// enrolling device only (SDK's enrolDevice, the real client), and kept at the
// bank sealed: no route and no column gives it back.

let bank: TestBank;
let plain: TestBank;

beforeAll(async () => {
  [bank, plain] = await Promise.all([startTestBank(), startTestBank({ encryptionKey: false })]);
});

afterAll(async () => {
  await Promise.all([bank.close(), plain.close()]);
});

async function newDevice() {
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  return { signing, encryption };
}

async function enrolNewDevice(
  on: TestBank,
  partyId: string,
  account: string,
  deviceId = `phone-${randomUUID().slice(0, 8)}`,
) {
  const code = await issueTestEnrolmentCode(on, partyId, [account]);
  const keys = await newDevice();
  const invitation = { bankUrl: on.url, bankId: on.name, partyId, code };
  return { invitation, deviceId, keys, enrolment: await enrolDevice(invitation, deviceId, keys) };
}

async function secondFactorRow(partyId: string) {
  const { rows } = await bank.database.query<Record<string, unknown>>(
    'SELECT * FROM second_factors WHERE party_id = $1',
    [partyId],
  );
  return rows[0];
}

describe('the second factor at enrolment', () => {
  it('goes to the first enrolled device, sealed to its key, as an otpauth URI; with the bank’s encryption key', async () => {
    const partyId = uniquePartyId('person', 'xbank', 'john');
    const account = await bank.openAccount('customer', 'EUR', partyId);
    const { enrolment } = await enrolNewDevice(bank, partyId, account);
    const published = await fetch(`${bank.url}/bank`).then((response) => response.json());
    expect(enrolment.bankEncryptionJwk).toEqual(published.encryptionJwk);
    const authenticator = enrolment.authenticator!;
    expect(authenticator).toMatch(/^otpauth:\/\/totp\/xbank:/);
    expect(URI.parse(authenticator)).toMatchObject({
      label: partyId,
      issuer: 'xbank',
      digits: 6,
      period: 30,
    });
    expect(authenticatorCode(authenticator)).toMatch(/^[0-9]{6}$/);
    const row = await secondFactorRow(partyId);
    expect(row).toMatchObject({ state: 'active', failed_attempts: 0, provisioned_to: enrolment.serial });
  });

  it('is stored sealed to the bank’s own key: no column of any table holds the secret', async () => {
    const partyId = uniquePartyId('person', 'xbank', 'mila');
    const account = await bank.openAccount('customer', 'EUR', partyId);
    const { enrolment } = await enrolNewDevice(bank, partyId, account);
    const secret = (URI.parse(enrolment.authenticator!).secret as Secret).base32;
    for (const table of ['second_factors', 'key_bindings', 'idempotency_keys', 'enrolment_codes']) {
      const { rows } = await bank.database.query(
        `SELECT 1 FROM ${table} AS t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'`,
        [secret],
      );
      expect(rows, table).toEqual([]);
    }
    // The sealed row names its party: moved onto another party, it does not open.
    const sealed = (await secondFactorRow(partyId))!.sealed_secret as string;
    const key = bankEncryptionKey(bank.encryptionKey!);
    expect((await openTotpSecret(sealed, key, partyId)).secret).toBe(secret);
    await expect(openTotpSecret(sealed, key, uniquePartyId('person', 'xbank', 'eve'))).rejects.toThrow(
      'assertion failed',
    );
  });

  it('is given once: a second device of the party gets none; a retry of the first enrolment gets the same again', async () => {
    const partyId = uniquePartyId('person', 'xbank', 'ann');
    const account = await bank.openAccount('customer', 'EUR', partyId);
    const first = await enrolNewDevice(bank, partyId, account);
    const retried = await enrolDevice(first.invitation, first.deviceId, first.keys);
    expect(retried).toEqual(first.enrolment);
    const second = await enrolNewDevice(bank, partyId, account);
    expect(second.enrolment.authenticator).toBeUndefined();
    expect(second.enrolment.bankEncryptionJwk).toEqual(first.enrolment.bankEncryptionJwk);
    expect(await enrolDevice(second.invitation, second.deviceId, second.keys)).toEqual(second.enrolment);
    expect(await secondFactorRow(partyId)).toMatchObject({ provisioned_to: first.enrolment.serial });
  });

  it('is not provisioned by a bank without an encryption key, which publishes none', async () => {
    const partyId = uniquePartyId('person', 'xbank', 'joe');
    const account = await plain.openAccount('customer', 'EUR', partyId);
    const { enrolment } = await enrolNewDevice(plain, partyId, account);
    expect(enrolment).toEqual({ serial: expect.any(String), binding: expect.any(String) });
    expect(await fetch(`${plain.url}/bank`).then((response) => response.json())).not.toHaveProperty(
      'encryptionJwk',
    );
  });
});
