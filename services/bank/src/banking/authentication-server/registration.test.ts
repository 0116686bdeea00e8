import { createHash } from 'node:crypto';
import { encodeBase64url, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  errorCodeOf,
  type HttpAnswer,
  startTestBank,
  type TestBank,
  uniquePartyId,
} from '../../test-helpers.ts';
import {
  addTestBankingDevice,
  deviceCall,
  finishTestLogin,
  loginTestDevice,
  registerTestBankingCustomer,
  registerTestBankingDevice,
  registerTestPassword,
  signTestStatement,
  startTestLogin,
  type TestBankingDevice,
  testKeyStretching,
  testSimAndPhoneId,
} from './banking.test-helper.ts';

/**
 * Registration at the authentication server: the device's ID_C under its key
 * binding (POST /banking/devices) and the password by OPAQUE
 * (POST /banking/passwords/start, /finish), each signed by a bound key.
 */

let bank: TestBank;

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
});

afterAll(async () => {
  await bank.close();
});

const generic = { code: 'BANKING_REGISTRATION_FAILED', message: 'The mobile banking registration failed.' };

function expectRefused(answer: HttpAnswer): void {
  expect(answer.status).toBe(403);
  // Nothing says which check failed.
  expect(answer.body).toEqual({ error: generic });
}

async function deviceRows(serial: string) {
  const { rows } = await bank.database.query<Record<string, unknown>>(
    'SELECT party_id, sim, phone_id, registration FROM banking_devices WHERE serial = $1',
    [serial],
  );
  return rows;
}

describe('POST /banking/devices', () => {
  let device: TestBankingDevice;

  beforeAll(async () => {
    const partyId = uniquePartyId('person', bank.name, 'two-accounts');
    const accountIds = [
      await bank.openAccount('customer', 'EUR', partyId),
      await bank.openAccount('customer', 'EUR', partyId),
    ];
    device = await registerTestBankingCustomer(bank, {
      partyId,
      accountIds,
      registerDevice: false,
      registerPassword: false,
    });
  });

  it('registers the ID_C parts under the binding, once; the same again is answered the same', async () => {
    const first = await registerTestBankingDevice(bank, device);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      serial: device.key.serial,
      partyId: device.partyId,
      clientId: device.clientId,
    });
    const rows = await deviceRows(device.key.serial);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      party_id: device.partyId,
      sim: device.clientId.sim,
      phone_id: device.clientId.phoneId,
    });
    const again = await registerTestBankingDevice(bank, device);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await deviceRows(device.key.serial)).toEqual(rows);
  });

  it('refuses another content for a registered binding (another SIM, phone or account)', async () => {
    const other = testSimAndPhoneId();
    expect(device.accountIds).toHaveLength(2);
    for (const clientId of [
      { ...device.clientId, sim: other.sim },
      { ...device.clientId, phoneId: other.phoneId },
      { ...device.clientId, accountId: device.accountIds[1] ?? '' },
    ]) {
      expectRefused(await registerTestBankingDevice(bank, device, { clientId }));
    }
    expect(await deviceRows(device.key.serial)).toHaveLength(1);
  });

  it('refuses a user id that is not the signing party’s, an account the binding does not name, a non-customer', async () => {
    const fresh = await registerTestBankingCustomer(bank, { registerDevice: false, registerPassword: false });
    const notBound = await bank.openAccount('customer', 'EUR', fresh.partyId);
    expectRefused(await registerTestBankingDevice(bank, fresh, { userId: device.userId }));
    expectRefused(
      await registerTestBankingDevice(bank, fresh, { clientId: { ...fresh.clientId, accountId: notBound } }),
    );
    const stranger = await registerTestBankingCustomer(bank, {
      registerDevice: false,
      registerPassword: false,
    });
    await bank.database.query('DELETE FROM banking_customers WHERE party_id = $1', [stranger.partyId]);
    expectRefused(await registerTestBankingDevice(bank, stranger));
    expect(await deviceRows(fresh.key.serial)).toHaveLength(0);
    expect((await registerTestBankingDevice(bank, fresh)).status).toBe(201);
  });

  it('refuses a statement with another issuer, another txn, another member, or by an unbound key', async () => {
    const fresh = await registerTestBankingCustomer(bank, { registerDevice: false, registerPassword: false });
    const content = { userId: fresh.userId, clientId: fresh.clientId };
    const statements = [
      await signTestStatement(bank, fresh, 'bankingDevice', content, fresh.key.serial, {
        issuer: device.partyId,
      }),
      await signTestStatement(bank, fresh, 'bankingDevice', content, 'another-serial'),
      await signTestStatement(bank, fresh, 'bankingPassword', content, fresh.key.serial),
      await signPayload(
        { bankingDevice: content, extra: true },
        {
          issuer: fresh.partyId,
          audience: bank.name,
          transactionId: fresh.key.serial,
          expiresInSeconds: 60,
          now: () => bank.now().getTime(),
        },
        fresh.key.signing.privateJwk,
      ),
      await signTestStatement(bank, fresh, 'bankingDevice', content, fresh.key.serial, {
        signing: await generateSigningKeyPair(),
      }),
      await signTestStatement(bank, fresh, 'bankingDevice', { ...content, extra: 1 }, fresh.key.serial),
    ];
    for (const statement of statements) {
      expectRefused(await deviceCall(bank, '/banking/devices', { device: statement }));
    }
    expect(await deviceRows(fresh.key.serial)).toHaveLength(0);
  });

  it('refuses a revoked binding', async () => {
    const fresh = await registerTestBankingCustomer(bank, { registerDevice: false, registerPassword: false });
    const revoked = await bank.call(
      'POST',
      `/key-bindings/${fresh.key.serial}/revocation`,
      { reason: 'lost' },
      {
        'idempotency-key': crypto.randomUUID(),
      },
    );
    expect(revoked.status).toBe(201);
    expectRefused(await registerTestBankingDevice(bank, fresh));
  });

  it('validates the body strictly', async () => {
    for (const body of [{}, { device: 'not a jws' }, { device: 'a.b.c', extra: 1 }, { device: 42 }]) {
      expect((await deviceCall(bank, '/banking/devices', body)).status).toBe(400);
    }
    // Beyond the bank's body limit (16 KiB) before any schema.
    const long = { device: `${'a'.repeat(16_400)}.b.c` };
    expect((await deviceCall(bank, '/banking/devices', long)).status).toBe(413);
  });
});

