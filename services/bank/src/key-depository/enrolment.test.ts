import { createHash, randomUUID } from 'node:crypto';
import {
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  keyResolverFromJwkSet,
  verifyKeyBinding,
} from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enrolmentProof,
  enrolTestCustomer,
  errorCodeOf,
  issueTestEnrolmentCode,
  startTestBank,
  type TestBank,
  uniquePartyId,
} from '../test-helpers.ts';

let bank: TestBank;

beforeAll(async () => {
  bank = await startTestBank();
});

afterAll(() => bank.close());

/** A customer with one account, and a device with fresh keys that has not enrolled yet. */
async function newCustomer() {
  const partyId = uniquePartyId('person', 'xbank', 'john');
  const account = await bank.openAccount('customer', 'EUR', partyId);
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  return { partyId, account, signing, encryption, deviceId: `phone-${randomUUID().slice(0, 8)}` };
}

type Customer = Awaited<ReturnType<typeof newCustomer>>;

/** The device's enrolment request; `overrides` spoil one field. */
async function enrolment(customer: Customer, code: string, overrides: Record<string, unknown> = {}) {
  return {
    partyId: customer.partyId,
    code,
    deviceId: customer.deviceId,
    signingJwk: customer.signing.publicJwk,
    encryptionJwk: customer.encryption.publicJwk,
    proof: await enrolmentProof('xbank', customer.partyId, customer.deviceId, customer.signing),
    ...overrides,
  };
}

