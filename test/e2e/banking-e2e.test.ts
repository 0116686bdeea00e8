import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createBankLimits } from '@mpay/bank';
import { bankOperator, demoParties, type OperatorClient, type RunningBank } from '@mpay/cli';
import {
  decodeBase64url,
  encryptDirect,
  keyResolverFromJwkSet,
  MESSAGE_TYPE,
  verifyCompactSignature,
} from '@mpay/envelope';
import { verifyReceipt } from '@mpay/merkle';
import {
  type BankingClientId,
  type BankingRequest,
  defaultBankingLimits,
  luhnCheckDigit,
} from '@mpay/protocol';
import {
  BankingClient,
  BankingKeyManager,
  type BankingKeyState,
  type BankingSession,
  type BankingSigningKey,
  type BankTrust,
  bankingClientIdOf,
  fetchBankTrust,
  MemoryBankingKeyStore,
  sealBankingCode,
  sealBankingRequest,
} from '@mpay/sdk';
import { openSmsInbox, type StoredSms } from '@mpay/sms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileBanks } from '../../cli/src/commands/banks-report.ts';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  requestDeadlineMs,
  waitFor,
} from '../support/deadlines.ts';
import { expectCode, postRaw, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * Seed 003 (SA2pMP) mobile banking end to end, over real HTTP against a whole
 * platform (both banks with their mobile banking servers, the embedded SMS
 * gateway, the transaction log and its witness): the customer's side only
 * through the SDK's BankingClient (as a phone), the bank's side only through
 * its operator's signed requests. The happy path with every factor, then each
 * attack of issue 11 by its stable code, each checking that nothing moved.
 * A forged request is built with the SDK's own `sealBankingRequest` (what a
 * tampered phone would send). Every customer is new (party, user id, MSISDN),
 * so the tests do not depend on each other; the last one audits both banks.
 */

let test: TestPlatform;
let xbank: RunningBank;
let ybank: RunningBank;
let xbankTrust: BankTrust;
let smsDir: string;
/** The banks' clock runs this far ahead of the system clock (the expiry test moves it). */
let bankClockOffsetMs = 0;

beforeAll(async () => {
  // startTestPlatform waits for the platform under its own named deadline (platformStartDeadlineMs).
  test = await startTestPlatform({ bankClock: () => new Date(Date.now() + bankClockOffsetMs) });
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  ybank = test.platform.banks.find((bank) => bank.id === 'ybank') as RunningBank;
  xbankTrust = await fetchBankTrust(xbank.url);
  const dir = test.platform.sms.dir;
  if (dir === undefined) throw new Error('the test platform runs the embedded SMS gateway');
  smsDir = dir;
});
afterAll(async () => {
  await test?.close();
});

const currency = 'EUR';
/** How far past its exp the platform's banks still take a signed request (their default limits). */
const bankClockSkewSeconds = createBankLimits().customerAuthorisationClockSkewSeconds;

