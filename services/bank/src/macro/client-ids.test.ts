import { randomUUID } from 'node:crypto';
import {
  generateSigningKeyPair,
  keyResolverFromJwkSet,
  type PublicJwkSet,
  verifyPayload,
} from '@mpay/envelope';
import { isMacroClientId, isMpayError, parseMacroClientIdContent } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankIdentity } from '../bank-identity.ts';
import type { DepositoryContext } from '../key-depository/context.ts';
import { createBankLimits } from '../limits.ts';
import {
  type EnrolledKey,
  enrolTestCustomer,
  errorCodeOf,
  startTestBank,
  type TestBank,
  testCaller,
  uniquePartyId,
} from '../test-helpers.ts';
import { issueClientId, newClientId } from './client-ids.ts';
import { selectMacroClient } from './store.ts';

let bank: TestBank;
let bankKeys: PublicJwkSet;

beforeAll(async () => {
  bank = await startTestBank();
  bankKeys = (await bank.call('GET', '/bank')).body.keys as PublicJwkSet;
});

afterAll(() => bank.close());

/** A customer of the test bank with one account and one enrolled device. */
async function enrolled(name = 'ann'): Promise<EnrolledKey> {
  const partyId = uniquePartyId('person', 'xbank', name);
  const account = await bank.openAccount('customer', 'EUR', partyId);
  return enrolTestCustomer(bank, partyId, [account]);
}

function askClientId(key: { partyId: string; serial: string }, msisdn = '+38970111222') {
  return bank.call('POST', '/macro/clients', { partyId: key.partyId, msisdn, bindingSerial: key.serial });
}

describe('POST /macro/clients: the client bank issues ID_C (seed 002 §3)', () => {
  it('issues a fresh id for a customer with an active binding, signs it, and gives the same id again', async () => {
    const key = await enrolled();
    const first = await askClientId(key);
    expect(first.status).toBe(201);
    const clientId = first.body.clientId as string;
    expect(clientId).toMatch(/^C[0-9]{12}\.xbank$/);
    expect(isMacroClientId(clientId)).toBe(true);
    expect(first.body).toMatchObject({ partyId: key.partyId, bankId: 'xbank' });

    // The statement is the bank's own word: its key, to the caller, for this client id.
    const verified = await verifyPayload(
      first.body.statement,
      keyResolverFromJwkSet(bankKeys),
      { issuer: 'xbank', audience: testCaller, transactionId: clientId },
      { maxAgeSeconds: 86_400 },
    );
    expect(parseMacroClientIdContent(verified.payload.macroClient)).toEqual({
      kind: 'macro_client_id',
      clientId,
      partyId: key.partyId,
      bankId: 'xbank',
    });

    // Idempotent per party: another number or another device of the same party gets the same id.
    const again = await askClientId(key, '+38970999888');
    expect(again.status).toBe(200);
    expect(again.body.clientId).toBe(clientId);
    const stored = await selectMacroClient(bank.database, clientId);
    expect(stored).toMatchObject({ partyId: key.partyId, msisdn: '+38970111222', bindingSerial: key.serial });
  });

  it('gives two customers two different ids', async () => {
    const [one, two] = await Promise.all([enrolled('bob'), enrolled('eve')]);
    const [a, b] = await Promise.all([askClientId(one), askClientId(two)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.clientId).not.toBe(b.body.clientId);
  });

  it("refuses a binding that is another party's, unknown, revoked, or a party of another bank", async () => {
    const ann = await enrolled();
    const bob = await enrolled('bob');
    expect(errorCodeOf(await askClientId({ partyId: ann.partyId, serial: bob.serial }))).toBe(
      'KEY_BINDING_INVALID',
    );
    expect(errorCodeOf(await askClientId({ partyId: ann.partyId, serial: 'kb-unknown' }))).toBe(
      'KEY_BINDING_INVALID',
    );
    const otherBank = `${ann.partyId.split('@')[0]}@person.ybank`;
    expect(errorCodeOf(await askClientId({ partyId: otherBank, serial: ann.serial }))).toBe(
      'PARTY_ID_INVALID',
    );
    const revoked = await bank.call('POST', `/key-bindings/${bob.serial}/revocation`, {
      reason: 'lost phone',
    });
    expect(revoked.status).toBe(201);
    expect(errorCodeOf(await askClientId(bob))).toBe('KEY_BINDING_REVOKED');
    // Nothing was issued for any of them.
    expect(
      (
        await bank.database.query('SELECT 1 FROM macro_clients WHERE party_id = ANY($1)', [
          [ann.partyId, bob.partyId],
        ])
      ).rows,
    ).toEqual([]);
  });

  it('refuses a binding that has expired', async () => {
    const key = await enrolled();
    bank.advanceSeconds(400 * 86_400);
    try {
      expect(errorCodeOf(await askClientId(key))).toBe('KEY_BINDING_EXPIRED');
    } finally {
      bank.advanceSeconds(-400 * 86_400);
    }
  });

  it('refuses a malformed number before anything else', async () => {
    const key = await enrolled();
    const answer = await askClientId(key, '0038970111222');
    expect(answer.status).toBe(400);
    expect(errorCodeOf(answer)).toBe('REQUEST_INVALID');
  });

  it('keeps issued ids immutable', async () => {
    const key = await enrolled();
    const clientId = (await askClientId(key)).body.clientId as string;
    await expect(
      bank.database.query("UPDATE macro_clients SET party_id = 'eve@person.xbank' WHERE client_id = $1", [
        clientId,
      ]),
    ).rejects.toThrow(/immutable/);
  });
});

describe('client id numbers', () => {
  it('are C, twelve digits (leading zeros kept) and the bank id', () => {
    expect(newClientId('xbank', () => 42)).toBe('C000000000042.xbank');
    expect(newClientId('ybank', () => 999_999_999_999)).toBe('C999999999999.ybank');
    expect(() => newClientId('xbank', () => 10 ** 12)).toThrow(/assertion failed/);
  });

  it('are drawn again when the number is taken, and the issue fails cleanly when every draw is', async () => {
    const signing = await generateSigningKeyPair();
    const context: DepositoryContext = {
      database: bank.database,
      bank: createBankIdentity('xbank', signing.privateJwk),
      limits: createBankLimits(),
      clock: () => bank.now(),
      newId: randomUUID,
      log: { info: () => undefined, warn: () => undefined },
    };
    const number = Math.floor(Math.random() * 10 ** 11);
    const first = await enrolled();
    const issued = await issueClientId(
      context,
      { partyId: first.partyId, msisdn: '+38970111222', bindingSerial: first.serial },
      'fsp.mpay',
      () => number,
    );
    expect(issued.content.clientId).toBe(newClientId('xbank', () => number));

    const draws = [number, number, number + 1];
    const second = await enrolled();
    const retried = await issueClientId(
      context,
      { partyId: second.partyId, msisdn: '+38970111223', bindingSerial: second.serial },
      'fsp.mpay',
      () => draws.shift() ?? Number.NaN,
    );
    expect(retried.content.clientId).toBe(newClientId('xbank', () => number + 1));
    expect(draws).toEqual([]);

    const third = await enrolled();
    const failure = await issueClientId(
      context,
      { partyId: third.partyId, msisdn: '+38970111224', bindingSerial: third.serial },
      'fsp.mpay',
      () => number,
    ).catch((error: unknown) => error);
    expect(isMpayError(failure, 'SERVICE_UNAVAILABLE')).toBe(true);
  });
});