function hashOf(message: string): string {
  return encodeBase64url(new Uint8Array(createHash('sha256').update(message, 'utf8').digest()));
}

async function passwordRow(partyId: string) {
  const { rows } = await bank.database.query<{
    opaque_record: string | null;
    password_registered_at: unknown;
  }>('SELECT opaque_record, password_registered_at FROM banking_customers WHERE party_id = $1', [partyId]);
  return rows[0];
}

describe('POST /banking/passwords', () => {
  it('registers the OPAQUE record once; then BANKING_PASSWORD_EXISTS until the bank resets it', async () => {
    const device = await registerTestBankingCustomer(bank, { registerPassword: false });
    expect(await passwordRow(device.partyId)).toEqual({ opaque_record: null, password_registered_at: null });
    const { start, finish } = await registerTestPassword(bank, device);
    expect(start.status).toBe(200);
    expect(Object.keys(start.body)).toEqual(['registrationResponse']);
    expect(finish?.status).toBe(201);
    expect(finish?.body).toEqual({
      userId: device.userId,
      registeredAt: expect.stringMatching(/^20[0-9-]+T[0-9:.]+Z$/),
    });
    const row = await passwordRow(device.partyId);
    expect(row?.opaque_record).toMatch(/^[A-Za-z0-9_-]{100,}$/);
    expect(row?.password_registered_at).not.toBeNull();

    const again = await registerTestPassword(bank, device, 'another password');
    expect(again.start.status).toBe(409);
    expect(errorCodeOf(again.start)).toBe('BANKING_PASSWORD_EXISTS');
    expect((await passwordRow(device.partyId))?.opaque_record).toBe(row?.opaque_record);
    await loginTestDevice(bank, device);

    // The operator's reset (its route belongs to the business logic server): a new password, the old one void.
    await bank.database.query(
      `UPDATE banking_customers SET opaque_record = NULL, opaque_credential_id = NULL,
       opaque_pending_credential_id = NULL WHERE party_id = $1`,
      [device.partyId],
    );
    expect((await registerTestPassword(bank, device, 'the new password')).finish?.status).toBe(201);
    const old = await startTestLogin(bank, device.userId, device.password);
    expect(errorCodeOf((await finishTestLogin(bank, device, old)).answer)).toBe('BANKING_LOGIN_FAILED');
    await loginTestDevice(bank, { ...device, password: 'the new password' });
  });

  it('refuses a finish while a password exists, even with a start made before', async () => {
    const device = await registerTestBankingCustomer(bank, { registerPassword: false });
    await opaque.ready;
    const first = opaque.client.startRegistration({ password: 'first' });
    const second = opaque.client.startRegistration({ password: 'second' });
    const records: string[] = [];
    for (const [state, password] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      const start = await deviceCall(bank, '/banking/passwords/start', {
        userId: device.userId,
        registrationRequest: state.registrationRequest,
        device: await signTestStatement(
          bank,
          device,
          'bankingPassword',
          { userId: device.userId, step: 'start', messageHash: hashOf(state.registrationRequest) },
          device.key.serial,
        ),
      });
      expect(start.status).toBe(200);
      records.push(
        opaque.client.finishRegistration({
          clientRegistrationState: state.clientRegistrationState,
          registrationResponse: start.body.registrationResponse as string,
          password,
          keyStretching: testKeyStretching,
        }).registrationRecord,
      );
    }
    const finish = async (record: string) =>
      deviceCall(bank, '/banking/passwords/finish', {
        userId: device.userId,
        registrationRecord: record,
        device: await signTestStatement(
          bank,
          device,
          'bankingPassword',
          { userId: device.userId, step: 'finish', messageHash: hashOf(record) },
          device.key.serial,
        ),
      });
    // Each start drew a fresh credential identifier; the later one is pending, so its record is the one.
    expect((await finish(records[1] ?? '')).status).toBe(201);
    const late = await finish(records[0] ?? '');
    expect(errorCodeOf(late)).toBe('BANKING_PASSWORD_EXISTS');
    await loginTestDevice(bank, { ...device, password: 'second' });
  });

  it('draws a fresh credential identifier at each start; a finish with no start since the reset is refused', async () => {
    const device = await registerTestBankingCustomer(bank, { registerPassword: false });
    await opaque.ready;
    const pending = async () =>
      (
        await bank.database.query<{
          opaque_pending_credential_id: string | null;
          opaque_credential_id: string | null;
        }>(
          'SELECT opaque_pending_credential_id, opaque_credential_id FROM banking_customers WHERE party_id = $1',
          [device.partyId],
        )
      ).rows[0];
    const seen = new Set<string>();
    let registration = opaque.client.startRegistration({ password: 'the password' });
    for (let round = 0; round < 2; round += 1) {
      registration = opaque.client.startRegistration({ password: 'the password' });
      const start = await deviceCall(bank, '/banking/passwords/start', {
        userId: device.userId,
        registrationRequest: registration.registrationRequest,
        device: await signTestStatement(
          bank,
          device,
          'bankingPassword',
          { userId: device.userId, step: 'start', messageHash: hashOf(registration.registrationRequest) },
          device.key.serial,
        ),
      });
      expect(start.status).toBe(200);
      const ids = await pending();
      expect(ids?.opaque_credential_id).toBeNull();
      expect(ids?.opaque_pending_credential_id).toMatch(new RegExp(`^${device.userId}:[0-9a-f-]{36}$`));
      seen.add(ids?.opaque_pending_credential_id ?? '');
      if (round === 0) {
        // The bank's reset clears a registration in progress too.
        await bank.database.query(
          'UPDATE banking_customers SET opaque_pending_credential_id = NULL WHERE party_id = $1',
          [device.partyId],
        );
        const { registrationRecord } = opaque.client.finishRegistration({
          clientRegistrationState: registration.clientRegistrationState,
          registrationResponse: start.body.registrationResponse as string,
          password: 'the password',
          keyStretching: testKeyStretching,
        });
        expectRefused(
          await deviceCall(bank, '/banking/passwords/finish', {
            userId: device.userId,
            registrationRecord,
            device: await signTestStatement(
              bank,
              device,
              'bankingPassword',
              { userId: device.userId, step: 'finish', messageHash: hashOf(registrationRecord) },
              device.key.serial,
            ),
          }),
        );
        expect(await pending()).toEqual({ opaque_pending_credential_id: null, opaque_credential_id: null });
      }
    }
    expect(seen.size).toBe(2);
  });

  it('refuses a step whose signature does not cover exactly its message, step, user and party', async () => {
    const device = await registerTestBankingCustomer(bank, { registerPassword: false });
    const stranger = await registerTestBankingCustomer(bank, { registerPassword: false });
    const secondPhone = await addTestBankingDevice(bank, device, { registerDevice: false });
    await opaque.ready;
    const { registrationRequest } = opaque.client.startRegistration({ password: 'pw' });
    const signed = (
      content: Record<string, unknown>,
      signer: TestBankingDevice = device,
      transactionId = signer.key.serial,
    ) => signTestStatement(bank, signer, 'bankingPassword', content, transactionId);
    const good = { userId: device.userId, step: 'start', messageHash: hashOf(registrationRequest) };
    const statements = [
      await signed({ ...good, messageHash: hashOf(`${registrationRequest}x`) }),
      await signed({ ...good, step: 'finish' }),
      await signed({ ...good, userId: stranger.userId }),
      await signed(good, stranger),
      await signed(good, device, 'not-the-serial'),
    ];
    for (const statement of statements) {
      expectRefused(
        await deviceCall(bank, '/banking/passwords/start', {
          userId: device.userId,
          registrationRequest,
          device: statement,
        }),
      );
    }
    // Any bound key of the customer may register it (a banking device registration is not needed).
    const start = await deviceCall(bank, '/banking/passwords/start', {
      userId: device.userId,
      registrationRequest,
      device: await signed(good, secondPhone),
    });
    expect(start.status).toBe(200);
    expect((await passwordRow(device.partyId))?.opaque_record).toBeNull();
  });
});
