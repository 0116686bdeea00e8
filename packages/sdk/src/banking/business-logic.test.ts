import { decodeUnverified } from '@mpay/envelope';
import { luhnCheckDigit } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { BankingClient, type BankingCodePrompt } from './business-logic.ts';
import {
  type FakeBank,
  fakeAccountId,
  fakeBankId,
  fakeBillerId,
  fakeEnrolmentCode,
  fakeMsisdn,
  fakePartyId,
  fakeUserId,
  startFakeBank,
} from './fake-bank.test-helper.ts';
import {
  BankingKeyManager,
  type BankingKeyState,
  type BankingKeyStore,
  exportBankingKeyState,
  importBankingPrivateKeys,
  MemoryBankingKeyStore,
} from './key-management.ts';

const sim = `8938${'0123456789012'}${luhnCheckDigit('89380123456789012')}`;
const phoneId = `35209900176148${luhnCheckDigit('35209900176148')}`;
const password = 'correct horse battery staple';

let bank: FakeBank;

beforeEach(async () => {
  bank = await startFakeBank();
});

afterEach(async () => {
  await bank.close();
});

/** The code the bank's SMS carried, as the person would type it. */
const smsCode = async (_prompt: BankingCodePrompt) => bank.sms.at(-1)!.code;

/** A browser's store: it keeps the private keys only as non-extractable WebCrypto keys. */
class NonExtractableStore implements BankingKeyStore {
  #state: BankingKeyState | undefined;
  async load() {
    return this.#state;
  }
  async save(state: BankingKeyState) {
    this.#state = await importBankingPrivateKeys(state);
  }
}

/** A device enrolled, registered for banking, with the customer's password registered. */
async function registeredClient(store: BankingKeyStore = new MemoryBankingKeyStore()) {
  const { manager } = await BankingKeyManager.enrol({
    invitation: { bankUrl: bank.url, bankId: fakeBankId, partyId: fakePartyId, code: fakeEnrolmentCode },
    deviceId: 'phone-1',
    bank: bank.trust,
    store,
  });
  const client = new BankingClient({ bankUrl: bank.url, keys: manager, bank: bank.trust });
  await client.registerDevice({ sim, phoneId, accountId: fakeAccountId }, fakeUserId);
  await client.registerPassword(fakeUserId, password);
  return { client, manager, store };
}

/** The payload of the device's JWS the bank verified for `requestId`. */
function signedPayload(requestId: string): Record<string, unknown> {
  const jws = bank.signedRequests.get(requestId);
  if (jws === undefined) throw new Error(`the bank verified no request ${requestId}`);
  return decodeUnverified(jws)!.payload as Record<string, unknown>;
}

const loginInput = { userId: fakeUserId, password, msisdn: fakeMsisdn, readCode: smsCode };

