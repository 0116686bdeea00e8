import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  decodeBase64url,
  keyResolverFromJwkSet,
  MESSAGE_TYPE,
  type PublicJwk,
  verifyCompactSignature,
} from '@mpay/envelope';
import { verifyReceipt } from '@mpay/merkle';
import { isMpayError, MpayError } from '@mpay/protocol';
import {
  type BankingBalance,
  BankingClient,
  BankingConnection,
  BankingKeyManager,
  type BankingKeyState,
  type BankingSession,
  type BankTrust,
  fetchBankTrust,
  MemoryBankingKeyStore,
  sealBankingRequest,
} from '@mpay/sdk';
import type { StoredSms } from '@mpay/sms';
import { demoParties } from '../platform/seed.ts';
import { maskedDigits, money, printable } from './banking/format.ts';
import { generatedPhoneId, generatedSimSerial } from './banking/identifiers.ts';
import { receiptTextOf, verifyCommandOf } from './banking/receipts.ts';
import { awaitSms, loginCodeOf, loginCodeWaitMs, renewalNoticePrefixOf, smsSnapshot } from './banking/sms.ts';
import { byteCount, describeExchange } from './banking/trace.ts';
import { startWireRecorder, type WireRecorder } from './banking/wire.ts';
import { type DemoDeployment, refusalOf } from './demo.ts';
import { type OperatorClient, operatorClient } from './deployment.ts';
import { logPolicyOf } from './evidence.ts';
import type { CommandIo } from './io.ts';
import { smsDirOf } from './sms.ts';

/**
 * `mpay demo banking`: seed 003's two-party mobile banking (SA2pMP) against
 * the running platform, xbank's mobile banking server on one side and a new
 * customer's phone on the other (the SDK's BankingClient: BLM, SM, CM, KMM of
 * Figure 5(A)). Twelve numbered steps, each with the factors it proves and
 * every HTTP exchange between the phone and the bank as it travelled (a
 * recording pass-through on loopback): its size in bytes, and member by
 * member who signed it (JWS, by kid) or under which key it is sealed (JWE;
 * the demo's phone holds the session key, so it opens them to show the
 * device's signed request inside, Equation 1's E(S(msg, ID_C))). The SMS the
 * bank sends are read from the platform's embedded SMS gateway, as
 * `mpay sms` shows them. Exit 0 only when every step did what the paper says:
 * money moved exactly as ordered, the log receipt verified offline, and
 * each refusal came with its stable code.
 */

/** The customer's opening balance, the transfer to ybank and the bill. */
const openingBalanceMinor = 1_000_00n;
const transferMinor = 25_00n;
const billMinor = 42_30n;
const currency = 'EUR';
const billerId = 'city-water';
const billerName = 'City Water';
const billReference = 'WATER-2026-0042';

/** How long the demo waits for the platform's background work (interbank, the log, SMS). */
const interbankWaitMs = 60_000;
const receiptWaitMs = 90_000;
const renewalSmsWaitMs = 30_000;
const pollIntervalMs = 250;

interface DemoBank {
  readonly id: string;
  readonly url: string;
  readonly operator: OperatorClient;
}

interface BankingDemo {
  readonly dataDir: string;
  readonly io: CommandIo;
  readonly xbank: DemoBank & { readonly trust: BankTrust };
  readonly ybank: DemoBank;
  readonly wire: WireRecorder;
  readonly keys: {
    readonly signers: Map<string, string>;
    readonly sessionKeys: Map<string, Uint8Array>;
    readonly recipients: Map<string, string>;
  };
  /** Exchanges printed so far. */
  shown: number;
  readonly problems: string[];
}

interface DemoCustomer {
  readonly partyId: string;
  readonly userId: string;
  readonly msisdn: string;
  readonly account: string;
  readonly password: string;
}

interface DemoPhone {
  readonly label: string;
  readonly store: MemoryBankingKeyStore;
  readonly client: BankingClient;
  readonly sim: string;
  readonly phoneId: string;
}