function operatorOf(bank: RunningBank): OperatorClient {
  return bankOperator(bank, bank.operatorKey);
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function uniqueMsisdn(): string {
  return `+3897${String(randomInt(10 ** 8)).padStart(8, '0')}`;
}

function digits(count: number): string {
  let text = '';
  for (let index = 0; index < count; index += 1) text += String(randomInt(10));
  return text;
}

/** A well-formed ICCID (20 digits, Luhn) and IMEI (15 digits, Luhn), as a phone reads them. */
function newSim(): string {
  const body = `8938${digits(15)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

function newImei(): string {
  const body = `35${digits(12)}`;
  return `${body}${luhnCheckDigit(body)}`;
}

// ─── the bank's side (its operator) ─────────────────────────────────────────

async function openAccount(bank: RunningBank, owner: string, fundedMinor = 0n): Promise<string> {
  const account = randomUUID();
  const operator = operatorOf(bank);
  await operator.post('/accounts', { id: account, owner, currency, kind: 'customer' });
  if (fundedMinor > 0n) {
    if (bank.id !== 'xbank') throw new Error('only xbank customers are funded here');
    await operator.post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: account,
      amount: fundedMinor.toString(),
      currency,
      reference: 'opening balance',
    });
  }
  return account;
}

/** A party of `bank` with an account (not a banking customer): a payee. */
async function newPayee(bank: RunningBank, name: string): Promise<{ partyId: string; account: string }> {
  const partyId = `${name}.${hex(4)}@person.${bank.id}`;
  return { partyId, account: await openAccount(bank, partyId) };
}

async function accountAt(
  bank: RunningBank,
  account: string,
): Promise<{ balance: bigint; available: bigint }> {
  const { balance, available } = await operatorOf(bank).get<{ balance: string; available: string }>(
    `/accounts/${account}`,
  );
  return { balance: BigInt(balance), available: BigInt(available) };
}

async function balanceAt(bank: RunningBank, account: string): Promise<bigint> {
  return (await accountAt(bank, account)).balance;
}

async function customerRow(partyId: string): Promise<{ failedLogins: number; blocked: boolean }> {
  const { rows } = await xbank.database.query<{ failed_logins: number; blocked_at: unknown }>(
    'SELECT failed_logins, blocked_at FROM banking_customers WHERE party_id = $1',
    [partyId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`${partyId} is no banking customer of xbank`);
  return { failedLogins: Number(row.failed_logins), blocked: row.blocked_at !== null };
}

/** What xbank recorded of a request id: its claim's outcome, and whether it became a banking transaction. */
async function requestRecord(requestId: string) {
  const claimed = await xbank.database.query<{ outcome: string | null }>(
    'SELECT outcome FROM banking_requests WHERE id = $1',
    [requestId],
  );
  const transactions = await xbank.database.query<{ id: string }>(
    'SELECT id::text AS id FROM banking_transactions WHERE id = $1',
    [requestId],
  );
  return {
    claimed: claimed.rows.length === 1,
    outcome: claimed.rows[0]?.outcome ?? undefined,
    transaction: transactions.rows.length === 1,
  };
}

async function bankingTransactionsOf(partyId: string): Promise<number> {
  const { rows } = await xbank.database.query<{ count: string | number }>(
    'SELECT count(*) AS count FROM banking_transactions WHERE party_id = $1',
    [partyId],
  );
  return Number(rows[0]?.count ?? 0);
}

// ─── the SMS inbox ──────────────────────────────────────────────────────────

const loginCodePattern = /^xbank: your mobile banking login code is ([0-9]{6,9})\. It expires in /;

async function smsTo(msisdn: string): Promise<StoredSms[]> {
  return openSmsInbox(smsDir).list(msisdn);
}

async function smsIdsOf(msisdn: string): Promise<Set<string>> {
  return new Set((await smsTo(msisdn)).map((sms) => sms.id));
}

/** The one login code sent to `msisdn` since `seen`, once the embedded gateway stored it. */
function newLoginCode(msisdn: string, seen: ReadonlySet<string>): Promise<string> {
  return waitFor(
    async () => {
      const fresh = (await smsTo(msisdn)).filter((sms) => !seen.has(sms.id));
      const codes = fresh.flatMap((sms) => loginCodePattern.exec(sms.text)?.[1] ?? []);
      if (codes.length > 1) throw new Error(`${codes.length} login codes to ${msisdn} for one login`);
      return codes[0];
    },
    { deadlineMs: requestDeadlineMs, what: `the login code SMS to ${msisdn}` },
  );
}

// ─── the customer's side (the SDK, as a phone) ──────────────────────────────

interface Customer {
  readonly partyId: string;
  readonly userId: string;
  readonly msisdn: string;
  readonly account: string;
  readonly password: string;
}

interface Phone {
  readonly client: BankingClient;
  readonly manager: BankingKeyManager;
  readonly clientId: BankingClientId;
}

/** A new xbank customer with an account holding `fundedMinor`, enabled for mobile banking by the operator. */
async function newCustomer(name: string, fundedMinor: bigint): Promise<Customer> {
  const local = `${name}.${hex(4)}`;
  const partyId = `${local}@person.xbank`;
  const account = await openAccount(xbank, partyId, fundedMinor);
  const customer = { partyId, userId: local, msisdn: uniqueMsisdn(), account, password: hex(12) };
  const registered = await operatorOf(xbank).post<Record<string, unknown>>('/banking/customers', {
    partyId,
    userId: customer.userId,
    msisdn: customer.msisdn,
  });
  expect(registered).toEqual({ partyId, userId: customer.userId, msisdn: customer.msisdn });
  return customer;
}

/** A phone of the customer: keys generated on it, enrolled with the operator's code, ID_C registered. */
async function newPhone(customer: Customer): Promise<Phone> {
  const { code } = await operatorOf(xbank).post<{ code: string }>('/enrolment-codes', {
    partyId: customer.partyId,
    accountIds: [customer.account],
  });
  const { manager } = await BankingKeyManager.enrol({
    invitation: { bankUrl: xbank.url, bankId: xbank.id, partyId: customer.partyId, code },
    deviceId: `phone-${hex(4)}`,
    bank: xbankTrust,
    store: new MemoryBankingKeyStore(),
  });
  const client = new BankingClient({ bankUrl: xbank.url, keys: manager, bank: xbankTrust });
  const clientId = bankingClientIdOf({ sim: newSim(), phoneId: newImei(), accountId: customer.account });
  const registered = await client.registerDevice(clientId, customer.userId);
  expect(registered).toEqual({
    serial: (await manager.state()).current.serial,
    partyId: customer.partyId,
    clientId,
  });
  return { client, manager, clientId };
}

/** A customer with one phone and a registered password. */
async function bankingCustomer(
  name: string,
  fundedMinor: bigint,
): Promise<{ customer: Customer; phone: Phone }> {
  const customer = await newCustomer(name, fundedMinor);
  const phone = await newPhone(customer);
  await phone.client.registerPassword(customer.userId, customer.password);
  return { customer, phone };
}

interface LoginOptions {
  readonly password?: string;
  readonly msisdn?: string;
  /** What the person types at each prompt, given the code the SMS carried (default: that code). */
  readonly type?: (attempt: number, sent: string) => string | Promise<string>;
}

/** Login with every factor; the code read from the SMS inbox of the registered number. */
async function logIn(
  customer: Customer,
  phone: Phone,
  options: LoginOptions = {},
): Promise<{ session: BankingSession; code: string }> {
  const seen = await smsIdsOf(customer.msisdn);
  let sent: string | undefined;
  const session = await phone.client.login({
    userId: customer.userId,
    password: options.password ?? customer.password,
    msisdn: options.msisdn ?? customer.msisdn,
    readCode: async (prompt) => {
      sent ??= await newLoginCode(customer.msisdn, seen);
      return options.type === undefined ? sent : options.type(prompt.attempt, sent);
    },
  });
  if (sent === undefined) throw new Error('assertion failed: a login reads its code');
  return { session, code: sent };
}

/** Another code of the same length: certainly not the one sent. */
function wrongCode(code: string): string {
  return [...code].map((digit) => String((Number(digit) + 1) % 10)).join('');
}

// ─── forged requests: E(S(msg, ID_C)) as a tampered phone would build it ───

interface Forgery {
  readonly request: BankingRequest;
  readonly clientId?: BankingClientId;
  readonly signingKey?: BankingSigningKey;
  /** Another session whose key (and kid) seals the request signed for the given one. */
  readonly sealedFor?: { readonly sessionId: string; readonly sessionKey: Uint8Array };
  readonly expiresInSeconds?: number;
}

interface ExportedSession {
  readonly sessionId: string;
  readonly sessionKey: Uint8Array;
  readonly clientId: BankingClientId;
}

function sessionOf(phone: Phone): ExportedSession {
  const exported = phone.client.exportSession();
  if (exported === undefined) throw new Error('the phone has no open session');
  const sessionKey = decodeBase64url(exported.sessionKey);
  if (sessionKey === undefined) throw new Error('assertion failed: a session key is base64url');
  return { sessionId: exported.sessionId, sessionKey, clientId: exported.clientId };
}

/** A request sealed with the phone's (or the given) parts: what the SDK's BankingClient sends, but chosen. */
async function forge(customer: Customer, session: ExportedSession, phone: Phone, forgery: Forgery) {
  const state = await phone.manager.state();
  const sealed = await sealBankingRequest({
    request: forgery.request,
    clientId: forgery.clientId ?? session.clientId,
    sessionId: session.sessionId,
    partyId: customer.partyId,
    bankId: xbank.id,
    signingKey: forgery.signingKey ?? state.current.signing.privateJwk,
    sessionKey: session.sessionKey,
    ...(forgery.expiresInSeconds === undefined ? {} : { expiresInSeconds: forgery.expiresInSeconds }),
  });
  const sealedFor = forgery.sealedFor;
  if (sealedFor === undefined) return { ...sealed, sessionId: session.sessionId };
  // The same signed request (naming `session`) sealed as another session's would be.
  const resealed = await encryptDirect(sealed.jws, sealedFor.sessionKey, { kid: sealedFor.sessionId });
  return { ...sealed, sealed: resealed, sessionId: sealedFor.sessionId };
}

/** POST /banking/requests as the phone's communication module does: status and stable code. */
function postRequest(sessionId: string, sealed: string) {
  return postRaw(
    `${xbank.url}/banking/requests`,
    JSON.stringify({ sessionId, request: sealed }),
    'application/json',
  );
}

function transferOf(payeeId: string, amount: bigint, reference = 'e2e transfer'): BankingRequest {
  return { kind: 'transfer', payeeId, amount, currency, reference };
}

// ─── the tests ──────────────────────────────────────────────────────────────

describe('SA2pMP mobile banking, end to end', () => {
  it('enrols, logs in with every factor, transfers here and to ybank, pays a bill, and proves a statement line by its log receipt', async () => {
    const { customer, phone } = await bankingCustomer('ana', 1_000_00n);
    const localPayee = await newPayee(xbank, 'marko');
    const remotePayee = await newPayee(ybank, 'lena');
    const billPayee = await newPayee(xbank, 'power');
    const billerId = `power-${hex(3)}`;
    expect(
      await operatorOf(xbank).post('/banking/billers', {
        id: billerId,
        name: 'Power Co',
        payeeId: billPayee.partyId,
      }),
    ).toMatchObject({ id: billerId, name: 'Power Co', payeeId: billPayee.partyId });

    // Every factor: password (OPAQUE), the device's signature with ID_C, the phone number, the SMS code.
    const seen = await smsIdsOf(customer.msisdn);
    const { session, code } = await logIn(customer, phone);
    const state = await phone.manager.state();
    expect(session).toEqual({
      sessionId: expect.any(String),
      partyId: customer.partyId,
      serial: state.current.serial,
      clientId: phone.clientId,
      expiresAt: expect.any(String),
    });
    const texts = (await smsTo(customer.msisdn)).filter((sms) => !seen.has(sms.id));
    expect(texts.map((sms) => sms.text)).toEqual([
      `xbank: your mobile banking login code is ${code}. It expires in 5 minutes. Never share it.`,
    ]);

    expect(await phone.client.balance()).toEqual({
      accountId: customer.account,
      currency,
      balance: 1_000_00n,
      available: 1_000_00n,
    });

    // A customer of the same bank: one posted transfer, completed at once.
    const local = await phone.client.transfer({
      payeeId: localPayee.partyId,
      amount: 12_50n,
      currency,
      reference: 'rent March',
    });
    expect(local).toMatchObject({ state: 'completed', payeeId: localPayee.partyId, amount: 12_50n });
    expect(await balanceAt(xbank, customer.account)).toBe(987_50n);
    expect(await balanceAt(xbank, localPayee.account)).toBe(12_50n);

    // A customer of ybank: a hold here, a funds transfer to ybank, the hold posted once ybank credited.
    const remote = await phone.client.transfer({
      payeeId: remotePayee.partyId,
      amount: 25_00n,
      currency,
      reference: 'dinner share',
    });
    expect(['completed', 'sending']).toContain(remote.state);
    expect(remote).toMatchObject({ payeeId: remotePayee.partyId, amount: 25_00n, currency });
    await waitFor(async () => (await balanceAt(ybank, remotePayee.account)) === 25_00n, {
      deadlineMs: paymentSettledDeadlineMs,
      what: `ybank to credit ${remotePayee.partyId} with the banking transfer ${remote.orderId}`,
    });
    await waitFor(
      async () => {
        const account = await accountAt(xbank, customer.account);
        return account.balance === 962_50n && account.available === 962_50n;
      },
      {
        deadlineMs: paymentSettledDeadlineMs,
        what: `xbank to post the hold of ${remote.orderId} once ybank credited`,
      },
    );

    // A registered biller, with the customer's reference.
    const bill = await phone.client.payBill({
      billerId,
      customerReference: 'INV-2026/001',
      amount: 30_00n,
      currency,
    });
    expect(bill).toMatchObject({
      state: 'completed',
      billerId,
      billerName: 'Power Co',
      customerReference: 'INV-2026/001',
      amount: 30_00n,
    });
    expect(await balanceAt(xbank, customer.account)).toBe(932_50n);
    expect(await balanceAt(xbank, billPayee.account)).toBe(30_00n);
    expect(await phone.client.balance()).toMatchObject({ balance: 932_50n, available: 932_50n });

    // The statement, paged, newest first: each banking line names its request.
    const first = await phone.client.statement({ pageSize: 2 });
    expect(first).toMatchObject({ accountId: customer.account, currency, balance: 932_50n });
    expect(first.lines).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const lines = [...first.lines];
    for (let cursor = first.nextCursor; cursor !== undefined; ) {
      const page = await phone.client.statement({ cursor, pageSize: 2 });
      lines.push(...page.lines);
      cursor = page.nextCursor;
    }
    expect(lines.map((line) => [line.direction, line.amount, line.requestId])).toEqual([
      ['debit', 30_00n, bill.orderId],
      ['debit', 25_00n, remote.orderId],
      ['debit', 12_50n, local.orderId],
      ['credit', 1_000_00n, undefined],
    ]);

    // The bank's worker submits each banking transaction to the log; the log proves it.
    await waitFor(
      async () => {
        const evidence = await operatorOf(xbank).get<{ receipt?: unknown }>(
          `/banking/transactions/${local.orderId}`,
        );
        return evidence.receipt !== undefined;
      },
      {
        deadlineMs: backgroundWorkDeadlineMs,
        what: `xbank's worker to submit ${local.orderId} and the log to prove it`,
      },
    );
    const proved = (await phone.client.statement({ pageSize: 10 })).lines.find(
      (line) => line.requestId === local.orderId,
    );
    const receiptText = proved?.receipt;
    if (receiptText === undefined) throw new Error(`no receipt on the statement line of ${local.orderId}`);

    // Offline: the log's and the witness's public keys only.
    const policy = {
      logVerifierKey: test.platform.log.logVerifierKey,
      witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
      witnessesRequired: 1,
    };
    const verified = await verifyReceipt(receiptText, policy);
    expect(verified.receipt.transactionId).toBe(local.orderId);
    expect(verified.proof.witnesses).toHaveLength(1);
    const [deviceJws, bankJws] = verified.receipt.messages;
    await verifyCompactSignature(
      deviceJws,
      keyResolverFromJwkSet({ keys: [state.current.signing.publicJwk] }),
      { typ: MESSAGE_TYPE },
    );
    await verifyCompactSignature(bankJws, keyResolverFromJwkSet(xbankTrust.keys), { typ: MESSAGE_TYPE });
    // A receipt that names another transaction, or one checked under keys not the log's, is refused.
    await expect(
      verifyReceipt(receiptText.split(local.orderId).join(randomUUID()), policy),
    ).rejects.toThrow();
    await expect(
      verifyReceipt(receiptText, { ...policy, logVerifierKey: test.platform.log.witnessVerifierKey }),
    ).rejects.toThrow();
    await expect(
      verifyCompactSignature(bankJws, keyResolverFromJwkSet({ keys: [state.current.signing.publicJwk] }), {
        typ: MESSAGE_TYPE,
      }),
    ).rejects.toThrow();

    expect(await phone.client.devices()).toEqual([
      expect.objectContaining({ serial: state.current.serial, state: 'active', current: true }),
    ]);
  });

  it('refuses a wrong password generically (BANKING_LOGIN_FAILED), counts it, and blocks at the limit until the operator unblocks', async () => {
    const { customer, phone } = await bankingCustomer('bora', 100_00n);
    const seen = await smsIdsOf(customer.msisdn);
    expect(await expectCode(logIn(customer, phone, { password: 'not the password' }))).toBe(
      'BANKING_LOGIN_FAILED',
    );
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 1, blocked: false });
    for (const failures of [2, 3, 4]) {
      expect(await expectCode(logIn(customer, phone, { password: `wrong ${failures}` }))).toBe(
        'BANKING_LOGIN_FAILED',
      );
      expect(await customerRow(customer.partyId)).toEqual({ failedLogins: failures, blocked: false });
    }
    // The fifth failure in a row (limits.loginFailuresMax) blocks; then even the right password is refused.
    // The fifth wrong password was counted at its signed start and failed on the phone itself;
    // the next start finds the count full and blocks.
    expect(await expectCode(logIn(customer, phone, { password: 'wrong 5' }))).toBe('BANKING_LOGIN_FAILED');
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 5, blocked: false });
    expect(await expectCode(logIn(customer, phone))).toBe('BANKING_LOGIN_BLOCKED');
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 5, blocked: true });
    // No code ever left the bank for these logins.
    expect((await smsTo(customer.msisdn)).filter((sms) => !seen.has(sms.id))).toEqual([]);

    await operatorOf(xbank).post(`/banking/customers/${customer.partyId}/unblock`, {});
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
    await logIn(customer, phone);
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
    expect(await phone.client.balance()).toMatchObject({ balance: 100_00n });
  });

  it('refuses a wrong one-time code (counted), takes the right one next, and ends a login after three wrong codes', async () => {
    const { customer, phone } = await bankingCustomer('cene', 100_00n);
    const counted: number[] = [];
    const { session } = await logIn(customer, phone, {
      type: async (attempt, sent) => {
        counted.push((await customerRow(customer.partyId)).failedLogins);
        return attempt === 1 ? wrongCode(sent) : sent;
      },
    });
    // At the first prompt the try was counted (OPAQUE KE2); at the second the wrong code too.
    expect(counted).toEqual([1, 2]);
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
    expect(session.partyId).toBe(customer.partyId);

    const prompts: number[] = [];
    expect(
      await expectCode(
        logIn(customer, phone, {
          type: (attempt, sent) => {
            prompts.push(attempt);
            return wrongCode(sent);
          },
        }),
      ),
    ).toBe('BANKING_LOGIN_FAILED');
    expect(prompts).toEqual([1, 2, 3]);
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 4, blocked: false });
    const { rows } = await xbank.database.query<{ state: string; code_failures: number }>(
      `SELECT state, code_failures FROM banking_sessions WHERE party_id = $1 ORDER BY created_at`,
      [customer.partyId],
    );
    expect(rows.map((row) => [row.state, Number(row.code_failures)])).toEqual([
      // The phone's next login ended its earlier session at the bank (BankingClient.login logs out first).
      ['closed', 1],
      ['refused', 3],
    ]);
    await logIn(customer, phone);
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
  });

  it('refuses a code replayed: again after its success (not counted), and in a new login (a wrong code)', async () => {
    const { customer, phone } = await bankingCustomer('dita', 100_00n);
    const { code } = await logIn(customer, phone);
    const session = sessionOf(phone);
    const replay = await postRaw(
      `${xbank.url}/banking/logins/${session.sessionId}/code`,
      JSON.stringify({
        code: await sealBankingCode({ loginId: session.sessionId, code, sessionKey: session.sessionKey }),
      }),
      'application/json',
    );
    expect({ status: replay.status, code: replay.code }).toEqual({
      status: 401,
      code: 'BANKING_LOGIN_FAILED',
    });
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
    // The session the code opened stays open.
    expect(await phone.client.balance()).toMatchObject({ balance: 100_00n });

    const counted: number[] = [];
    const again = await logIn(customer, phone, {
      type: async (attempt, sent) => {
        counted.push((await customerRow(customer.partyId)).failedLogins);
        if (attempt === 1) {
          expect(sent).not.toBe(code);
          return code;
        }
        return sent;
      },
    });
    expect(counted).toEqual([1, 2]);
    expect(again.code).not.toBe(code);
  });

  it('refuses a login from an enrolled device stating another phone number, counted, and sends no code', async () => {
    const { customer, phone } = await bankingCustomer('emil', 100_00n);
    const other = uniqueMsisdn();
    const seen = await smsIdsOf(customer.msisdn);
    expect(await expectCode(logIn(customer, phone, { msisdn: other }))).toBe('BANKING_LOGIN_FAILED');
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 1, blocked: false });
    expect((await smsTo(customer.msisdn)).filter((sms) => !seen.has(sms.id))).toEqual([]);
    expect(await smsTo(other)).toEqual([]);
    await logIn(customer, phone);
    expect(await customerRow(customer.partyId)).toEqual({ failedLogins: 0, blocked: false });
  });

  it('refuses a request signed by a revoked key: its session closed, its key in another session, its login', async () => {
    const { customer, phone: lost } = await bankingCustomer('filip', 200_00n);
    const payee = await newPayee(xbank, 'goran');
    const spare = await newPhone(customer);
    await logIn(customer, lost);
    await logIn(customer, spare);
    const lostSession = sessionOf(lost);
    const lostState = await lost.manager.state();
    const transactions = await bankingTransactionsOf(customer.partyId);
    // Before the revocation, the lost phone's own key in its own session is answered.
    const before = await forge(customer, lostSession, lost, { request: { kind: 'balance' } });
    expect((await postRequest(before.sessionId, before.sealed)).status).toBe(200);

    // From another authenticated channel: the customer's other phone revokes the lost one.
    const revoked = await spare.client.revokeDevice(lostState.current.serial, 'lost');
    expect(revoked).toEqual({ serial: lostState.current.serial, revokedAt: expect.any(String) });
    expect(await bankingTransactionsOf(customer.partyId)).toBe(transactions + 1);
    const devices = await spare.client.devices();
    expect(devices.find((device) => device.serial === lostState.current.serial)?.state).toBe('revoked');

    // The revoked key, in its own (now closed) session: a transfer refused.
    const inOwn = await forge(customer, lostSession, lost, { request: transferOf(payee.partyId, 10_00n) });
    expect((await postRequest(inOwn.sessionId, inOwn.sealed)).code).toBe('BANKING_SESSION_INVALID');
    expect(await expectCode(lost.client.balance())).toBe('BANKING_SESSION_INVALID');
    // The revoked key inside the other phone's open session (its ID_C, its session key).
    const inOther = await forge(customer, sessionOf(spare), spare, {
      request: transferOf(payee.partyId, 10_00n),
      signingKey: lostState.current.signing.privateJwk,
    });
    expect((await postRequest(inOther.sessionId, inOther.sealed)).code).toBe('BANKING_REQUEST_INVALID');
    expect(await requestRecord(inOther.requestId)).toEqual({
      claimed: false,
      outcome: undefined,
      transaction: false,
    });
    // Its login: every other factor right.
    const seen = await smsIdsOf(customer.msisdn);
    expect(await expectCode(logIn(customer, lost))).toBe('BANKING_LOGIN_FAILED');
    expect((await smsTo(customer.msisdn)).filter((sms) => !seen.has(sms.id))).toEqual([]);

    expect(await balanceAt(xbank, customer.account)).toBe(200_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(0n);
    expect(await bankingTransactionsOf(customer.partyId)).toBe(transactions + 1);
    // The spare phone is unaffected.
    expect(await spare.client.balance()).toMatchObject({ balance: 200_00n });
  });

  it('renews a key on the bank’s notice (SMS), signed by the old key; the old key is refused afterwards', async () => {
    const { customer, phone } = await bankingCustomer('hana', 200_00n);
    const payee = await newPayee(xbank, 'ivan');
    await logIn(customer, phone);
    const old = await phone.manager.state();
    const oldSession = sessionOf(phone);
    const seen = await smsIdsOf(customer.msisdn);

    const notice = await operatorOf(xbank).post<{ noticeId: string; serial: string; state: string }>(
      '/banking/renewal-notices',
      { serial: old.current.serial, reason: 'e2e scheduled renewal' },
    );
    expect(notice).toEqual({ noticeId: expect.any(String), serial: old.current.serial, state: 'sent' });
    const text = await waitFor(
      async () =>
        (await smsTo(customer.msisdn)).find(
          (sms) => !seen.has(sms.id) && sms.text.includes(`(notice ${notice.noticeId.slice(0, 8)})`),
        ),
      { deadlineMs: backgroundWorkDeadlineMs, what: `the renewal notice SMS to ${customer.msisdn}` },
    );
    expect(text.text).toMatch(/^xbank: your mobile banking key /);
    expect((await phone.client.renewalNotices()).map((each) => each.noticeId)).toEqual([notice.noticeId]);

    const renewed: BankingKeyState = await phone.client.renewKey(notice.noticeId);
    expect(renewed.current.serial).not.toBe(old.current.serial);
    expect(renewed.current.signing.publicJwk.x).not.toBe(old.current.signing.publicJwk.x);
    expect(renewed.registration).toEqual(old.registration);

    // The old key's session was closed with the renewal.
    const inOldSession = await forge(customer, oldSession, phone, {
      request: transferOf(payee.partyId, 5_00n),
      signingKey: old.current.signing.privateJwk,
    });
    expect((await postRequest(inOldSession.sessionId, inOldSession.sealed)).code).toBe(
      'BANKING_SESSION_INVALID',
    );
    // A new login with the new key; the old key inside that session is refused.
    const { session } = await logIn(customer, phone);
    expect(session.serial).toBe(renewed.current.serial);
    const inNewSession = await forge(customer, sessionOf(phone), phone, {
      request: transferOf(payee.partyId, 5_00n),
      signingKey: old.current.signing.privateJwk,
    });
    expect((await postRequest(inNewSession.sessionId, inNewSession.sealed)).code).toBe(
      'BANKING_REQUEST_INVALID',
    );
    expect(await requestRecord(inNewSession.requestId)).toMatchObject({ claimed: false, transaction: false });
    // The notice is answered: a second renewal of it is refused, and the current key stays.
    expect(await expectCode(phone.client.renewKey(notice.noticeId))).toBe('BANKING_RENEWAL_INVALID');
    expect((await phone.manager.state()).current.serial).toBe(renewed.current.serial);

    expect(await balanceAt(xbank, customer.account)).toBe(200_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(0n);
    // The new key works.
    const paid = await phone.client.transfer({
      payeeId: payee.partyId,
      amount: 5_00n,
      currency,
      reference: 'new key',
    });
    expect(paid.state).toBe('completed');
    expect(await balanceAt(xbank, customer.account)).toBe(195_00n);
  });

  it('recovers a renewal whose answer was lost: the new binding is found by the notice id, and it works', async () => {
    const { customer, phone } = await bankingCustomer('lena', 50_00n);
    const payee = await newPayee(xbank, 'marko');
    await logIn(customer, phone);
    const old = await phone.manager.state();
    const notice = await operatorOf(xbank).post<{ noticeId: string }>('/banking/renewal-notices', {
      serial: old.current.serial,
      reason: 'e2e lost answer',
    });
    // The bank renews, but its answer never reaches the phone (the connection drops after the request).
    const realFetch = globalThis.fetch;
    let dropped = 0;
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (String(input).endsWith('/banking/requests') && dropped === 0) {
        dropped += 1;
        await response.arrayBuffer();
        throw new TypeError('fetch failed: the connection dropped');
      }
      return response;
    };
    let renewed: BankingKeyState;
    try {
      renewed = await phone.client.renewKey(notice.noticeId);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(dropped).toBe(1);
    // Found at GET /key-bindings/:serial under the notice's id, checked to name the keys the phone made.
    expect(renewed.current.serial).toBe(notice.noticeId);
    expect(renewed.current.signing.publicJwk.x).not.toBe(old.current.signing.publicJwk.x);
    expect(renewed.pending).toBeUndefined();
    await logIn(customer, phone);
    const paid = await phone.client.transfer({
      payeeId: payee.partyId,
      amount: 5_00n,
      currency,
      reference: 'recovered',
    });
    expect(paid.state).toBe('completed');
    expect(await balanceAt(xbank, customer.account)).toBe(45_00n);
  });

  it('refuses a renewal not signed by the old key: renew_key from another device for the first device’s notice', async () => {
    const { customer, phone: first } = await bankingCustomer('jana', 100_00n);
    const second = await newPhone(customer);
    await logIn(customer, first);
    await logIn(customer, second);
    const firstState = await first.manager.state();
    const secondState = await second.manager.state();
    const notice = await operatorOf(xbank).post<{ noticeId: string }>('/banking/renewal-notices', {
      serial: firstState.current.serial,
      reason: 'e2e renewal',
    });

    expect(await expectCode(second.client.renewKey(notice.noticeId))).toBe('BANKING_RENEWAL_INVALID');
    // Nothing changed: the second phone keeps its key (the new pair dropped), the notice stays open.
    expect(await second.manager.state()).toEqual(secondState);
    expect(await second.client.devices()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ serial: firstState.current.serial, state: 'active' }),
        expect.objectContaining({ serial: secondState.current.serial, state: 'active', current: true }),
      ]),
    );
    const { rows } = await xbank.database.query<{ state: string; renewed_serial: string | null }>(
      'SELECT state, renewed_serial FROM banking_renewal_notices WHERE id = $1',
      [notice.noticeId],
    );
    expect(rows).toEqual([{ state: 'sent', renewed_serial: null }]);
    // The first device, signing with its own (old) key, renews on the same notice.
    expect((await first.client.renewalNotices()).map((each) => each.noticeId)).toEqual([notice.noticeId]);
    const renewed = await first.client.renewKey(notice.noticeId);
    expect(renewed.current.serial).not.toBe(firstState.current.serial);
  });

  it('refuses a request naming the ID_C of another device (BANKING_REQUEST_INVALID)', async () => {
    const { customer, phone } = await bankingCustomer('kiri', 100_00n);
    const payee = await newPayee(xbank, 'luka');
    const other = await newPhone(customer);
    await logIn(customer, phone);
    const session = sessionOf(phone);
    const mixed = { ...phone.clientId, phoneId: other.clientId.phoneId };

    for (const clientId of [other.clientId, mixed]) {
      const forged = await forge(customer, session, phone, {
        request: transferOf(payee.partyId, 10_00n),
        clientId,
      });
      expect((await postRequest(forged.sessionId, forged.sealed)).code).toBe('BANKING_REQUEST_INVALID');
      expect(await requestRecord(forged.requestId)).toEqual({
        claimed: false,
        outcome: undefined,
        transaction: false,
      });
    }
    expect(await balanceAt(xbank, customer.account)).toBe(100_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(0n);
    // The same forgery with the device's own ID_C goes through: only ID_C made the difference.
    const own = await forge(customer, session, phone, { request: transferOf(payee.partyId, 10_00n) });
    expect((await postRequest(own.sessionId, own.sealed)).status).toBe(200);
    expect(await balanceAt(xbank, payee.account)).toBe(10_00n);
  });

  it('refuses a request replayed, expired, or sealed for another session', async () => {
    const { customer, phone } = await bankingCustomer('mila', 100_00n);
    const payee = await newPayee(xbank, 'nina');
    await logIn(customer, phone);
    const sessionA = sessionOf(phone);

    // Replayed: the same sealed body twice; it runs once.
    const once = await forge(customer, sessionA, phone, { request: transferOf(payee.partyId, 10_00n) });
    expect((await postRequest(once.sessionId, once.sealed)).status).toBe(200);
    const replayed = await postRequest(once.sessionId, once.sealed);
    expect(replayed.code).toBe('BANKING_REQUEST_REPLAYED');
    expect(await requestRecord(once.requestId)).toEqual({ claimed: true, outcome: 'OK', transaction: true });
    expect(await balanceAt(xbank, customer.account)).toBe(90_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(10_00n);

    // Expired: signed for one second, received when the bank's clock is past exp and the allowed skew.
    const expiring = await forge(customer, sessionA, phone, {
      request: transferOf(payee.partyId, 10_00n),
      expiresInSeconds: 1,
    });
    // Past exp by more than the skew, yet younger than requestLifetimeSecondsMax (not refused as too old).
    const aheadSeconds = bankClockSkewSeconds + 30;
    expect(aheadSeconds).toBeLessThan(defaultBankingLimits.requestLifetimeSecondsMax);
    bankClockOffsetMs = aheadSeconds * 1000;
    let expired: Awaited<ReturnType<typeof postRequest>>;
    try {
      expired = await postRequest(expiring.sessionId, expiring.sealed);
    } finally {
      bankClockOffsetMs = 0;
    }
    expect(expired.code).toBe('BANKING_REQUEST_EXPIRED');
    expect(await requestRecord(expiring.requestId)).toEqual({
      claimed: false,
      outcome: undefined,
      transaction: false,
    });
    expect(await balanceAt(xbank, customer.account)).toBe(90_00n);
    // The same request on the bank's own clock again (within exp and the skew): only the clock refused it.
    expect((await postRequest(expiring.sessionId, expiring.sealed)).status).toBe(200);
    expect(await balanceAt(xbank, customer.account)).toBe(80_00n);

    // Another session of the same phone: sealed for A, posted as B.
    await logIn(customer, phone);
    const sessionB = sessionOf(phone);
    expect(sessionB.sessionId).not.toBe(sessionA.sessionId);
    const forA = await forge(customer, sessionA, phone, { request: transferOf(payee.partyId, 10_00n) });
    const asB = await postRequest(sessionB.sessionId, forA.sealed);
    expect(asB.code).toBe('CRYPTO_DECRYPTION_FAILED');
    // Signed for A, sealed under B's key and posted as B: the signature names another session.
    const namesA = await forge(customer, sessionA, phone, {
      request: transferOf(payee.partyId, 10_00n),
      sealedFor: sessionB,
    });
    expect((await postRequest(namesA.sessionId, namesA.sealed)).code).toBe('BANKING_REQUEST_INVALID');
    for (const refused of [forA, namesA])
      expect(await requestRecord(refused.requestId)).toMatchObject({ claimed: false, transaction: false });
    expect(await balanceAt(xbank, customer.account)).toBe(80_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(20_00n);
    // Session A ended at the bank when the phone logged in again: what is sealed for it moves nothing.
    expect((await postRequest(forA.sessionId, forA.sealed)).code).toBe('BANKING_SESSION_INVALID');
    expect(await balanceAt(xbank, customer.account)).toBe(80_00n);
    expect(await balanceAt(xbank, payee.account)).toBe(20_00n);
  });

  it('refuses a transfer or bill payment beyond the balance (INSUFFICIENT_FUNDS) or the daily limit (LIMIT_EXCEEDED); nothing moves', async () => {
    const { customer, phone } = await bankingCustomer('olga', 100_00n);
    const payee = await newPayee(xbank, 'petar');
    const remote = await newPayee(ybank, 'rada');
    const billPayee = await newPayee(xbank, 'water');
    const billerId = `water-${hex(3)}`;
    await operatorOf(xbank).post('/banking/billers', {
      id: billerId,
      name: 'City Water',
      payeeId: billPayee.partyId,
    });
    await logIn(customer, phone);
    const bill = (amount: bigint) =>
      phone.client.payBill({ billerId, customerReference: 'W-42', amount, currency });
    const transfer = (payeeId: string, amount: bigint) =>
      phone.client.transfer({ payeeId, amount, currency, reference: 'limits' });
    const nothingMoved = async (customerBalance: bigint, payeeBalance: bigint) => {
      expect(await accountAt(xbank, customer.account)).toEqual({
        balance: customerBalance,
        available: customerBalance,
      });
      expect(await balanceAt(xbank, payee.account)).toBe(payeeBalance);
      expect(await balanceAt(ybank, remote.account)).toBe(0n);
      expect(await balanceAt(xbank, billPayee.account)).toBe(0n);
    };

    const transactions = await bankingTransactionsOf(customer.partyId);
    expect(await expectCode(transfer(payee.partyId, 100_01n))).toBe('INSUFFICIENT_FUNDS');
    expect(await expectCode(transfer(remote.partyId, 100_01n))).toBe('INSUFFICIENT_FUNDS');
    expect(await expectCode(bill(150_00n))).toBe('INSUFFICIENT_FUNDS');
    await nothingMoved(100_00n, 0n);
    expect(await bankingTransactionsOf(customer.partyId)).toBe(transactions);
    const { rows: outcomes } = await xbank.database.query<{ kind: string; outcome: string | null }>(
      `SELECT kind, outcome FROM banking_requests WHERE party_id = $1 AND kind <> 'balance' ORDER BY created_at`,
      [customer.partyId],
    );
    expect(outcomes).toEqual([
      { kind: 'transfer', outcome: 'INSUFFICIENT_FUNDS' },
      { kind: 'transfer', outcome: 'INSUFFICIENT_FUNDS' },
      { kind: 'bill_payment', outcome: 'INSUFFICIENT_FUNDS' },
    ]);

    // The daily limit (UTC day of the bank's clock): 50.00, of which 30.00 spent first.
    const limited = await operatorOf(xbank).post<{ limits: Record<string, string> }>(
      `/accounts/${customer.account}/limits`,
      { dailyDebitMax: '5000' },
    );
    expect(limited.limits).toEqual({ dailyDebitMax: '5000' });
    const day = () => new Date(Date.now() + bankClockOffsetMs).toISOString().slice(0, 10);
    const dayBefore = day();
    expect((await transfer(payee.partyId, 30_00n)).state).toBe('completed');
    const refusals = [
      await expectCode(transfer(payee.partyId, 20_01n)),
      await expectCode(transfer(remote.partyId, 20_01n)),
      await expectCode(bill(20_01n)),
    ];
    if (day() === dayBefore) {
      // (Across a UTC midnight the day's sum starts again: there the refusals mean nothing.)
      expect(refusals).toEqual(['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
      await nothingMoved(70_00n, 30_00n);
      expect(await bankingTransactionsOf(customer.partyId)).toBe(transactions + 1);
      // Up to the limit exactly is allowed.
      expect((await bill(20_00n)).state).toBe('completed');
      expect(await balanceAt(xbank, billPayee.account)).toBe(20_00n);
      expect(await expectCode(transfer(payee.partyId, 1n))).toBe('LIMIT_EXCEEDED');
      expect(await accountAt(xbank, customer.account)).toEqual({ balance: 50_00n, available: 50_00n });
    }
  });

  it('refuses a statement page of another customer’s account (BANKING_REQUEST_INVALID)', async () => {
    const { customer, phone } = await bankingCustomer('sara', 100_00n);
    const victim = await newCustomer('tara', 777_00n);
    await logIn(customer, phone);
    const session = sessionOf(phone);
    const foreign = { ...phone.clientId, accountId: victim.account };
    const forged = await forge(customer, session, phone, {
      request: { kind: 'statement', pageSize: 5 },
      clientId: foreign,
    });
    const refused = await postRequest(forged.sessionId, forged.sealed);
    expect(refused.code).toBe('BANKING_REQUEST_INVALID');
    expect(JSON.stringify(refused.body)).not.toContain(victim.account);
    expect(await requestRecord(forged.requestId)).toMatchObject({ claimed: false });
    // The same request for its own account is answered.
    const own = await forge(customer, session, phone, { request: { kind: 'statement', pageSize: 5 } });
    expect((await postRequest(own.sessionId, own.sealed)).status).toBe(200);
  });

  it('refuses a bill payment to an unknown biller (BANKING_BILLER_UNKNOWN); nothing moves', async () => {
    const { customer, phone } = await bankingCustomer('uros', 100_00n);
    await logIn(customer, phone);
    const transactions = await bankingTransactionsOf(customer.partyId);
    expect(
      await expectCode(
        phone.client.payBill({
          billerId: `nobody-${hex(3)}`,
          customerReference: 'X-1',
          amount: 10_00n,
          currency,
        }),
      ),
    ).toBe('BANKING_BILLER_UNKNOWN');
    expect(await accountAt(xbank, customer.account)).toEqual({ balance: 100_00n, available: 100_00n });
    expect(await bankingTransactionsOf(customer.partyId)).toBe(transactions);
    const { rows } = await xbank.database.query<{ outcome: string | null }>(
      `SELECT outcome FROM banking_requests WHERE party_id = $1 AND kind = 'bill_payment'`,
      [customer.partyId],
    );
    expect(rows).toEqual([{ outcome: 'BANKING_BILLER_UNKNOWN' }]);
  });

  it('leaves both banks’ ledgers audited clean and their positions towards each other agreed', async () => {
    const clients = test.platform.banks.map(operatorOf);
    for (const client of clients) {
      const report = await client.get<{ ok: boolean; violations: unknown[]; mismatches: unknown[] }>(
        '/audit',
      );
      expect(report, `${client.id} audit`).toMatchObject({ ok: true, violations: [], mismatches: [] });
    }
    const pairs = await waitFor(
      async () => {
        const reconciled = await reconcileBanks(clients);
        return reconciled.every((pair) => pair.agree) && reconciled;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: 'xbank and ybank to agree on what they owe each other' },
    );
    for (const pair of pairs) expect(pair.consistent).toBe(true);
  });
});
