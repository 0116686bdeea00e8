import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank, uniquePartyId } from '../../test-helpers.ts';

/** The operator's banking routes over HTTP on a real bank: customers, unblock, password reset, billers, evidence. */

let bank: TestBank;

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
});

afterAll(async () => {
  await bank?.close();
});

const userId = () => `user-${randomUUID().slice(0, 8)}`;

async function customerParty(): Promise<string> {
  const partyId = uniquePartyId('person', 'xbank', 'ann');
  await bank.openAccount('customer', 'EUR', partyId);
  return partyId;
}

async function customerRow(partyId: string) {
  const { rows } = await bank.database.query<{
    failed_logins: number;
    blocked_at: Date | null;
    opaque_record: string | null;
    password_registered_at: Date | null;
  }>(
    'SELECT failed_logins, blocked_at, opaque_record, password_registered_at FROM banking_customers WHERE party_id = $1',
    [partyId],
  );
  return rows[0];
}

describe('POST /banking/customers', () => {
  it('registers a party that owns a customer account here, once per party and per user id', async () => {
    const partyId = await customerParty();
    const body = { partyId, userId: userId(), msisdn: '+38970123456' };
    const created = await bank.call('POST', '/banking/customers', body);
    expect(created).toEqual({ status: 201, body });
    const again = await bank.call('POST', '/banking/customers', body);
    expect(again.status).toBe(409);
    expect(errorCodeOf(again)).toBe('BANKING_CUSTOMER_EXISTS');
    const sameUser = await bank.call('POST', '/banking/customers', {
      ...body,
      partyId: await customerParty(),
    });
    expect(errorCodeOf(sameUser)).toBe('BANKING_CUSTOMER_EXISTS');
    const sameParty = await bank.call('POST', '/banking/customers', { ...body, userId: userId() });
    expect(errorCodeOf(sameParty)).toBe('BANKING_CUSTOMER_EXISTS');
  });

  it('answers a retry with the same Idempotency-Key as the first time', async () => {
    const body = { partyId: await customerParty(), userId: userId(), msisdn: '+38970123457' };
    const headers = { 'idempotency-key': randomUUID() };
    const first = await bank.call('POST', '/banking/customers', body, headers);
    const retry = await bank.call('POST', '/banking/customers', body, headers);
    expect(first).toEqual({ status: 201, body });
    expect(retry).toEqual(first);
  });

  it('refuses a party without a customer account here, of another bank, or malformed fields', async () => {
    const withoutAccount = await bank.call('POST', '/banking/customers', {
      partyId: uniquePartyId('person', 'xbank', 'none'),
      userId: userId(),
      msisdn: '+38970123458',
    });
    expect(errorCodeOf(withoutAccount)).toBe('ACCOUNT_UNKNOWN');
    const merchantOnly = uniquePartyId('merchant', 'xbank', 'shop');
    await bank.openAccount('merchant', 'EUR', merchantOnly);
    const merchant = await bank.call('POST', '/banking/customers', {
      partyId: merchantOnly,
      userId: userId(),
      msisdn: '+38970123458',
    });
    expect(errorCodeOf(merchant)).toBe('ACCOUNT_UNKNOWN');
    const otherBank = await bank.call('POST', '/banking/customers', {
      partyId: uniquePartyId('person', 'ybank', 'far'),
      userId: userId(),
      msisdn: '+38970123458',
    });
    expect(errorCodeOf(otherBank)).toBe('PARTY_ID_INVALID');
    const partyId = await customerParty();
    for (const body of [
      { partyId, userId: 'No Caps', msisdn: '+38970123458' },
      { partyId, userId: userId(), msisdn: '070123458' },
      { partyId, userId: userId(), msisdn: '+38970123458', extra: true },
      { partyId, userId: userId() },
    ]) {
      const refused = await bank.call('POST', '/banking/customers', body);
      expect(refused.status).toBe(400);
    }
    expect(await customerRow(partyId)).toBeUndefined();
  });
});