function out(demo: BankingDemo, line: string): void {
  demo.io.stdout(`${line}\n`);
}

function detail(demo: BankingDemo, line: string): void {
  out(demo, `      ${line}`);
}

function step(demo: BankingDemo, number: number, title: string, factors: string): void {
  out(demo, '');
  out(demo, `${String(number).padStart(2)}. ${title}`);
  detail(demo, `factors: ${factors}`);
}

/** Every exchange between the phone and the bank since the last call, with its size and who signed or sealed it. */
async function printWire(demo: BankingDemo): Promise<void> {
  const fresh = demo.wire.exchanges.slice(demo.shown);
  demo.shown = demo.wire.exchanges.length;
  for (const exchange of fresh)
    for (const line of await describeExchange(exchange, demo.keys)) detail(demo, line);
}

/** An operator's request, as the demo sends it: its size and its signature. */
async function operatorPost<T>(demo: BankingDemo, bank: DemoBank, path: string, body: unknown): Promise<T> {
  const answer = await bank.operator.post<T>(path, body);
  detail(
    demo,
    `→ POST ${path} ${byteCount(JSON.stringify(body))} bytes, signed by ${bank.id}'s operator key (the request's MPay authorization JWS)`,
  );
  return answer;
}

async function until<T>(what: string, deadlineMs: number, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new MpayError('SERVICE_UNAVAILABLE', `no ${what} within ${deadlineMs} ms`);
    await new Promise((done) => setTimeout(done, pollIntervalMs));
  }
}

/** A refusal the paper calls for: its code printed, and a problem when it is not the expected one. */
async function expectRefusal(
  demo: BankingDemo,
  what: string,
  expected: string,
  attempt: Promise<unknown>,
): Promise<void> {
  const code = await refusalOf(attempt);
  await printWire(demo);
  detail(
    demo,
    `${what}: ${code === 'accepted' ? 'ACCEPTED' : `refused, ${code}`}${code === expected ? '' : ` (expected ${expected})`}`,
  );
  if (code !== expected) demo.problems.push(`${what}: ${code}, not ${expected}`);
}

async function balanceAt(bank: DemoBank, account: string): Promise<bigint> {
  const { balance } = await bank.operator.get<{ balance: string }>(`/accounts/${account}`);
  return BigInt(balance);
}

// ─── setting up ─────────────────────────────────────────────────────────────

async function openDemoBanking(
  dataDir: string,
  deployment: DemoDeployment,
  io: CommandIo,
): Promise<BankingDemo> {
  const bankOf = async (id: string): Promise<DemoBank> => {
    const bank = deployment.banks.find((candidate) => candidate.id === id);
    if (bank === undefined) throw new MpayError('BANK_UNKNOWN', id);
    // The deployment found or started by the demo (a platform started in this process writes no deployment.json).
    return { id, url: bank.url, operator: await operatorClient(dataDir, { id, url: bank.url }) };
  };
  const xbank = await bankOf(demoParties.bank.id);
  const ybank = await bankOf(demoParties.merchantBank.id);
  const trust = await fetchBankTrust(xbank.url);
  const signers = new Map<string, string>();
  for (const key of trust.keys.keys) if (key.kid !== undefined) signers.set(key.kid, xbank.id);
  return {
    dataDir,
    io,
    xbank: { ...xbank, trust },
    ybank,
    wire: await startWireRecorder(xbank.url),
    keys: { signers, sessionKeys: new Map(), recipients: new Map() },
    shown: 0,
    problems: [],
  };
}

async function openAccount(
  demo: BankingDemo,
  bank: DemoBank,
  owner: string,
  fundedMinor: bigint,
): Promise<string> {
  const account = randomUUID();
  await operatorPost(demo, bank, '/accounts', { id: account, owner, currency, kind: 'customer' });
  if (fundedMinor > 0n)
    await operatorPost(demo, bank, '/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: account,
      amount: fundedMinor.toString(),
      currency,
      reference: 'banking demo: opening balance',
    });
  return account;
}

