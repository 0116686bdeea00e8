import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { decodeUnverified } from '@mpay/envelope';
import {
  type Amount,
  createAmount,
  defaultMacroLimits,
  type ErrorCode,
  formatDecimalAmount,
  isMpayError,
  type MacroFailurePath,
  type MacroParty,
  type MacroPaymentStatusContent,
  type MacroStep,
  type MacroStepMessage,
  type MacroStepNumber,
  MpayError,
  macroFailurePaths,
  macroOrderId,
  macroStateMachine,
  macroSteps,
} from '@mpay/protocol';
import {
  createMacroDeviceSecret,
  describeCompact,
  enrolDevice,
  fetchBankTrust,
  type MacroApprovalRequest,
  MacroBankClient,
  MacroClient,
  MacroMerchantClient,
  type MacroMessageObserved,
  type MacroPaymentStarted,
  type OpenedMacroChallenge,
} from '@mpay/sdk';
import { generatePartyKeys } from '../platform/identities.ts';
import { type RegistrationMail, readRegistrationMail } from '../platform/mail.ts';
import { demoParties } from '../platform/seed.ts';
import {
  balancesOf,
  type DemoContext,
  type DemoDeployment,
  formatMinor,
  openDemo,
  refusalOf,
} from './demo.ts';
import { type OperatorClient, operatorClient } from './deployment.ts';
import { type CommandIo, processIo } from './io.ts';
import { mailDirOf } from './mail.ts';

/**
 * `mpay demo macro [--trace] [--fail secret|balance|expiry|tries]`: seed 002's
 * macro payment (§4.2) against the running platform, across two banks. A new
 * customer of xbank enrols a device, registers at the MPASP (§3) and reads
 * its client id and mPIN from the platform's mail server, as `mpay mail`
 * shows them; then it pays the demo merchant at ybank. The twelve steps are
 * printed as the paper numbers them (`macroSteps`, the §4.2 table): sender →
 * receiver and the paper's message, and with --trace the size of what mpay
 * sent for it and who signed or sealed it. A --fail path stops where the paper
 * says it stops, prints its stable code and shows that no money moved.
 */

/** The demo's payment: AmtInfo_c. */
const amount: Amount = createAmount('EUR', 129_90n);
/** The new client's balance: enough to pay, or (--fail balance) not. */
const openingBalanceMinor = 1_000_00n;
const shortBalanceMinor = 50_00n;
const secretQuestion = 'Name of your first teacher?';
const secretAnswer = 'Marija Petrovska';
const wrongSecretAnswer = 'Elena Ilievska';

/** How long the demo waits for the platform's background work (mail, step 6, steps 8–12). */
const mailWaitMs = 30_000;
const approvalRequestWaitMs = 30_000;
const outcomeWaitMs = 60_000;
const merchantConfirmationWaitMs = 15_000;
const pollIntervalMs = 200;
/** Past T_EXP by this much before the late answer, so that no clock rounding lets it in. */
const expiryMarginMs = 1_000;
/** Without a terminal, one countdown line this often. */
const countdownLineIntervalMs = 10_000;
/** Pages of the merchant's Pay_Confirms read to find this payment's (50 a page). */
const merchantConfirmationPagesMax = 1_000;

/** `--fail` → the failure path of the table (`macroFailurePaths`). */
const failOptions = {
  secret: 'failure_msg1',
  balance: 'failure_msg2',
  expiry: 'expiry',
  tries: 'tries',
} as const satisfies Record<string, MacroFailurePath['name']>;
type FailOption = keyof typeof failOptions;

function isFailOption(value: string): value is FailOption {
  return Object.hasOwn(failOptions, value);
}

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());

/** One message as the demo saw it: the SDK's observation, or one the demo read from a bank as its operator. */
type Observed = MacroMessageObserved;

interface MacroDemo {
  readonly context: DemoContext;
  readonly io: CommandIo;
  readonly trace: boolean;
  readonly xbank: { readonly id: string; readonly url: string };
  readonly ybank: { readonly id: string; readonly url: string };
  readonly xbankOperator: OperatorClient;
  readonly ybankOperator: OperatorClient;
  /** Which bank's published key a kid is (for "signed by …"). */
  readonly keyOwners: ReadonlyMap<string, string>;
  readonly observed: Observed[];
  /** Why a message of the table is not shown, by `step:from>to`. */
  readonly unobserved: Map<string, string>;
}

/** The new client: its party and account at xbank, its device's clients of the MPASP and of xbank. */
interface MacroDemoClient {
  readonly partyId: string;
  readonly account: string;
  readonly email: string;
  readonly msisdn: string;
  readonly clientId: string;
  readonly mPin: string;
  readonly client: MacroClient;
  readonly bank: MacroBankClient;
}

function bankOf(deployment: DemoDeployment, id: string): { id: string; url: string } {
  const bank = deployment.banks.find((candidate) => candidate.id === id);
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN', id);
  return bank;
}