describe('unblock and password reset', () => {
  it('unblocks: no failed logins, no block', async () => {
    const partyId = await customerParty();
    const uid = userId();
    await bank.call('POST', '/banking/customers', { partyId, userId: uid, msisdn: '+38970123459' });
    await bank.database.query(
      'UPDATE banking_customers SET failed_logins = 5, blocked_at = now() WHERE party_id = $1',
      [partyId],
    );
    const answer = await bank.call('POST', `/banking/customers/${partyId}/unblock`);
    expect(answer).toEqual({
      status: 200,
      body: {
        partyId,
        userId: uid,
        msisdn: '+38970123459',
        passwordRegistered: false,
        failedLogins: 0,
        blocked: false,
      },
    });
    expect(await customerRow(partyId)).toMatchObject({ failed_logins: 0, blocked_at: null });
  });

  it('resets the password: no OPAQUE record, the customer’s open sessions closed', async () => {
    const partyId = await customerParty();
    await bank.call('POST', '/banking/customers', { partyId, userId: userId(), msisdn: '+38970123450' });
    await bank.database.query(
      `UPDATE banking_customers SET opaque_record = 'record', password_registered_at = now() WHERE party_id = $1`,
      [partyId],
    );
    const sessionId = randomUUID();
    await bank.database.query(
      `INSERT INTO banking_sessions (id, party_id, state, expires_at, created_at, updated_at)
       VALUES ($1, $2, 'password_started', now() + interval '5 minutes', now(), now())`,
      [sessionId, partyId],
    );
    const answer = await bank.call('POST', `/banking/customers/${partyId}/password-reset`, {});
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ partyId, passwordRegistered: false });
    expect(await customerRow(partyId)).toMatchObject({ opaque_record: null, password_registered_at: null });
    const { rows } = await bank.database.query<{ state: string }>(
      'SELECT state FROM banking_sessions WHERE id = $1',
      [sessionId],
    );
    // A login at its first step is refused by the reset (a session would be closed).
    expect(rows).toEqual([{ state: 'refused' }]);
  });

  it('answers NOT_FOUND for a party that is no banking customer, and refuses a body with fields', async () => {
    const partyId = await customerParty();
    for (const action of ['unblock', 'password-reset']) {
      expect(errorCodeOf(await bank.call('POST', `/banking/customers/${partyId}/${action}`))).toBe(
        'NOT_FOUND',
      );
    }
    await bank.call('POST', '/banking/customers', { partyId, userId: userId(), msisdn: '+38970123451' });
    const withField = await bank.call('POST', `/banking/customers/${partyId}/unblock`, { now: true });
    expect(withField.status).toBe(400);
  });
});

describe('billers', () => {
  it('registers billers once by id and lists them', async () => {
    const payeeId = uniquePartyId('merchant', 'ybank', 'water');
    const created = await bank.call('POST', '/banking/billers', {
      id: 'water-co',
      name: 'Water Co',
      payeeId,
    });
    expect(created).toEqual({ status: 201, body: { id: 'water-co', name: 'Water Co', payeeId } });
    const again = await bank.call('POST', '/banking/billers', { id: 'water-co', name: 'Other', payeeId });
    expect(again.status).toBe(409);
    expect(errorCodeOf(again)).toBe('BANKING_BILLER_EXISTS');
    await bank.call('POST', '/banking/billers', { id: 'gas-co', name: 'Gas Co', payeeId });
    const listed = await bank.call('GET', '/banking/billers');
    expect(listed.body.billers).toEqual([
      { id: 'gas-co', name: 'Gas Co', payeeId },
      { id: 'water-co', name: 'Water Co', payeeId },
    ]);
  });

  it('refuses a payee that is no customer party, an unreadable name, a malformed id', async () => {
    const payeeId = uniquePartyId('merchant', 'xbank', 'tv');
    const bankPayee = await bank.call('POST', '/banking/billers', {
      id: 'tv-co',
      name: 'TV',
      payeeId: 'ybank',
    });
    expect(errorCodeOf(bankPayee)).toBe('PARTY_ID_INVALID');
    for (const name of [' TV', 'TV\u202e', 'T\nV']) {
      const refused = await bank.call('POST', '/banking/billers', { id: 'tv-co', name, payeeId });
      expect(refused.status).toBe(400);
    }
    const badId = await bank.call('POST', '/banking/billers', { id: 'TV_CO', name: 'TV', payeeId });
    expect(badId.status).toBe(400);
    const listed = await bank.call('GET', '/banking/billers');
    expect((listed.body.billers as { id: string }[]).map((biller) => biller.id)).not.toContain('tv-co');
  });
});

describe('GET /banking/transactions/:id', () => {
  it('answers NOT_FOUND for an unknown transaction and 400 for a malformed id', async () => {
    expect(errorCodeOf(await bank.call('GET', `/banking/transactions/${randomUUID()}`))).toBe('NOT_FOUND');
    expect((await bank.call('GET', '/banking/transactions/not-a-uuid')).status).toBe(400);
  });
});