/** The operator's one-time enrolment code for a device of `partyId`, naming its account (POST /enrolment-codes). */
async function enrolmentCode(demo: BankingDemo, partyId: string, account: string) {
  const issued = await operatorPost<{ code?: unknown; expiresAt?: unknown }>(
    demo,
    demo.xbank,
    '/enrolment-codes',
    {
      partyId,
      accountIds: [account],
    },
  );
  if (typeof issued.code !== 'string' || typeof issued.expiresAt !== 'string')
    throw new MpayError('BANK_ANSWER_INVALID', '/enrolment-codes');
  return { code: issued.code, expiresAt: issued.expiresAt };
}

/** Step 1: the customer at xbank, enabled for banking, with a code for its phone; a payee at ybank. */
async function setUp(demo: BankingDemo) {
  const local = `ana.${randomBytes(4).toString('hex')}`;
  const customer: DemoCustomer = {
    partyId: `${local}@person.${demo.xbank.id}`,
    userId: local,
    msisdn: `+3897${(randomBytes(4).readUInt32BE(0) % 10 ** 7).toString().padStart(7, '0')}`,
    account: '',
    password: randomBytes(12).toString('base64url'),
  };
  step(
    demo,
    1,
    `${demo.xbank.id}'s operator opens an account for ${customer.partyId}, enables mobile banking and issues an enrolment code`,
    "none yet: the bank's own checks (KYC), outside the protocol",
  );
  const account = await openAccount(demo, demo.xbank, customer.partyId, openingBalanceMinor);
  await operatorPost(demo, demo.xbank, '/banking/customers', {
    partyId: customer.partyId,
    userId: customer.userId,
    msisdn: customer.msisdn,
  });
  const { code, expiresAt } = await enrolmentCode(demo, customer.partyId, account);
  const payeeId = `marko.${randomBytes(4).toString('hex')}@person.${demo.ybank.id}`;
  const payeeAccount = await openAccount(demo, demo.ybank, payeeId, 0n);
  detail(
    demo,
    `account ${account} holds ${money(currency, openingBalanceMinor)}; user id ${customer.userId}, login codes to ${customer.msisdn}; code good until ${expiresAt}`,
  );
  detail(demo, `the payee ${payeeId} has account ${payeeAccount} at ${demo.ybank.id}`);
  return { customer: { ...customer, account }, code, payee: { id: payeeId, account: payeeAccount } };
}

// ─── the phone ──────────────────────────────────────────────────────────────

/** §4.3: keys generated on the phone, only the public ones sent with the operator's code. */
async function enrolPhone(
  demo: BankingDemo,
  customer: DemoCustomer,
  label: string,
  code: string,
): Promise<DemoPhone> {
  const store = new MemoryBankingKeyStore();
  const enrolled = await BankingKeyManager.enrol({
    invitation: { bankUrl: demo.wire.url, bankId: demo.xbank.id, partyId: customer.partyId, code },
    deviceId: `${label.replace(/[^a-z]+/g, '-')}-${randomBytes(2).toString('hex')}`.replace(/^-/, ''),
    bank: demo.xbank.trust,
    store,
  });
  learnKeys(demo, label, enrolled.state);
  const client = new BankingClient({
    bankUrl: demo.wire.url,
    keys: enrolled.manager,
    bank: demo.xbank.trust,
  });
  await printWire(demo);
  detail(
    demo,
    `${label} generated an ES256 signing pair and an ECDH-ES encryption pair; ${demo.xbank.id} bound the public keys: binding ${enrolled.state.current.serial}, valid until ${enrolled.state.current.notAfter}`,
  );
  return { label, store, client, sim: generatedSimSerial(), phoneId: generatedPhoneId() };
}

function learnKeys(demo: BankingDemo, label: string, state: BankingKeyState): void {
  const { signing, encryption, serial } = state.current;
  if (signing.publicJwk.kid !== undefined)
    demo.keys.signers.set(signing.publicJwk.kid, `${label} (binding ${serial})`);
  if (encryption.publicJwk.kid !== undefined)
    demo.keys.recipients.set(encryption.publicJwk.kid, `${label}'s encryption key`);
}