async function openMacroDemo(
  dataDir: string,
  deployment: DemoDeployment,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<MacroDemo> {
  const context = await openDemo(dataDir, deployment, io, { echo: false });
  const xbank = bankOf(deployment, demoParties.bank.id);
  const ybank = bankOf(deployment, demoParties.merchantBank.id);
  const keyOwners = new Map<string, string>();
  for (const bank of [xbank, ybank]) {
    for (const key of (await fetchBankTrust(bank.url)).keys.keys)
      if (key.kid !== undefined) keyOwners.set(key.kid, bank.id);
  }
  for (const key of context.fsp.keys.keys) if (key.kid !== undefined) keyOwners.set(key.kid, context.fsp.id);
  return {
    context,
    io,
    trace: flags.has('trace'),
    xbank,
    ybank,
    xbankOperator: await operatorClient(dataDir, xbank),
    ybankOperator: await operatorClient(dataDir, ybank),
    keyOwners,
    observed: [],
    unobserved: new Map(),
  };
}

/** The SDK's observer: every message kept, a message read again by a poll kept once. */
function recorder(demo: MacroDemo): (message: Observed) => void {
  return (message) => {
    const again = demo.observed.some(
      (seen) =>
        message.message !== 'macro_mpin_login' &&
        seen.step === message.step &&
        seen.message === message.message &&
        seen.from === message.from &&
        seen.to === message.to &&
        seen.route === message.route,
    );
    if (!again) demo.observed.push(message);
  };
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

function out(demo: MacroDemo, line: string): void {
  demo.io.stdout(`${line}\n`);
}

/** A line of --trace only. */
function detail(demo: MacroDemo, line: string): void {
  if (demo.trace) out(demo, `      ${line}`);
}

// ---------------------------------------------------------------------------
// §3: the new client, its device, its registration and the mail.

async function openClientAccount(demo: MacroDemo, partyId: string, balanceMinor: bigint): Promise<string> {
  const account = randomUUID();
  await demo.xbankOperator.post('/accounts', {
    id: account,
    owner: partyId,
    currency: 'EUR',
    kind: 'customer',
  });
  await demo.xbankOperator.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: balanceMinor.toString(),
    currency: 'EUR',
    reference: 'macro demo: opening balance',
  });
  return account;
}

/** The registration mail, read from the platform's mail server as `mpay mail ADDRESS` reads it. */
function mailedCredentials(demo: MacroDemo, email: string, clientId: string): Promise<RegistrationMail> {
  return readRegistrationMail(mailDirOf(demo.context.dataDir), email, clientId, (what, read) =>
    until(`${what} (is MPAY_SMTP_HOST set?)`, mailWaitMs, read),
  );
}

/** §3: a new customer of xbank with a device bound to its account, registered at the MPASP. */
async function registerClient(demo: MacroDemo, balanceMinor: bigint): Promise<MacroDemoClient> {
  const { context, xbank } = demo;
  const local = `macro-${randomBytes(4).toString('hex')}`;
  const partyId = `${local}@person.${xbank.id}`;
  const account = await openClientAccount(demo, partyId, balanceMinor);
  const { code } = await demo.xbankOperator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice(
    { bankUrl: xbank.url, bankId: xbank.id, partyId, code },
    `phone-${local}`,
    keys,
  );
  const onMessage = recorder(demo);
  const client = new MacroClient({
    gatewayUrl: context.deployment.gateway,
    fsp: context.fsp,
    deviceSecret: createMacroDeviceSecret(),
    onMessage,
  });
  const email = `${local}@mail.example`;
  const msisdn = `+3897${(randomBytes(4).readUInt32BE(0) % 10 ** 8).toString().padStart(8, '0')}`;
  const registered = await client.register({
    binding: enrolment.binding,
    signingKey: keys.signing.privateJwk,
    partyId,
    msisdn,
    email,
    name: 'Ana Kovac',
    secretQuestion,
    secretAnswer,
  });
  const mail = await mailedCredentials(demo, email, registered.clientId);
  out(demo, `Registration (§3), before the twelve steps:`);
  out(
    demo,
    `  ${xbank.id}'s operator opened account ${account} for ${partyId} with ${formatMinor(balanceMinor.toString())}`,
  );
  out(demo, `  and an enrolment code; the device enrolled its keys (binding ${enrolment.serial}).`);
  out(
    demo,
    `  The device registered at the MPASP ${context.fsp.id} (MSISDN ${msisdn}, SQn "${secretQuestion}";`,
  );
  out(
    demo,
    `  SAns kept there only as a slow salted verifier); the MPASP mailed ID_C and the mPIN to ${registered.mailedTo}.`,
  );
  out(demo, `  Read from the platform's mail server (npx mpay mail ${email}): "${mail.subject}",`);
  out(demo, `  client id ${registered.clientId}, mPIN ${'●'.repeat(mail.mPin.length)}.`);
  const bank = new MacroBankClient({
    bankUrl: xbank.url,
    partyId,
    signingKey: keys.signing.privateJwk,
    encryptionKey: keys.encryption.privateJwk,
    onMessage,
  });
  return { partyId, account, email, msisdn, clientId: registered.clientId, mPin: mail.mPin, client, bank };
}