describe('BankingClient against the bank’s side of the contract', () => {
  it('registers, logs in with every factor and sends E(S(msg, ID_C)) requests whose answers it verifies', async () => {
    const { client, manager } = await registeredClient();
    const state = await manager.state();
    expect(state.registration).toEqual({
      userId: fakeUserId,
      clientId: { sim, phoneId, accountId: fakeAccountId },
    });

    const prompts: BankingCodePrompt[] = [];
    const session = await client.login({
      ...loginInput,
      readCode: async (prompt) => {
        prompts.push(prompt);
        return smsCode(prompt);
      },
    });
    expect(session).toMatchObject({ partyId: fakePartyId, serial: state.current.serial });
    expect(session.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(prompts).toEqual([
      expect.objectContaining({ loginId: session.sessionId, codeSentTo: '+389*****456', attempt: 1 }),
    ]);

    expect(await client.balance()).toEqual({
      accountId: fakeAccountId,
      currency: 'EUR',
      balance: 100_00n,
      available: 100_00n,
    });
    const transfer = await client.transfer({
      payeeId: 'bob@person.ybank',
      amount: 12_50n,
      currency: 'EUR',
      reference: 'rent March',
    });
    expect(transfer).toMatchObject({ state: 'completed', amount: 12_50n, payeeId: 'bob@person.ybank' });
    // What the bank verified: the device's JWS over the request and ID_C, txn the order id.
    const jws = bank.signedRequests.get(transfer.orderId)!;
    const signed = decodeUnverified(jws)!.payload as Record<string, Record<string, unknown>>;
    expect(signed.banking).toEqual({
      request: {
        kind: 'transfer',
        payeeId: 'bob@person.ybank',
        amount: '1250',
        currency: 'EUR',
        reference: 'rent March',
      },
      clientId: { sim, phoneId, accountId: fakeAccountId },
      sessionId: session.sessionId,
    });
    expect(signed.txn).toBe(transfer.orderId);

    const statement = await client.statement({ pageSize: 10 });
    expect(statement.lines[0]).toMatchObject({ direction: 'debit', amount: 12_50n });
    expect(statement.balance).toBe(87_50n);
  });

  it('answers a business refusal with the bank’s code, and refuses an answer that is not what it asked', async () => {
    const { client } = await registeredClient();
    await client.login(loginInput);
    const transfer = { payeeId: 'bob@person.ybank', amount: 500_00n, currency: 'EUR', reference: 'car' };
    expect(await rejectedCodeOf(client.transfer(transfer))).toBe('INSUFFICIENT_FUNDS');

    bank.tamperResult = (result) => ({ ...result, amount: '1' });
    expect(await rejectedCodeOf(client.transfer({ ...transfer, amount: 1_00n }))).toBe('BANK_ANSWER_INVALID');
    bank.tamperResult = (result) => ({ ...result, accountId: '11111111-2222-4333-8444-555555555555' });
    expect(await rejectedCodeOf(client.balance())).toBe('BANK_ANSWER_INVALID');
    bank.tamperResult = (result) => ({ ...result, overdraft: '0' });
    expect(await rejectedCodeOf(client.balance())).toBe('BANK_ANSWER_INVALID');
    bank.tamperResult = undefined;
    expect((await client.balance()).balance).toBe(99_00n);
  });

  it('signs the order id the app gives: every try of one order is the same request, carried out once', async () => {
    const { client } = await registeredClient();
    const session = await client.login(loginInput);
    const requestId = crypto.randomUUID();
    const order = {
      payeeId: 'bob@person.ybank',
      amount: 12_50n,
      currency: 'EUR',
      reference: 'rent March',
      requestId,
    };
    const transfer = await client.transfer(order);
    expect(transfer.orderId).toBe(requestId);
    // The request id given is the one the device signed (txn) for this session.
    const signed = signedPayload(requestId);
    expect(signed.txn).toBe(requestId);
    expect((signed.banking as Record<string, unknown>).sessionId).toBe(session.sessionId);
    // The same order again (its answer was lost): answered the recorded outcome, nothing moves twice.
    expect(await client.transfer(order)).toEqual(transfer);
    expect(bank.balance).toBe(87_50n);
    // The same request id for another order is a replay.
    expect(await rejectedCodeOf(client.transfer({ ...order, amount: 12_51n }))).toBe(
      'BANKING_REQUEST_REPLAYED',
    );
    expect(bank.balance).toBe(87_50n);

    const billRequestId = crypto.randomUUID();
    const bill = {
      billerId: fakeBillerId,
      customerReference: 'INV-2026-001',
      amount: 30_00n,
      currency: 'EUR',
      requestId: billRequestId,
    };
    expect((await client.payBill(bill)).orderId).toBe(billRequestId);
    expect(signedPayload(billRequestId).txn).toBe(billRequestId);
    expect((await client.payBill(bill)).orderId).toBe(billRequestId);
    expect(bank.balance).toBe(57_50n);

    // Without one, every call is a new order with a fresh id.
    const { requestId: _given, ...fresh } = order;
    const first = await client.transfer({ ...fresh, amount: 1_00n });
    const second = await client.transfer({ ...fresh, amount: 1_00n });
    expect(new Set([requestId, first.orderId, second.orderId]).size).toBe(3);
    expect(bank.balance).toBe(55_50n);
  });

  it('refuses an order id the bank would not accept as a request id, before anything is sent', async () => {
    const { client } = await registeredClient();
    await client.login(loginInput);
    const sent = bank.requests.length;
    const transfer = { payeeId: 'bob@person.ybank', amount: 1_00n, currency: 'EUR', reference: 'x' };
    const bill = { billerId: fakeBillerId, customerReference: 'INV-1', amount: 1_00n, currency: 'EUR' };
    for (const requestId of ['', 'order-1', crypto.randomUUID().toUpperCase(), `${crypto.randomUUID()} `]) {
      expect(await rejectedCodeOf(client.transfer({ ...transfer, requestId }))).toBe('REQUEST_INVALID');
      expect(await rejectedCodeOf(client.payBill({ ...bill, requestId }))).toBe('REQUEST_INVALID');
    }
    expect(bank.requests.length).toBe(sent);
    expect(bank.balance).toBe(100_00n);
  });

  it('signs step 1 over its KE1; a wrong password is counted there, nothing more is sent, the login just fails', async () => {
    const { client } = await registeredClient();
    expect(await rejectedCodeOf(client.login({ ...loginInput, password: 'not the password' }))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    // The bank counted the signed start (not a decoy); no finish was sent for a login the client could not prove.
    expect(bank.starts).toEqual({ counted: 1, decoys: 0 });
    expect(bank.failures()).toBe(1);
    expect(bank.requests.filter((request) => /\/logins\/.*\/finish$/.test(request))).toHaveLength(0);
    expect(client.session()).toBeUndefined();
    expect(await rejectedCodeOf(client.balance())).toBe('BANKING_SESSION_INVALID');
    // A start without the device's statement: a decoy, not counted.
    const opaque = await import('@serenity-kit/opaque');
    await opaque.ready;
    const { startLoginRequest } = opaque.client.startLogin({ password });
    const anonymous = await fetch(`${bank.url}/banking/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: fakeUserId, startLoginRequest, device: 'a.b.c' }),
    });
    expect(anonymous.status).toBe(200);
    expect(bank.starts).toEqual({ counted: 1, decoys: 1 });
    expect(bank.failures()).toBe(1);
  });

  it('refuses a login answer that says the code went to another number than the one given', async () => {
    const { client } = await registeredClient();
    bank.tamperCodeSentTo = '+389*****999';
    expect(await rejectedCodeOf(client.login(loginInput))).toBe('BANK_ANSWER_INVALID');
    expect(client.session()).toBeUndefined();
    bank.tamperCodeSentTo = undefined;
    await client.login(loginInput);
    expect(client.session()).toBeDefined();
  });

  it('asks for the code again after a wrong one, while the login has tries, and reports a block', async () => {
    const { client } = await registeredClient();
    /** A code that is not the one the SMS carried. */
    const wrongCode = async () => (bank.sms.at(-1)!.code === '000000' ? '000001' : '000000');
    const attempts: number[] = [];
    await client.login({
      ...loginInput,
      readCode: async (prompt) => {
        attempts.push(prompt.attempt);
        return prompt.attempt === 1 ? wrongCode() : smsCode(prompt);
      },
    });
    expect(attempts).toEqual([1, 2]);
    expect(bank.failures()).toBe(0);

    // Failures in a row, across factors: two wrong passwords, then three wrong codes; the fifth blocks.
    const outcomes = [
      await rejectedCodeOf(client.login({ ...loginInput, password: 'wrong password 1' })),
      await rejectedCodeOf(client.login({ ...loginInput, password: 'wrong password 2' })),
      await rejectedCodeOf(client.login({ ...loginInput, readCode: wrongCode })),
    ];
    expect(outcomes).toEqual(['BANKING_LOGIN_FAILED', 'BANKING_LOGIN_FAILED', 'BANKING_LOGIN_BLOCKED']);
    expect(bank.failures()).toBe(5);
    expect(await rejectedCodeOf(client.login(loginInput))).toBe('BANKING_LOGIN_BLOCKED');
  });

  it('renews the key on the bank’s notice: new pair saved first, the new binding checked, then swapped', async () => {
    const { client, manager, store } = await registeredClient();
    await client.login(loginInput);
    const before = await manager.state();
    const noticeId = bank.notice();
    expect(await client.renewalNotices()).toEqual([
      expect.objectContaining({ noticeId, serial: before.current.serial }),
    ]);

    const after = await client.renewKey(noticeId);
    expect(after.current.serial).not.toBe(before.current.serial);
    expect(after.current.signing.publicJwk.kid).not.toBe(before.current.signing.publicJwk.kid);
    expect(after.pending).toBeUndefined();
    expect(after.registration).toEqual(before.registration);
    expect(await store.load()).toEqual(after);
    // The old key's session is over; a new login with the new key works.
    expect(client.session()).toBeUndefined();
    await client.login(loginInput);
    expect((await client.balance()).accountId).toBe(fakeAccountId);
  });

  it('drops the new pair when the bank refuses the renewal, keeping the current key', async () => {
    const { client, manager } = await registeredClient();
    await client.login(loginInput);
    const before = await manager.state();
    expect(await rejectedCodeOf(client.renewKey(crypto.randomUUID()))).toBe('BANKING_RENEWAL_INVALID');
    const after = await manager.state();
    expect(after.pending).toBeUndefined();
    expect(after.current).toEqual(before.current);
  });

  it('works from a store that holds the private keys non-extractable: logs in, signs, renews', async () => {
    const { client, manager } = await registeredClient(new NonExtractableStore());
    const held = await manager.state();
    for (const pair of [held.current.signing, held.current.encryption]) {
      expect(pair.privateJwk).not.toHaveProperty('d');
      expect(pair.privateJwk).toMatchObject({ kid: pair.publicJwk.kid, cryptoKey: { extractable: false } });
    }
    expect(await rejectedCodeOf(Promise.resolve().then(() => exportBankingKeyState(held)))).toBe(
      'REQUEST_INVALID',
    );
    await client.login(loginInput);
    expect((await client.balance()).balance).toBe(100_00n);

    const noticeId = bank.notice();
    const prepared = await manager.prepareRenewal(noticeId);
    // The new pair is held non-extractable from the moment it is saved, before the request goes out.
    expect((await manager.state()).pending?.signing.privateJwk).toMatchObject({
      cryptoKey: { extractable: false },
    });
    const after = await client.renewKey(noticeId);
    expect(after.current.signing.publicJwk).toEqual(prepared.signingJwk);
    expect(after.current.signing.privateJwk).toMatchObject({ cryptoKey: { extractable: false } });
    await client.login(loginInput);
    expect((await client.balance()).accountId).toBe(fakeAccountId);
  });

  it('resumes an exported session in another client (the CLI), and refuses one of another key', async () => {
    const { client, manager } = await registeredClient();
    await client.login(loginInput);
    const exported = client.exportSession()!;
    const other = new BankingClient({ bankUrl: bank.url, keys: manager, bank: bank.trust });
    await other.resumeSession(exported);
    expect((await other.balance()).balance).toBe(100_00n);
    expect(await rejectedCodeOf(other.resumeSession({ ...exported, serial: 'serial-99' }))).toBe(
      'BANKING_SESSION_INVALID',
    );
  });

  it('refuses local mistakes before anything is sent', async () => {
    const { client } = await registeredClient();
    const sent = bank.requests.length;
    expect(await rejectedCodeOf(client.registerPassword(fakeUserId, 'short'))).toBe('REQUEST_INVALID');
    expect(await rejectedCodeOf(client.login({ ...loginInput, msisdn: '070123456' }))).toBe(
      'REQUEST_INVALID',
    );
    expect(
      await rejectedCodeOf(
        client.registerDevice(
          { sim, phoneId, accountId: '11111111-2222-4333-8444-555555555555' },
          fakeUserId,
        ),
      ),
    ).toBe('REQUEST_INVALID');
    expect(bank.requests.length).toBe(sent);
  });
});