async function registerPhone(demo: BankingDemo, customer: DemoCustomer, phone: DemoPhone): Promise<void> {
  const registered = await phone.client.registerDevice(
    { sim: phone.sim, phoneId: phone.phoneId, accountId: customer.account },
    customer.userId,
  );
  await printWire(demo);
  detail(
    demo,
    `ID_C = SIM ${maskedDigits(registered.clientId.sim)} + IMEI ${maskedDigits(registered.clientId.phoneId)} + account ${registered.clientId.accountId}, recorded by ${demo.xbank.id} for binding ${registered.serial}`,
  );
}

/** Login with every factor; the code read from the SMS the bank sent, as `mpay sms` shows it. */
async function logIn(demo: BankingDemo, customer: DemoCustomer, phone: DemoPhone): Promise<BankingSession> {
  const smsDir = smsDirOf(demo.dataDir);
  const seen = await smsSnapshot(smsDir, customer.msisdn);
  let received: StoredSms | undefined;
  const session = await phone.client.login({
    userId: customer.userId,
    password: customer.password,
    msisdn: customer.msisdn,
    readCode: async () => {
      const { sms, value } = await awaitSms(
        { smsDir, msisdn: customer.msisdn, seen, what: 'login code SMS', deadlineMs: loginCodeWaitMs },
        (candidate) => loginCodeOf(candidate.text, demo.xbank.id),
      );
      received = sms;
      return value;
    },
  });
  const exported = phone.client.exportSession();
  const sessionKey = exported === undefined ? undefined : decodeBase64url(exported.sessionKey);
  if (exported === undefined || sessionKey === undefined)
    throw new Error('assertion failed: a login leaves a session');
  demo.keys.sessionKeys.set(exported.sessionId, sessionKey);
  await printWire(demo);
  if (received !== undefined)
    detail(
      demo,
      `SMS to ${received.to} (npx mpay sms ${received.to}): "${printable(received.text.replace(/[0-9]{6,9}/, (code) => '●'.repeat(code.length)))}"`,
    );
  detail(
    demo,
    `session ${session.sessionId} until ${session.expiresAt}; its key = HKDF(ECDH P-256 shares, salt the OPAQUE session key): neither the password record nor the recorded exchange alone gives it`,
  );
  return session;
}

async function showBalance(demo: BankingDemo, phone: DemoPhone): Promise<BankingBalance> {
  const balance = await phone.client.balance();
  await printWire(demo);
  detail(
    demo,
    `balance ${money(balance.currency, balance.balance)}, available ${money(balance.currency, balance.available)}`,
  );
  return balance;
}

// ─── the steps ──────────────────────────────────────────────────────────────

async function transferAcrossBanks(
  demo: BankingDemo,
  phone: DemoPhone,
  payee: { id: string; account: string },
) {
  step(
    demo,
    7,
    `transfer ${money(currency, transferMinor)} to ${payee.id} at ${demo.ybank.id}, through the interbank path`,
    "the session (password, device, phone number, code) and the device's signature on this request with ID_C",
  );
  const before = await balanceAt(demo.ybank, payee.account);
  const transfer = await phone.client.transfer({
    payeeId: payee.id,
    amount: transferMinor,
    currency,
    reference: 'banking demo: rent share',
  });
  await printWire(demo);
  detail(demo, `${demo.xbank.id} answered order ${transfer.orderId}: ${transfer.state}`);
  await until(`credit of ${payee.id} at ${demo.ybank.id}`, interbankWaitMs, async () =>
    (await balanceAt(demo.ybank, payee.account)) === before + transferMinor ? true : undefined,
  );
  detail(
    demo,
    `${demo.ybank.id} credited ${payee.id} ${money(currency, transferMinor)} (read by ${demo.ybank.id}'s operator)`,
  );
  return transfer;
}