// ---------------------------------------------------------------------------
// Printing the table's steps.

function stepOf(number: MacroStepNumber): MacroStep {
  const step = macroSteps.find((candidate) => candidate.number === number);
  if (step === undefined) throw new Error(`assertion failed: §4.2 has a step ${number}`);
  return step;
}

/** `n. S → R: message`, or `n. S: computation` for a local step (3, 5): the line the e2e test compares with §4.2. */
export function stepLine(step: MacroStep): string {
  const who = step.sender === step.receiver ? `${step.sender}:` : `${step.sender} → ${step.receiver}:`;
  return `${String(step.number).padStart(2)}. ${who} ${step.paper}`;
}

type TableMessage = Pick<MacroStepMessage, 'from' | 'to' | 'message'> & { readonly paper: string };

/** The paper's name of a failure message (§4.2). */
const failureNames: Readonly<Partial<Record<MacroStepMessage['message'], string>>> = {
  macro_failure_msg1: 'send_failure_msg1',
  macro_failure_msg2: 'send_failure_msg2',
};

function keyOf(step: MacroStepNumber, from: MacroParty, to: MacroParty): string {
  return `${step}:${from}>${to}`;
}

function describeObserved(observed: Observed): string {
  return `${observed.bytes} bytes; ${observed.protection} (${observed.route})`;
}

/** The message's detail: what mpay sent for it, or why it is not shown. */
function messageDetail(demo: MacroDemo, step: MacroStepNumber, message: TableMessage, named: boolean): void {
  const observed = demo.observed.findLast(
    (candidate) =>
      candidate.step === step &&
      candidate.from === message.from &&
      candidate.to === message.to &&
      candidate.message === message.message,
  );
  const text =
    observed === undefined
      ? `not shown: ${demo.unobserved.get(keyOf(step, message.from, message.to)) ?? 'not observed by the demo'}`
      : describeObserved(observed);
  detail(demo, named ? `${message.from} → ${message.to} ${message.paper}: ${text}` : text);
}

/** Prints step `number`: its line, then (--trace) its computations and each of its messages. */
function printStep(
  demo: MacroDemo,
  number: MacroStepNumber,
  computations: readonly string[] = [],
  failure?: MacroFailurePath,
): void {
  const step = stepOf(number);
  out(demo, stepLine(step));
  for (const line of computations) detail(demo, line);
  const messages: TableMessage[] = [...step.messages];
  if (failure !== undefined)
    messages.push(
      ...failure.messages.map((message) => ({
        ...message,
        paper: failureNames[message.message] ?? message.message,
      })),
    );
  const named = messages.length > 1 || failure !== undefined;
  for (const message of messages) {
    // The table's condition ("If ABal_C is sufficient then") does not hold on a failure path.
    const conditional = step.messages.find((candidate) => candidate === message)?.condition;
    if (failure !== undefined && conditional !== undefined) {
      detail(
        demo,
        `${message.from} → ${message.to} ${message.paper}: not sent (the paper's "${conditional}" does not hold)`,
      );
      continue;
    }
    messageDetail(demo, number, message, named);
  }
}

function signerOf(demo: MacroDemo, compact: string): string {
  const header = decodeUnverified(compact)?.header as { kid?: unknown } | undefined;
  const owner = typeof header?.kid === 'string' ? demo.keyOwners.get(header.kid) : undefined;
  return owner ?? 'a key no bank publishes';
}

// ---------------------------------------------------------------------------
// Steps 1–5, at the MPASP.

function paymentInput(party: MacroDemoClient) {
  return {
    clientId: party.clientId,
    msisdn: party.msisdn,
    merchantId: demoParties.merchant.id,
    amount,
  };
}

function printSteps1And2(demo: MacroDemo, started: MacroPaymentStarted, challengeSent: boolean): void {
  const data = started.transactionData;
  printStep(demo, 1, [
    `ID_C ${started.clientId}, AmtInfo_c ${amount.currency} ${formatDecimalAmount(amount)}, h(TransactionData) over ${data.date}, ${data.merchantId}, ${data.merchantBankId}`,
  ]);
  if (!challengeSent)
    demo.unobserved.set(
      keyOf(2, 'MPASP', 'C'),
      'the MPASP seals SQn only into the answer of an opening whose mPIN login succeeded: none did',
    );
  printStep(demo, 2, [
    `ID_T = create_TranId(ID_C) = ${started.transactionId}; T_iS ${started.challengedAt}, T_EXP ${started.expiresAt} (named in the MPASP's answer to step 1)`,
  ]);
}

function lifetimeSeconds(started: MacroPaymentStarted): number {
  return Math.round((Date.parse(started.expiresAt) - Date.parse(started.challengedAt)) / 1000);
}

