import { luhnCheckDigit } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BankingClient, type BankingCodePrompt } from './business-logic.ts';
import {
  type FakeBank,
  fakeAccountId,
  fakeBankId,
  fakeEnrolmentCode,
  fakeMsisdn,
  fakePartyId,
  fakeUserId,
  startFakeBank,
} from './fake-bank.test-helper.ts';
import { BankingKeyManager, MemoryBankingKeyStore } from './key-management.ts';

/**
 * BankingClient.logout: the bank is asked to close the session (a `logout`
 * request), and whatever it answers, or if it cannot be reached, the key is
 * wiped here and the promise does not reject. (The fake bank does not know
 * the kind and refuses it: the bank's side is tested in
 * services/bank/src/banking/authentication-server/request.test.ts.)
 */

const sim = `8938${'0123456789012'}${luhnCheckDigit('89380123456789012')}`;
const phoneId = `35209900176148${luhnCheckDigit('35209900176148')}`;
const password = 'correct horse battery staple';

let bank: FakeBank;
let closed = false;

beforeEach(async () => {
  bank = await startFakeBank();
  closed = false;
});

afterEach(async () => {
  if (!closed) await bank.close();
});

async function loggedInClient(): Promise<BankingClient> {
  const { manager } = await BankingKeyManager.enrol({
    invitation: { bankUrl: bank.url, bankId: fakeBankId, partyId: fakePartyId, code: fakeEnrolmentCode },
    deviceId: 'phone-1',
    bank: bank.trust,
    store: new MemoryBankingKeyStore(),
  });
  const client = new BankingClient({ bankUrl: bank.url, keys: manager, bank: bank.trust, timeoutMs: 2_000 });
  await client.registerDevice({ sim, phoneId, accountId: fakeAccountId }, fakeUserId);
  await client.registerPassword(fakeUserId, password);
  const readCode = async (_prompt: BankingCodePrompt) => bank.sms.at(-1)!.code;
  await client.login({ userId: fakeUserId, password, msisdn: fakeMsisdn, readCode });
  return client;
}

const requestsPosted = () => bank.requests.filter((request) => request === 'POST /banking/requests').length;

describe('BankingClient.logout', () => {
  it('sends a logout request in the session, then forgets the session whatever the bank answered', async () => {
    const client = await loggedInClient();
    const exported = client.exportSession();
    expect(exported).toBeDefined();
    const before = requestsPosted();
    await expect(client.logout()).resolves.toBeUndefined();
    expect(requestsPosted()).toBe(before + 1);
    expect(client.session()).toBeUndefined();
    expect(client.exportSession()).toBeUndefined();
    // Nothing to end any more: no request sent.
    await expect(client.logout()).resolves.toBeUndefined();
    expect(requestsPosted()).toBe(before + 1);
  });

  it('still wipes the session when the bank cannot be reached, and does not reject', async () => {
    const client = await loggedInClient();
    await bank.close();
    closed = true;
    await expect(client.logout()).resolves.toBeUndefined();
    expect(client.session()).toBeUndefined();
  });
});