async function registerBiller(demo: BankingDemo): Promise<string> {
  const wanted = demoParties.merchant.id;
  try {
    await operatorPost(demo, demo.xbank, '/banking/billers', {
      id: billerId,
      name: billerName,
      payeeId: wanted,
    });
    return billerId;
  } catch (error) {
    if (!isMpayError(error, 'BANKING_BILLER_EXISTS')) throw error;
  }
  const { billers } = await demo.xbank.operator.get<{ billers: { id: string; payeeId: string }[] }>(
    '/banking/billers',
  );
  if (billers.some((biller) => biller.id === billerId && biller.payeeId === wanted)) {
    detail(demo, `biller ${billerId} is registered already (an earlier run), paid to ${wanted}`);
    return billerId;
  }
  const other = `${billerId}-${randomBytes(3).toString('hex')}`;
  await operatorPost(demo, demo.xbank, '/banking/billers', { id: other, name: billerName, payeeId: wanted });
  return other;
}

async function payBill(demo: BankingDemo, phone: DemoPhone) {
  step(
    demo,
    8,
    `${demo.xbank.id}'s operator registers the biller ${billerId}; the customer pays a bill of ${money(currency, billMinor)}`,
    "the session and the device's signature on this request with ID_C",
  );
  const biller = await registerBiller(demo);
  const merchantBank = demo.ybank;
  const before = await balanceAt(merchantBank, demoParties.merchant.account);
  const payment = await phone.client.payBill({
    billerId: biller,
    customerReference: billReference,
    amount: billMinor,
    currency,
  });
  await printWire(demo);
  detail(
    demo,
    `${demo.xbank.id} answered order ${payment.orderId}: ${payment.state}, to ${payment.billerName} (${biller} → ${demoParties.merchant.id})`,
  );
  await until(`credit of ${demoParties.merchant.id}`, interbankWaitMs, async () =>
    (await balanceAt(merchantBank, demoParties.merchant.account)) >= before + billMinor ? true : undefined,
  );
  detail(demo, `${merchantBank.id} credited ${demoParties.merchant.id} ${money(currency, billMinor)}`);
  return payment;
}

/** Step 9: the statement; the transfer's line carries the log's receipt, verified offline as `mpay log verify` does. */
async function statementAndReceipt(
  demo: BankingDemo,
  phone: DemoPhone,
  transfer: { orderId: string },
  deviceKey: PublicJwk,
): Promise<void> {
  step(
    demo,
    9,
    "the statement; the transfer's log receipt verified offline with the log's and the witness's public keys",
    'the session and the signed request; the receipt needs no factor: anyone can check it',
  );
  await until(`log receipt of ${transfer.orderId}`, receiptWaitMs, async () => {
    const evidence = await demo.xbank.operator.get<{ receipt?: unknown }>(
      `/banking/transactions/${transfer.orderId}`,
    );
    return evidence.receipt === undefined ? undefined : true;
  });
  detail(
    demo,
    `${demo.xbank.id}'s transaction log server client submitted the transaction; the log proved it`,
  );
  const statement = await phone.client.statement();
  await printWire(demo);
  for (const line of statement.lines)
    detail(
      demo,
      `  ${line.direction === 'debit' ? '-' : '+'}${money(statement.currency, line.amount)}  ${printable(line.reference ?? '')}${line.receipt === undefined ? '' : '  [log receipt]'}`,
    );
  const line = statement.lines.find((candidate) => candidate.requestId === transfer.orderId);
  const text = receiptTextOf(line?.receipt);
  if (text === undefined) {
    demo.problems.push(`the statement has no receipt for ${transfer.orderId}`);
    detail(demo, `no receipt on the transfer's line`);
    return;
  }
  const path = join(demo.dataDir, 'banking', 'receipts', `${transfer.orderId}.receipt.json`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text.endsWith('\n') ? text : `${text}\n`);
  const policy = await logPolicyOf(demo.dataDir);
  const verified = await verifyReceipt(text, policy);
  if (verified.receipt.transactionId !== transfer.orderId)
    demo.problems.push('the receipt names another transaction');
  const [deviceJws, bankJws] = verified.receipt.messages;
  const deviceSigned = await refusalOf(
    verifyCompactSignature(deviceJws, keyResolverFromJwkSet({ keys: [deviceKey] }), { typ: MESSAGE_TYPE }),
  );
  const bankSigned = await refusalOf(
    verifyCompactSignature(bankJws, keyResolverFromJwkSet(demo.xbank.trust.keys), { typ: MESSAGE_TYPE }),
  );
  if (deviceSigned !== 'accepted')
    demo.problems.push(`the receipt's first message is not the device's: ${deviceSigned}`);
  if (bankSigned !== 'accepted')
    demo.problems.push(`the receipt's second message is not ${demo.xbank.id}'s: ${bankSigned}`);
  detail(
    demo,
    `receipt verified offline: entry ${verified.proof.index} of ${verified.proof.checkpoint.origin} (tree size ${verified.proof.checkpoint.treeSize}), cosigned by ${verified.proof.witnesses.map((witness) => witness.name).join(', ')}`,
  );
  detail(
    demo,
    `it holds ${verified.receipt.messages.length} messages: the device's signed request (${deviceSigned === 'accepted' ? "signature verified under the phone's key" : deviceSigned}) and ${demo.xbank.id}'s signed record (${bankSigned === 'accepted' ? 'verified' : bankSigned})`,
  );
  detail(demo, `written to ${path}; check it yourself: ${verifyCommandOf(path, policy.keyFiles)}`);
}