function loginSizes(logins: readonly Observed[]): string {
  return logins.map((login) => `${login.bytes}`).join(' + ');
}

function printStep3(
  demo: MacroDemo,
  started: MacroPaymentStarted,
  opened: OpenedMacroChallenge,
  from: number,
): void {
  const logins = demo.observed.slice(from).filter((entry) => entry.message === 'macro_mpin_login');
  printStep(demo, 3, [
    `D_SP{ID_T, SQn}: the mPIN enters an OPAQUE login the MPASP counts (${loginSizes(logins)} bytes sent); its session key and the device secret give the channel key that opened SQn "${opened.challenge.secretQuestion}"`,
    `T_EXP (T_EXP > T_iS): ${started.expiresAt} > ${started.challengedAt} (${lifetimeSeconds(started)} s)`,
  ]);
}

/** Steps 1–3 for a client that knows its mPIN. */
async function steps1To3(
  demo: MacroDemo,
  party: MacroDemoClient,
): Promise<{ started: MacroPaymentStarted; opened: OpenedMacroChallenge }> {
  const started = await party.client.requestPayment(paymentInput(party));
  const before = demo.observed.length;
  const opened = await party.client.openChallenge(started.transactionId, party.mPin);
  printSteps1And2(demo, started, true);
  printStep3(demo, started, opened, before);
  return { started, opened };
}

function printStep5(demo: MacroDemo, party: MacroDemoClient, sessionId: string): void {
  printStep(demo, 5, [
    'SAns = D_SP{E_SP{ID_T, SAns}}: checked against the slow salted verifier: valid',
    `SID_T = CreateSession(ID_T) = ${sessionId}`,
    `SID_T = GetClientInfo(ID_C, ID_CB): ID_CB = ${demo.xbank.id}, the bank ID_C ${party.clientId} names`,
  ]);
}

// ---------------------------------------------------------------------------
// The outcome, as the parties tell it.

async function statusWhen(
  party: MacroDemoClient,
  transactionId: string,
  accept: (status: MacroPaymentStatusContent) => boolean,
  what: string,
): Promise<MacroPaymentStatusContent> {
  return until(what, outcomeWaitMs, async () => {
    const status = await party.client.paymentStatus(party.clientId, transactionId);
    return accept(status) ? status : undefined;
  });
}

const finalStatuses: ReadonlySet<string> = new Set(['completed', 'declined', 'expired', 'failed']);

interface Balances {
  readonly customer: string;
  readonly merchant: string;
}

function printBalances(demo: MacroDemo, party: MacroDemoClient, before: Balances, after: Balances): void {
  out(
    demo,
    `Balances: ${party.partyId} at ${demo.xbank.id} ${formatMinor(before.customer)} → ${formatMinor(after.customer)};`,
  );
  out(
    demo,
    `          ${demoParties.merchant.id} at ${demo.ybank.id} ${formatMinor(before.merchant)} → ${formatMinor(after.merchant)}`,
  );
}

// ---------------------------------------------------------------------------
// Steps 8–12, read where each party reads them.

function record(demo: MacroDemo, message: Observed): void {
  demo.observed.push(Object.freeze(message));
}

async function operatorRead<T>(operator: OperatorClient, path: string): Promise<T | string> {
  try {
    return await operator.get<T>(path);
  } catch (error) {
    if (isMpayError(error)) return `${operator.id} answers GET ${path} with ${error.code}`;
    throw error;
  }
}

/** The content a bank's JWS carries under `member`, FOR DISPLAY ONLY (the banks verified it; the demo does not). */
function contentIn(compact: string, member: string): Record<string, unknown> | undefined {
  const payload = decodeUnverified(compact)?.payload as Record<string, unknown> | undefined;
  const content = payload?.[member];
  return typeof content === 'object' && content !== null ? (content as Record<string, unknown>) : undefined;
}

/** The paper's fields a step-8 or step-10 content names, e.g. `SID_T …, ID_M …, AmtInfo_c EUR 129.90`. */
function paperFields(content: Record<string, unknown>): string {
  const amountOf = content.amount as { currency?: unknown; value?: unknown } | undefined;
  return [
    `SID_T ${String(content.sessionId)}`,
    `ID_C ${String(content.clientId)}`,
    `ID_M ${String(content.merchantId)}`,
    `from ${String(content.from)} to ${String(content.to)}`,
    `AmtInfo_c ${String(amountOf?.currency)} ${String(amountOf?.value)}`,
  ].join(', ');
}

/**
 * Step 8: FT as the MB received it (its operator's record of the credit);
 * step 10: Pay_Ack in the MB's signed answer, and step 12's statement to the
 * MPASP, as the CB keeps its order. Lines describing steps 8 and 10.
 */