/** POST /enrolments as a device: no operator credentials. */
async function enrol(body: unknown) {
  const response = await fetch(`${bank.url}/enrolments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function codeRow(partyId: string) {
  const { rows } = await bank.database.query<{ state: string; failed_attempts: number; code_hash: string }>(
    `SELECT state, failed_attempts, code_hash FROM enrolment_codes WHERE party_id = $1
     ORDER BY issued_at DESC LIMIT 1`,
    [partyId],
  );
  return rows[0];
}

/** A wrong code of the right shape: one character of `code` changed. */
function wrong(code: string): string {
  return `${code.slice(0, -1)}${code.endsWith('0') ? '1' : '0'}`;
}

describe('GET /bank', () => {
  it('publishes the bank id, its signing key and its encryption key, without authentication', async () => {
    const answer = await fetch(`${bank.url}/bank`).then((response) => response.json());
    expect(answer).toEqual({
      id: 'xbank',
      keys: { keys: [expect.objectContaining({ use: 'sig' })] },
      encryptionJwk: expect.objectContaining({ use: 'enc', alg: 'ECDH-ES', crv: 'P-256' }),
    });
    expect(answer.keys.keys[0]).not.toHaveProperty('d');
    expect(answer.encryptionJwk).not.toHaveProperty('d');
  });
});

describe('enrolment codes (operator)', () => {
  it('issues a one-time 80-bit code, valid a day, stored only as its hash', async () => {
    const customer = await newCustomer();
    const answer = await bank.call('POST', '/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: [customer.account],
    });
    expect(answer).toMatchObject({ status: 201, body: { partyId: customer.partyId } });
    const code = answer.body.code as string;
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    const expiresAt = Date.parse(answer.body.expiresAt as string);
    expect(Math.abs(expiresAt - (bank.now().getTime() + 86_400_000))).toBeLessThan(5_000);
    const row = await codeRow(customer.partyId);
    expect(row).toMatchObject({ state: 'issued', failed_attempts: 0 });
    expect(row?.code_hash).toBe(createHash('sha256').update(code).digest('hex'));
    for (const table of ['enrolment_codes', 'idempotency_keys']) {
      const { rows } = await bank.database.query(
        `SELECT 1 FROM ${table} AS t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'`,
        [code],
      );
      expect(rows, table).toHaveLength(0);
    }
  });

  it('names only open customer accounts of the party (ACCOUNT_UNKNOWN otherwise)', async () => {
    const customer = await newCustomer();
    const otherParty = await bank.openAccount('customer', 'EUR', uniquePartyId('person', 'xbank', 'eve'));
    const merchant = await bank.openAccount('merchant', 'EUR', customer.partyId);
    const closed = await bank.openAccount('customer', 'EUR', customer.partyId);
    expect((await bank.call('POST', `/accounts/${closed}/close`)).status).toBe(200);
    for (const accountIds of [
      [otherParty],
      [merchant],
      [closed],
      [randomUUID()],
      [customer.account, otherParty],
    ]) {
      const answer = await bank.call('POST', '/enrolment-codes', { partyId: customer.partyId, accountIds });
      expect(errorCodeOf(answer)).toBe('ACCOUNT_UNKNOWN');
    }
    const repeated = await bank.call('POST', '/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: [customer.account, customer.account],
    });
    expect(errorCodeOf(repeated)).toBe('REQUEST_INVALID');
    const nine = await bank.call('POST', '/enrolment-codes', {
      partyId: customer.partyId,
      accountIds: Array.from({ length: 9 }, () => randomUUID()),
    });
    expect(errorCodeOf(nine)).toBe('REQUEST_INVALID');
    for (const partyId of ['xbank', 'John.Doe@person.xbank']) {
      const answer = await bank.call('POST', '/enrolment-codes', { partyId, accountIds: [customer.account] });
      expect(errorCodeOf(answer)).toMatch(/PARTY_ID_INVALID|REQUEST_INVALID/);
    }
    expect(await codeRow(customer.partyId)).toBeUndefined();
  });

  it('is operator-only', async () => {
    const customer = await newCustomer();
    const response = await fetch(`${bank.url}/enrolment-codes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ partyId: customer.partyId, accountIds: [customer.account] }),
    });
    expect(response.status).toBe(401);
  });

  it('under one Idempotency-Key issues one code and never replays it', async () => {
    const customer = await newCustomer();
    const body = { partyId: customer.partyId, accountIds: [customer.account] };
    const headers = { 'idempotency-key': randomUUID() };
    const first = await bank.call('POST', '/enrolment-codes', body, headers);
    const replay = await bank.call('POST', '/enrolment-codes', body, headers);
    expect(first.status).toBe(201);
    expect(replay).toEqual({
      status: 201,
      body: { partyId: customer.partyId, expiresAt: first.body.expiresAt },
    });
    const enrolled = await enrol(await enrolment(customer, first.body.code as string));
    expect(enrolled.status).toBe(201);
  });
});

describe('enrolment (device)', () => {
  it('binds the device keys to the party and its accounts, signed by the bank, and publishes the binding', async () => {
    const customer = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    const answer = await enrol(await enrolment(customer, code.toLowerCase()));
    expect(answer.status).toBe(201);
    const bankKeys = await fetch(`${bank.url}/bank`).then((response) => response.json());
    const binding = await verifyKeyBinding(answer.body.binding, keyResolverFromJwkSet(bankKeys.keys), {
      isRevoked: () => false,
      issuer: 'xbank',
    });
    expect(binding).toMatchObject({
      subject: customer.partyId,
      serialNumber: answer.body.serial,
      deviceId: customer.deviceId,
      accounts: [customer.account],
      signingJwk: customer.signing.publicJwk,
      encryptionJwk: customer.encryption.publicJwk,
    });
    expect(binding.notAfter - binding.notBefore).toBe(365 * 86_400);
    const published = await fetch(`${bank.url}/key-bindings/${answer.body.serial}`).then((r) => r.json());
    expect(published).toEqual({ serial: answer.body.serial, binding: answer.body.binding, status: 'active' });
    expect(await codeRow(customer.partyId)).toMatchObject({ state: 'used' });
  });

  it('answers a retry by the same device with the same key with the same binding; any other reuse fails', async () => {
    const customer = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    const request = await enrolment(customer, code);
    const first = await enrol(request);
    expect(first.status).toBe(201);
    // The same answer; the authenticator in it sealed afresh (see second-factor/provision.test.ts).
    const { sealedAuthenticator, ...same } = first.body;
    expect(sealedAuthenticator).toEqual(expect.any(String));
    expect(await enrol(request)).toEqual({
      status: 200,
      body: { ...same, sealedAuthenticator: expect.any(String) },
    });
    const thief = await newCustomer();
    const reuse = await enrol(
      await enrolment({ ...thief, partyId: customer.partyId, deviceId: customer.deviceId }, code),
    );
    expect(errorCodeOf(reuse)).toBe('ENROLMENT_FAILED');
    const { rows } = await bank.database.query('SELECT serial FROM key_bindings WHERE party_id = $1', [
      customer.partyId,
    ]);
    expect(rows).toHaveLength(1);
  });

  it('counts wrong codes per party on the server and blocks at the fifth, until the operator issues another', async () => {
    const customer = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    for (let attempt = 1; attempt <= 4; attempt++) {
      // Attempts from different devices count together.
      const device = { ...customer, deviceId: `phone-${attempt}` };
      expect(errorCodeOf(await enrol(await enrolment(device, wrong(code))))).toBe('ENROLMENT_FAILED');
    }
    expect(await codeRow(customer.partyId)).toMatchObject({ state: 'issued', failed_attempts: 4 });
    expect(errorCodeOf(await enrol(await enrolment(customer, 'not even a code')))).toBe('ENROLMENT_BLOCKED');
    expect(await codeRow(customer.partyId)).toMatchObject({ state: 'blocked', failed_attempts: 5 });
    expect(errorCodeOf(await enrol(await enrolment(customer, code)))).toBe('ENROLMENT_BLOCKED');
    const fresh = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    expect(errorCodeOf(await enrol(await enrolment(customer, code)))).toBe('ENROLMENT_FAILED');
    expect((await enrol(await enrolment(customer, fresh))).status).toBe(201);
  });

  it('counts parallel wrong attempts exactly: never more than the limit get through', async () => {
    const customer = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    const request = await enrolment(customer, wrong(code));
    const answers = await Promise.all(Array.from({ length: 12 }, () => enrol(request)));
    const codes = answers.map(errorCodeOf);
    expect(codes.filter((answer) => answer === 'ENROLMENT_FAILED')).toHaveLength(4);
    expect(codes.filter((answer) => answer === 'ENROLMENT_BLOCKED')).toHaveLength(8);
    expect(await codeRow(customer.partyId)).toMatchObject({ state: 'blocked', failed_attempts: 5 });
  });

  it('refuses a proof by another key, for another bank, party or device, and counts each', async () => {
    const customer = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, customer.partyId, [customer.account]);
    const other = await generateSigningKeyPair();
    const proofs = [
      await enrolmentProof('xbank', customer.partyId, customer.deviceId, other),
      await enrolmentProof('ybank', customer.partyId, customer.deviceId, customer.signing),
      await enrolmentProof('xbank', uniquePartyId('person', 'xbank'), customer.deviceId, customer.signing),
      await enrolmentProof('xbank', customer.partyId, 'another-phone', customer.signing),
    ];
    for (const proof of proofs) {
      expect(errorCodeOf(await enrol(await enrolment(customer, code, { proof })))).toBe('ENROLMENT_FAILED');
    }
    const swapped = await enrolment(customer, code, {
      signingJwk: customer.encryption.publicJwk,
      encryptionJwk: customer.signing.publicJwk,
    });
    expect(errorCodeOf(await enrol(swapped))).toBe('ENROLMENT_BLOCKED');
    expect(await codeRow(customer.partyId)).toMatchObject({ state: 'blocked', failed_attempts: 5 });
  });

  it('refuses a key already bound, and an expired code', async () => {
    const first = await newCustomer();
    const bound = await enrolTestCustomer(bank, first.partyId, [first.account]);
    const second = await newCustomer();
    const code = await issueTestEnrolmentCode(bank, second.partyId, [second.account]);
    const sameKey = { ...second, signing: bound.signing };
    expect(errorCodeOf(await enrol(await enrolment(sameKey, code)))).toBe('ENROLMENT_FAILED');
    bank.advanceSeconds(86_400);
    try {
      expect(errorCodeOf(await enrol(await enrolment(second, code)))).toBe('ENROLMENT_FAILED');
    } finally {
      bank.advanceSeconds(-86_400);
    }
    expect(await codeRow(second.partyId)).toMatchObject({ state: 'issued', failed_attempts: 2 });
  });

  it('fails without a code issued, and for a malformed request says nothing more', async () => {
    const customer = await newCustomer();
    expect(errorCodeOf(await enrol(await enrolment(customer, 'ABCDEFGHJKMNPQRS')))).toBe('ENROLMENT_FAILED');
    const privateKey = await enrolment(customer, 'ABCDEFGHJKMNPQRS', {
      signingJwk: customer.signing.privateJwk,
    });
    expect(errorCodeOf(await enrol(privateKey))).toBe('REQUEST_INVALID');
  });
});

describe('key bindings (operator revocation, public status)', () => {
  it('revokes for good, idempotently; an unknown serial is NOT_FOUND', async () => {
    const customer = await newCustomer();
    const key = await enrolTestCustomer(bank, customer.partyId, [customer.account]);
    const first = await bank.call('POST', `/key-bindings/${key.serial}/revocation`, { reason: 'lost' });
    expect(first).toMatchObject({ status: 201, body: { serial: key.serial, status: 'revoked' } });
    const second = await bank.call('POST', `/key-bindings/${key.serial}/revocation`, { reason: 'again' });
    expect(second).toEqual({ status: 200, body: first.body });
    const unknown = await bank.call('POST', `/key-bindings/${randomUUID()}/revocation`, { reason: 'x' });
    expect(errorCodeOf(unknown)).toBe('NOT_FOUND');
    expect((await fetch(`${bank.url}/key-bindings/${randomUUID()}`)).status).toBe(404);
    const anonymous = await fetch(`${bank.url}/key-bindings/${key.serial}/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'x' }),
    });
    expect(anonymous.status).toBe(401);
  });
});