/** Step 10: the bank's notice by SMS, the renewal signed by the old key; the old key's session is refused after it. */
async function renewKey(
  demo: BankingDemo,
  customer: DemoCustomer,
  phone: DemoPhone,
): Promise<BankingSession> {
  step(
    demo,
    10,
    `${demo.xbank.id} asks for a new key pair (§4.3: renewal is initiated by the bank, by SMS); the phone renews`,
    'the old key signs the renewal request in its session; the new key signs the proof of possession',
  );
  const old = await phone.store.load();
  const oldSession = phone.client.exportSession();
  if (old === undefined || oldSession === undefined)
    throw new Error('assertion failed: the phone is logged in');
  const smsDir = smsDirOf(demo.dataDir);
  const seen = await smsSnapshot(smsDir, customer.msisdn);
  const notice = await operatorPost<{ noticeId: string }>(demo, demo.xbank, '/banking/renewal-notices', {
    serial: old.current.serial,
    reason: 'banking demo: scheduled key renewal',
  });
  const { sms } = await awaitSms(
    { smsDir, msisdn: customer.msisdn, seen, what: 'renewal notice SMS', deadlineMs: renewalSmsWaitMs },
    (candidate) =>
      renewalNoticePrefixOf(candidate.text, demo.xbank.id) === notice.noticeId.slice(0, 8) ? true : undefined,
  );
  detail(demo, `SMS to ${sms.to} (npx mpay sms ${sms.to}): "${printable(sms.text)}"`);
  const notices = await phone.client.renewalNotices();
  if (!notices.some((candidate) => candidate.noticeId === notice.noticeId))
    demo.problems.push(`the phone does not see notice ${notice.noticeId}`);
  const renewed = await phone.client.renewKey(notice.noticeId);
  learnKeys(demo, `${phone.label}'s new key`, renewed);
  if (old.current.signing.publicJwk.kid !== undefined)
    demo.keys.signers.set(
      old.current.signing.publicJwk.kid,
      `${phone.label}'s old key (binding ${old.current.serial})`,
    );
  await printWire(demo);
  detail(
    demo,
    `new binding ${renewed.current.serial} replaces ${old.current.serial}, which ${demo.xbank.id} revoked (reason renewed) with its sessions`,
  );
  const oldClient = new BankingClient({
    bankUrl: demo.wire.url,
    keys: new BankingKeyManager(new MemoryBankingKeyStore(old)),
    bank: demo.xbank.trust,
  });
  await oldClient.resumeSession(oldSession);
  await expectRefusal(
    demo,
    "the old key's next request (balance, in its session)",
    'BANKING_SESSION_INVALID',
    oldClient.balance(),
  );
  await printWire(demo);
  detail(demo, 'the phone logs in again with its new key (every factor):');
  const session = await logIn(demo, customer, phone);
  const sessionKey = demo.keys.sessionKeys.get(session.sessionId);
  if (sessionKey === undefined) throw new Error('assertion failed: the demo keeps the session key');
  const forged = await sealBankingRequest({
    request: { kind: 'balance' },
    clientId: session.clientId,
    sessionId: session.sessionId,
    partyId: customer.partyId,
    bankId: demo.xbank.id,
    signingKey: old.current.signing.privateJwk,
    sessionKey,
  });
  await expectRefusal(
    demo,
    "a request signed by the old key in the new key's session",
    'BANKING_REQUEST_INVALID',
    new BankingConnection({ bankUrl: demo.wire.url }).post(
      '/banking/requests',
      { sessionId: session.sessionId, request: forged.sealed },
      [200],
      ['sessionId', 'requestId', 'answer'],
    ),
  );
  await printWire(demo);
  return session;
}