async function readInterbank(demo: MacroDemo, orderId: string): Promise<{ ft: string[]; payAck: string[] }> {
  const lines = { ft: [] as string[], payAck: [] as string[] };
  const creditPath = `/interbank/credits/${orderId}`;
  const credit = await operatorRead<{ message?: string }>(demo.ybankOperator, creditPath);
  if (typeof credit === 'string' || typeof credit.message !== 'string') {
    demo.unobserved.set(keyOf(8, 'CB', 'MB'), typeof credit === 'string' ? credit : 'no FT in its record');
  } else {
    const ft = contentIn(credit.message, 'macroFundsTransfer');
    lines.ft.push(ft === undefined ? 'the FT names no macroFundsTransfer' : `FT names ${paperFields(ft)}`);
    record(demo, {
      step: 8,
      from: 'CB',
      to: 'MB',
      message: 'macro_funds_transfer',
      bytes: Buffer.byteLength(credit.message),
      protection: `signed by ${signerOf(demo, credit.message)} (${describeCompact(credit.message)})`,
      route: `POST /interbank/funds-transfers, as ${demo.ybank.id} keeps it: GET ${creditPath}`,
    });
  }
  const orderPath = `/payment-orders/${orderId}`;
  const order = await operatorRead<{ answer?: string; bankAnswer?: string }>(demo.xbankOperator, orderPath);
  if (typeof order === 'string') {
    demo.unobserved.set(keyOf(10, 'MB', 'CB'), order);
    demo.unobserved.set(keyOf(12, 'CB', 'MPASP'), order);
    return lines;
  }
  const payAck = typeof order.answer === 'string' ? contentIn(order.answer, 'payAck') : undefined;
  if (typeof order.answer === 'string' && payAck !== undefined) {
    lines.payAck.push(`Pay_Ack names ${paperFields(payAck)}`);
    record(demo, {
      step: 10,
      from: 'MB',
      to: 'CB',
      message: 'macro_pay_ack',
      bytes: Buffer.byteLength(order.answer),
      protection: `signed by ${signerOf(demo, order.answer)} (${describeCompact(order.answer)})`,
      route: `the answer to FT, as ${demo.xbank.id} keeps it: GET ${orderPath}`,
    });
  } else {
    demo.unobserved.set(
      keyOf(10, 'MB', 'CB'),
      typeof order.answer === 'string'
        ? `${demo.ybank.id}'s signed answer to FT (${Buffer.byteLength(order.answer)} bytes) carries no payAck`
        : `${demo.xbank.id}'s order ${orderId} has no answer from ${demo.ybank.id}`,
    );
  }
  if (typeof order.bankAnswer === 'string') {
    record(demo, {
      step: 12,
      from: 'CB',
      to: 'MPASP',
      message: 'macro_pay_confirm_to_mpasp',
      bytes: Buffer.byteLength(order.bankAnswer),
      protection: `signed by ${signerOf(demo, order.bankAnswer)} for the MPASP (${describeCompact(order.bankAnswer)}), afresh on each read`,
      route: `the order's statement, GET ${orderPath}, here as ${demo.xbank.id}'s operator reads it`,
    });
  } else {
    demo.unobserved.set(
      keyOf(12, 'CB', 'MPASP'),
      `${demo.xbank.id}'s order ${orderId} has no signed statement`,
    );
  }
  return lines;
}