/** Step 11: a new phone, enrolled with a new code, logs in and revokes the old phone. */
async function newPhone(demo: BankingDemo, customer: DemoCustomer, oldPhone: DemoPhone): Promise<DemoPhone> {
  step(
    demo,
    11,
    'a new phone: enrolled with a new code, registered, logged in; it revokes the old phone',
    "the new phone's key (possession), its ID_C, the customer's password, the phone number and the code",
  );
  const { code } = await enrolmentCode(demo, customer.partyId, customer.account);
  const phone = await enrolPhone(demo, customer, 'the new phone', code);
  await registerPhone(demo, customer, phone);
  await expectRefusal(
    demo,
    "the new phone's password registration (the customer has one)",
    'BANKING_PASSWORD_EXISTS',
    phone.client.registerPassword(customer.userId, customer.password),
  );
  await printWire(demo);
  await logIn(demo, customer, phone);
  const oldState = await oldPhone.store.load();
  if (oldState === undefined) throw new Error('assertion failed: the old phone has keys');
  const revocation = await phone.client.revokeDevice(oldState.current.serial, 'replaced');
  const devices = await phone.client.devices();
  await printWire(demo);
  detail(demo, `revoked ${revocation.serial} at ${revocation.revokedAt} (replaced)`);
  for (const device of devices)
    detail(
      demo,
      `  ${device.current ? '*' : ' '} ${device.serial} ${printable(device.deviceId)} SIM ${device.sim} IMEI ${device.phoneId}: ${device.state}`,
    );
  const old = devices.find((device) => device.serial === oldState.current.serial);
  if (old?.state !== 'revoked')
    demo.problems.push(`the old phone's key is ${old?.state ?? 'not listed'}, not revoked`);
  return phone;
}

function shortMinor(minor: bigint): string {
  return money(currency, minor);
}

export async function demoBanking(
  dataDir: string,
  deployment: DemoDeployment,
  io: CommandIo,
): Promise<number> {
  const demo = await openDemoBanking(dataDir, deployment, io);
  try {
    return await run(demo);
  } finally {
    await demo.wire.close();
  }
}