/** Step 9: the merchant reads its Pay_Confirm from ybank with the key ybank bound to it. */
async function readMerchantConfirmation(demo: MacroDemo, sessionId: string): Promise<string | undefined> {
  const { context, ybank } = demo;
  const merchant = new MacroMerchantClient({
    bankUrl: ybank.url,
    partyId: demoParties.merchant.id,
    signingKey: context.merchantKeys.signing.privateJwk,
    encryptionKey: context.merchantKeys.encryption.privateJwk,
  });
  const find = async () => {
    let after = '0';
    for (let page = 0; page < merchantConfirmationPagesMax; page += 1) {
      const { confirmations, next } = await merchant.confirmations(after);
      const found = confirmations.find((confirmation) => confirmation.sessionId === sessionId);
      if (found !== undefined || next === undefined) return found;
      after = next;
    }
    return undefined;
  };
  try {
    const found = await until(
      `Pay_Confirm for ${sessionId} at ${ybank.id}`,
      merchantConfirmationWaitMs,
      find,
    );
    record(demo, {
      step: 9,
      from: 'MB',
      to: 'M',
      message: 'macro_pay_confirm_to_merchant',
      bytes: found.bytes,
      protection: `signed by ${ybank.id}, sealed to the merchant's key bound at ${ybank.id}; verified by the merchant`,
      route: 'answer to GET /macro/merchant-confirmations',
    });
    return `the merchant read it: ID_C ${found.content.clientId}, AmtInfo_c ${found.content.amount.currency} ${found.content.amount.value}`;
  } catch (error) {
    if (!isMpayError(error)) throw error;
    demo.unobserved.set(
      keyOf(9, 'MB', 'M'),
      `${error.code}${error.detail === undefined ? '' : ` (${error.detail})`}`,
    );
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// The runs.

/** A client registered with `balanceMinor` and shown, then steps 1–5 with the right answers. */
async function registeredThroughStep5(demo: MacroDemo, balanceMinor: bigint) {
  const party = await registerClient(demo, balanceMinor);
  const before = await balancesOf(demo.context, party.account);
  printParties(demo, party);
  const { started } = await steps1To3(demo, party);
  const session = await party.client.answerSecret(started.transactionId, secretAnswer);
  printStep(demo, 4);
  printStep5(demo, party, session.sessionId);
  return { party, before, started, session };
}

async function pay(demo: MacroDemo): Promise<number> {
  const { party, before, started, session } = await registeredThroughStep5(demo, openingBalanceMinor);
  const request = await until<MacroApprovalRequest>(
    `PApp_Req for ${session.sessionId}`,
    approvalRequestWaitMs,
    async () =>
      (await party.bank.approvalRequests()).find((candidate) => candidate.sessionId === session.sessionId),
  );
  await printStep6(
    demo,
    session.sessionId,
    `ABal_C sufficient: ${demo.xbank.id} asks the client directly (PApp_Req for ${request.content.amount.currency} ${request.content.amount.value}, until ${request.content.expiresAt})`,
  );
  const outcome = await party.bank.approve(request, {
    decision: 'approve',
    transactionData: started.transactionData,
  });
  printStep(demo, 7, [
    `the device checked h(TransactionData) against PApp_Req and approved; ${demo.xbank.id} answered ${outcome.state}, order ${outcome.order?.state ?? 'none'}`,
  ]);
  const status = await statusWhen(
    party,
    started.transactionId,
    (candidate) => finalStatuses.has(candidate.status),
    `final status of ${started.transactionId}`,
  );
  const orderId = macroOrderId(demo.xbank.id, session.sessionId, sha256);
  const interbank = await readInterbank(demo, orderId);
  printStep(demo, 8, [
    `${demo.xbank.id} held AmtInfo_c and sent FT for its order ${orderId}`,
    ...interbank.ft,
  ]);
  const merchantSaw = await readMerchantConfirmation(demo, session.sessionId);
  printStep(demo, 9, merchantSaw === undefined ? [] : [merchantSaw]);
  printStep(demo, 10, interbank.payAck);
  const confirmation = await party.bank.confirmation(session.sessionId);
  printStep(demo, 11, [
    `the device's bank says ${confirmation.state}${confirmation.payConfirm === undefined ? '' : `: ID_M ${confirmation.payConfirm.merchantId}, AmtInfo_c ${confirmation.payConfirm.amount.currency} ${confirmation.payConfirm.amount.value}`}`,
  ]);
  printStep(demo, 12, [
    `the MPASP's status for the client: ${status.status} at step ${status.step}${status.outcome === null ? '' : `, ${status.outcome}`}`,
  ]);
  const after = await balancesOf(demo.context, party.account);
  printBalances(demo, party, before, after);
  return successOutcome(demo, status, before, after);
}

function printParties(demo: MacroDemo, party: MacroDemoClient): void {
  out(demo, '');
  out(
    demo,
    `Seed 002 §4.2: C ${party.clientId} pays M ${demoParties.merchant.id} ${amount.currency} ${formatDecimalAmount(amount)};`,
  );
  out(demo, `MPASP ${demo.context.fsp.id}, CB ${demo.xbank.id}, MB ${demo.ybank.id}.`);
  out(demo, '');
}

/** Step 6 between the MPASP and the CB, as the CB's operator reads its record of SID_T. */
async function printStep6(
  demo: MacroDemo,
  sessionId: string,
  line: string,
  failure?: MacroFailurePath,
): Promise<void> {
  const path = `/macro/payment-requests/${sessionId}`;
  const kept = await operatorRead<{ request?: string; failure?: string }>(demo.xbankOperator, path);
  const route = `${demo.xbank.id} keeps it: GET ${path}`;
  if (typeof kept === 'string' || typeof kept.request !== 'string') {
    demo.unobserved.set(
      keyOf(6, 'MPASP', 'CB'),
      typeof kept === 'string' ? kept : 'no request in its record',
    );
  } else {
    record(demo, {
      step: 6,
      from: 'MPASP',
      to: 'CB',
      message: 'macro_client_bank_request',
      bytes: Buffer.byteLength(kept.request),
      protection: `signed by the MPASP (${describeCompact(kept.request)})`,
      route: `POST /macro/payment-requests from the MPASP's background round, as ${route}`,
    });
  }
  if (typeof kept !== 'string' && typeof kept.failure === 'string') {
    record(demo, {
      step: 6,
      from: 'CB',
      to: 'MPASP',
      message: 'macro_failure_msg2',
      bytes: Buffer.byteLength(kept.failure),
      protection: `signed by ${signerOf(demo, kept.failure)} (${describeCompact(kept.failure)})`,
      route: `the answer to step 6, as ${route}`,
    });
  } else {
    demo.unobserved.set(keyOf(6, 'CB', 'MPASP'), `${demo.xbank.id} keeps no send_failure_msg2 for SID_T`);
  }
  printStep(demo, 6, [line], failure);
}

function successOutcome(
  demo: MacroDemo,
  status: MacroPaymentStatusContent,
  before: Balances,
  after: Balances,
): number {
  const customerMoved = BigInt(before.customer) - BigInt(after.customer);
  const merchantMoved = BigInt(after.merchant) - BigInt(before.merchant);
  const problems = [
    status.status === 'completed'
      ? undefined
      : `the payment is ${status.status} (${status.outcome ?? 'no code'}), not completed`,
    customerMoved === amount.minor
      ? undefined
      : `the client's balance moved by ${customerMoved}, not ${amount.minor}`,
    merchantMoved === amount.minor
      ? undefined
      : `the merchant's balance moved by ${merchantMoved}, not ${amount.minor}`,
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length === 0)
    out(
      demo,
      `Completed: exactly ${formatMinor(amount.minor.toString())} moved from the client to the merchant.`,
    );
  for (const problem of problems) demo.io.stderr(`mpay demo macro: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

/** What a failure path ends with: the code the parties were told, against the table's. */
function failureOutcome(
  demo: MacroDemo,
  path: MacroFailurePath,
  party: MacroDemoClient,
  observed: { readonly code: string; readonly status: MacroPaymentStatusContent },
  balances: { readonly before: Balances; readonly after: Balances },
): number {
  const expected: ErrorCode | null = macroStateMachine[path.state].outcome;
  out(demo, '');
  out(demo, `Failure path "${path.name}" at step ${path.step}: ${path.paper}`);
  out(
    demo,
    `  stable code ${observed.code}; the MPASP's status: ${observed.status.status} at step ${observed.status.step}, ${observed.status.outcome ?? 'no code'}`,
  );
  printBalances(demo, party, balances.before, balances.after);
  const unchanged =
    balances.before.customer === balances.after.customer &&
    balances.before.merchant === balances.after.merchant;
  const problems = [
    observed.code === expected
      ? undefined
      : `the code is ${observed.code}, the table says ${String(expected)}`,
    observed.status.outcome === expected
      ? undefined
      : `the MPASP's status says ${String(observed.status.outcome)}, not ${String(expected)}`,
    unchanged ? undefined : 'money moved',
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length === 0) out(demo, 'No money moved.');
  for (const problem of problems) demo.io.stderr(`mpay demo macro --fail: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

function failurePath(option: FailOption): MacroFailurePath {
  const path = macroFailurePaths.find((candidate) => candidate.name === failOptions[option]);
  if (path === undefined)
    throw new Error(`assertion failed: the table has the failure path ${failOptions[option]}`);
  return path;
}

/** --fail secret: a wrong SAns; step 5 answers failure_msg1. */
async function failSecret(demo: MacroDemo, path: MacroFailurePath): Promise<number> {
  const party = await registerClient(demo, openingBalanceMinor);
  const before = await balancesOf(demo.context, party.account);
  printParties(demo, party);
  const { started } = await steps1To3(demo, party);
  const code = await refusalOf(party.client.answerSecret(started.transactionId, wrongSecretAnswer));
  printStep(demo, 4, [`SAns "${wrongSecretAnswer}" (not the registered answer)`]);
  printStep(
    demo,
    5,
    ['SAns = D_SP{E_SP{ID_T, SAns}}: checked against the slow salted verifier: not valid; no SID_T'],
    path,
  );
  const status = await party.client.paymentStatus(party.clientId, started.transactionId);
  const after = await balancesOf(demo.context, party.account);
  return failureOutcome(demo, path, party, { code, status }, { before, after });
}

/** --fail balance: a client holding less than AmtInfo_c; the CB answers failure_msg2 at step 6, before any PApp_Req. */
async function failBalance(demo: MacroDemo, path: MacroFailurePath): Promise<number> {
  const { party, before, started, session } = await registeredThroughStep5(demo, shortBalanceMinor);
  const status = await statusWhen(
    party,
    started.transactionId,
    (candidate) => finalStatuses.has(candidate.status),
    `final status of ${started.transactionId}`,
  );
  const asked = (await party.bank.approvalRequests()).some(
    (request) => request.sessionId === session.sessionId,
  );
  await printStep6(
    demo,
    session.sessionId,
    `ABal_C ${formatMinor(shortBalanceMinor.toString())} < AmtInfo_c: ${asked ? `${demo.xbank.id} asked the client anyway` : `${demo.xbank.id} lists no PApp_Req for SID_T: the client was never asked`}`,
    path,
  );
  const after = await balancesOf(demo.context, party.account);
  const code = asked ? 'PAPP_REQ_SENT' : (status.outcome ?? status.status);
  return failureOutcome(demo, path, party, { code, status }, { before, after });
}

/** Waits until T_EXP has passed, with a countdown (one line every so often without a terminal). */
async function waitPastExpiry(demo: MacroDemo, expiresAt: string): Promise<void> {
  const end = Date.parse(expiresAt) + expiryMarginMs;
  const terminal = demo.io === processIo && process.stdout.isTTY === true;
  let lastLineAt = Number.NEGATIVE_INFINITY;
  for (let left = end - Date.now(); left > 0; left = end - Date.now()) {
    const line = `waiting for T_EXP ${expiresAt}: ${Math.ceil(left / 1000)} s left`;
    if (terminal) demo.io.stdout(`\r      ${line}   `);
    else if (Date.now() - lastLineAt >= countdownLineIntervalMs) {
      out(demo, `      ${line}`);
      lastLineAt = Date.now();
    }
    await new Promise((done) => setTimeout(done, Math.min(1_000, left)));
  }
  if (terminal) demo.io.stdout('\n');
  out(demo, '      T_EXP has passed.');
}

/** --fail expiry: the challenge opened in time, the answer sent after T_EXP. */
async function failExpiry(demo: MacroDemo, path: MacroFailurePath): Promise<number> {
  const party = await registerClient(demo, openingBalanceMinor);
  const before = await balancesOf(demo.context, party.account);
  printParties(demo, party);
  const { started } = await steps1To3(demo, party);
  await waitPastExpiry(demo, started.expiresAt);
  const sentAt = new Date().toISOString();
  const code = await refusalOf(party.client.answerSecret(started.transactionId, secretAnswer));
  printStep(demo, 4, [
    `the right SAns, sent at ${sentAt}, after T_EXP ${started.expiresAt}: refused with ${code}`,
  ]);
  const status = await party.client.paymentStatus(party.clientId, started.transactionId);
  const after = await balancesOf(demo.context, party.account);
  return failureOutcome(demo, path, party, { code, status }, { before, after });
}

function wrongPin(mPin: string): string {
  return ((Number(mPin) + 1) % 1_000_000).toString().padStart(mPin.length, '0');
}

/** --fail tries: three wrong mPINs at the challenge opening delete it; the fourth try is refused on the device. */
async function failTries(demo: MacroDemo, path: MacroFailurePath): Promise<number> {
  const party = await registerClient(demo, openingBalanceMinor);
  const before = await balancesOf(demo.context, party.account);
  printParties(demo, party);
  const started = await party.client.requestPayment(paymentInput(party));
  const tries: string[] = [];
  let code = 'accepted';
  // §3: "more than 3 times, the message will be deleted at client device".
  for (let attempt = 1; attempt <= defaultMacroLimits.challengeOpenTriesMax; attempt += 1) {
    const from = demo.observed.length;
    code = await refusalOf(party.client.openChallenge(started.transactionId, wrongPin(party.mPin)));
    const logins = demo.observed.slice(from).filter((entry) => entry.message === 'macro_mpin_login');
    tries.push(
      `try ${attempt}, a wrong mPIN: ${code} (OPAQUE login, ${loginSizes(logins)} bytes sent, counted by the MPASP)`,
    );
  }
  const from = demo.observed.length;
  const fourth = await refusalOf(party.client.openChallenge(started.transactionId, party.mPin));
  const sent = demo.observed.length - from;
  tries.push(
    `try ${defaultMacroLimits.challengeOpenTriesMax + 1}, the right mPIN: ${fourth} on the device, ${sent === 0 ? 'nothing sent' : `${sent} messages sent`}`,
  );
  printSteps1And2(demo, started, false);
  printStep(demo, 3, tries);
  const status = await party.client.paymentStatus(party.clientId, started.transactionId);
  const after = await balancesOf(demo.context, party.account);
  // The path holds only if the last counted try and the one after it both say so, and the latter sent nothing.
  const shown = code === fourth && sent === 0 ? code : `${code}, then ${fourth} (${sent} messages sent)`;
  return failureOutcome(demo, path, party, { code: shown, status }, { before, after });
}

/** What is wrong with the flags, before any platform is found or started; undefined when nothing is. */
export function macroDemoFlagProblem(flags: Map<string, string>): string | undefined {
  const fail = flags.get('fail');
  return fail === undefined || isFailOption(fail)
    ? undefined
    : `--fail must be ${Object.keys(failOptions).join(', ')}`;
}

export async function demoMacroPayment(
  dataDir: string,
  deployment: DemoDeployment,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const problem = macroDemoFlagProblem(flags);
  if (problem !== undefined) {
    io.stderr(`mpay demo macro: ${problem}\n`);
    return 2;
  }
  const fail = flags.get('fail');
  const demo = await openMacroDemo(dataDir, deployment, flags, io);
  if (fail === undefined || !isFailOption(fail)) return pay(demo);
  const path = failurePath(fail);
  const run = { secret: failSecret, balance: failBalance, expiry: failExpiry, tries: failTries }[fail];
  return run(demo, path);
}