async function run(demo: BankingDemo): Promise<number> {
  out(demo, "Seed 003 (SA2pMP): two-party mobile banking between a customer's phone and its bank.");
  out(
    demo,
    `The phone runs the SDK's mobile client (BLM, SM, CM, KMM); ${demo.xbank.id} its mobile banking server (authentication,`,
  );
  out(
    demo,
    'business logic, key management, transaction log client). Every exchange is shown as it travelled.',
  );
  const { customer, code, payee } = await setUp(demo);

  step(
    demo,
    2,
    'the phone generates its key pairs and enrols the public keys (§4.3)',
    "possession: the new private key signs the proof; the operator's one-time code",
  );
  const phone = await enrolPhone(demo, customer, 'the phone', code);
  const firstKey = (await phone.store.load())?.current.signing.publicJwk;
  if (firstKey === undefined) throw new Error('assertion failed: the phone holds its key');

  step(
    demo,
    3,
    'the phone registers ID_C = SIM + PHID + ACCID (§4.2)',
    "possession: the bound key's signature over ID_C and the user id",
  );
  await registerPhone(demo, customer, phone);

  step(
    demo,
    4,
    'the customer registers a password (OPAQUE: the bank never sees it)',
    "knowledge: the password; each OPAQUE step signed by the device's key",
  );
  await phone.client.registerPassword(customer.userId, customer.password);
  await printWire(demo);
  detail(demo, `password chosen on the phone: ${'●'.repeat(customer.password.length)}`);

  step(
    demo,
    5,
    'login with every factor',
    "knowledge: the password (OPAQUE); possession: the device's signature with ID_C; the phone number and the SMS code sent to it",
  );
  await logIn(demo, customer, phone);

  step(
    demo,
    6,
    'balance: Client → Bank : E(S(msg, ID_C))',
    "the session and the device's signature on the request with ID_C",
  );
  await showBalance(demo, phone);
  const xbankBefore = await balanceAt(demo.xbank, customer.account);
  const payeeBefore = await balanceAt(demo.ybank, payee.account);
  const merchantBefore = await balanceAt(demo.ybank, demoParties.merchant.account);

  const transfer = await transferAcrossBanks(demo, phone, payee);
  await payBill(demo, phone);
  await statementAndReceipt(demo, phone, transfer, firstKey);
  await renewKey(demo, customer, phone);
  await newPhone(demo, customer, phone);

  step(demo, 12, 'the revoked phone is refused', 'none is enough without a key the bank still binds');
  await expectRefusal(
    demo,
    "the old phone's open session (balance)",
    'BANKING_SESSION_INVALID',
    phone.client.balance(),
  );
  await expectRefusal(
    demo,
    "the old phone's login (right password, right phone number)",
    'BANKING_LOGIN_FAILED',
    phone.client.login({
      userId: customer.userId,
      password: customer.password,
      msisdn: customer.msisdn,
      readCode: async () => {
        throw new MpayError('BANKING_LOGIN_FAILED', 'the bank should not have sent a code');
      },
    }),
  );
  await printWire(demo);

  const after = {
    customer: await balanceAt(demo.xbank, customer.account),
    payee: await balanceAt(demo.ybank, payee.account),
    merchant: await balanceAt(demo.ybank, demoParties.merchant.account),
  };
  out(demo, '');
  out(demo, 'Balances before → after:');
  out(
    demo,
    `  ${customer.partyId} at ${demo.xbank.id}: ${shortMinor(xbankBefore)} → ${shortMinor(after.customer)}`,
  );
  out(demo, `  ${payee.id} at ${demo.ybank.id}: ${shortMinor(payeeBefore)} → ${shortMinor(after.payee)}`);
  out(
    demo,
    `  ${demoParties.merchant.id} at ${demo.ybank.id}: ${shortMinor(merchantBefore)} → ${shortMinor(after.merchant)}`,
  );
  if (xbankBefore - after.customer !== transferMinor + billMinor)
    demo.problems.push(
      `the customer's balance moved by ${xbankBefore - after.customer}, not ${transferMinor + billMinor}`,
    );
  if (after.payee - payeeBefore !== transferMinor)
    demo.problems.push(`the payee's balance moved by ${after.payee - payeeBefore}, not ${transferMinor}`);
  if (after.merchant - merchantBefore !== billMinor)
    demo.problems.push(`the biller's balance moved by ${after.merchant - merchantBefore}, not ${billMinor}`);
  for (const problem of demo.problems) demo.io.stderr(`mpay demo banking: ${problem}\n`);
  if (demo.problems.length === 0)
    out(
      demo,
      `Done: ${shortMinor(transferMinor)} reached ${demo.ybank.id} and ${shortMinor(billMinor)} the biller, exactly; every refusal had its stable code. (\`npx mpay audit\` checks the ledgers.)`,
    );
  return demo.problems.length === 0 ? 0 : 1;
}
