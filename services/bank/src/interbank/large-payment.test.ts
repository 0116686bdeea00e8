import { randomUUID } from 'node:crypto';
import {
  generateEncryptionKeyPair,
  keyResolverFromJwkSet,
  type PublicJwk,
  sealPrivateData,
  verifyPayload,
} from '@mpay/envelope';
import { httpStatusOf } from '@mpay/http-server';
import {
  defaultSecurityPolicy,
  type ErrorCode,
  errorMessageOf,
  type ImsSealedData,
  type Protection,
  type SecurityLevel,
} from '@mpay/protocol';
import { authenticatorCode, sealSecondFactor } from '@mpay/sdk';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serviceStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import {
  type DebitToAuthorise,
  type EnrolledKey,
  enrolTestCustomer,
  signTestAuthorisation,
  testCaller,
  uniquePartyId,
} from '../test-helpers.ts';
import { startBankPair, type TestBankPair } from './test-banks.ts';

// The large level at the customer's bank (iMS: "different levels of security
// have to be implemented for small, medium and large transaction of funds"):
// the bank refuses a level below what the amount asks for, checks the
// customer's one-time code sealed inside the customer's signature, and
// approves the payment explicitly in its signed answer. Every refusal is
// checked for its stable code, its signed answer, its record, and for
// nothing having moved.

let banks: TestBankPair;
let payer: string;
let customer: string;
let key: EnrolledKey;
let authenticator: string;
let remotePayee: string;
let remoteMerchant: string;
let localPayee: string;
let localMerchant: string;

/** €600.00: above the default policy's medium bound (€500.00), so the amount alone asks for large. */
const largeAmount = '60000';

beforeAll(async () => {
  banks = await within(startBankPair(), {
    deadlineMs: serviceStartDeadlineMs,
    what: 'the two test banks (startBankPair) to start',
  });
});

afterAll(async () => {
  await banks.close();
});

async function fund(account: string, amount: bigint) {
  const funding = await banks.x.openAccount('funding');
  const answer = await banks.x.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: account,
    amount: amount.toString(),
    currency: 'EUR',
  });
  expect(answer.status).toBe(201);
}

beforeEach(async () => {
  payer = uniquePartyId('person', 'xbank', 'john');
  customer = await banks.x.openAccount('customer', payer);
  remotePayee = uniquePartyId('merchant', 'ybank', 'shop');
  remoteMerchant = await banks.y.openAccount('merchant', remotePayee);
  localPayee = uniquePartyId('merchant', 'xbank', 'kiosk');
  localMerchant = await banks.x.openAccount('merchant', localPayee);
  await fund(customer, 1_000_000n);
  // The payer's first enrolment: the bank provisions the second factor to this device.
  key = await enrolTestCustomer(banks.x, payer, [customer]);
  if (key.authenticator === undefined) throw new Error('the first enrolment carries the authenticator');
  authenticator = key.authenticator;
});

afterEach(async () => {
  banks.x.offsetMs = 0;
  await banks.x.service.worker.runOnce();
});

function debit(overrides: Partial<DebitToAuthorise> = {}): DebitToAuthorise {
  return {
    id: randomUUID(),
    payerId: payer,
    debitAccountId: customer,
    payeeId: localPayee,
    creditBankId: 'xbank',
    amount: largeAmount,
    currency: 'EUR',
    ...overrides,
  };
}

/** The code the customer's authenticator shows now (at the bank's clock). */
const currentCode = () => authenticatorCode(authenticator, banks.x.now());

/** A code no step of the window has: the code of ten minutes ahead. */
const wrongCode = () => authenticatorCode(authenticator, new Date(banks.x.now().getTime() + 600_000));

/** The wallet's part: the code sealed to the bank for `sealedFor`, inside the customer's signature over `order`. */
async function authorise(
  order: DebitToAuthorise,
  options: {
    code?: string;
    sealedFor?: Partial<{ transactionId: string; payerId: string }>;
    type?: SecurityLevel;
    sealed?: ImsSealedData;
    protections?: readonly Protection[];
  } = {},
) {
  const secondFactor =
    options.code === undefined
      ? undefined
      : await sealSecondFactor(
          { code: options.code, transactionId: order.id, payerId: order.payerId, ...options.sealedFor },
          key.bankEncryptionJwk!,
        );
  return signTestAuthorisation(key, order, {
    type: options.type ?? 'large',
    ...(secondFactor === undefined ? {} : { secondFactor }),
    ...(options.sealed === undefined ? {} : { sealed: options.sealed }),
    ...(options.protections === undefined ? {} : { protections: options.protections }),
  });
}

function place(fields: DebitToAuthorise, authorisation?: string) {
  return banks.x.call('POST', '/payment-orders', {
    ...fields,
    reference: 'iMS payment',
    ...(authorisation === undefined ? {} : { authorisation }),
  });
}

async function balances() {
  const accounts = [
    [banks.x, customer],
    [banks.x, localMerchant],
    [banks.y, remoteMerchant],
  ] as const;
  return Promise.all(accounts.map(([node, account]) => node.balance(account)));
}

async function refusalsOf(orderId: string) {
  const { rows } = await banks.x.database.query<{ code: string; reason: string }>(
    'SELECT code, reason FROM payment_order_refusals WHERE order_id = $1 ORDER BY seq',
    [orderId],
  );
  return rows;
}

async function secondFactorRow() {
  const { rows } = await banks.x.database.query<{
    state: string;
    failed_attempts: number;
    last_used_step: string | null;
  }>('SELECT state, failed_attempts, last_used_step FROM second_factors WHERE party_id = $1', [payer]);
  return rows[0];
}

async function verifiedBankAnswer(bankAnswer: unknown, orderId: string) {
  const bank = await fetch(`${banks.x.url}/bank`).then((response) => response.json());
  const verified = await verifyPayload(
    bankAnswer,
    keyResolverFromJwkSet(bank.keys),
    { audience: testCaller, issuer: 'xbank', transactionId: orderId },
    { maxAgeSeconds: 86_400 },
  );
  return verified.payload.paymentOrder as Record<string, unknown>;
}

/** Expects the refusal `code`, signed by the bank, recorded with its reason, and nothing moved. Returns the reason. */
async function expectRefused(fields: DebitToAuthorise, authorisation: string | undefined, code: ErrorCode) {
  const before = await balances();
  const answer = await place(fields, authorisation);
  expect(answer.status).toBe(httpStatusOf(code));
  expect(answer.body).toEqual({
    error: { code, message: errorMessageOf(code) },
    bankAnswer: expect.any(String),
  });
  expect(await verifiedBankAnswer(answer.body.bankAnswer, fields.id)).toEqual({
    id: fields.id,
    state: 'refused',
    payerId: fields.payerId,
    payeeId: fields.payeeId,
    amount: fields.amount,
    currency: fields.currency,
    refusalCode: code,
  });
  expect(await balances()).toEqual(before);
  expect((await banks.x.call('GET', `/payment-orders/${fields.id}`)).status).toBe(404);
  const refusals = await refusalsOf(fields.id);
  expect(refusals.at(-1)?.code).toBe(code);
  return refusals.at(-1)!.reason;
}

/** The approval the bank signs into its answer to a large order it accepted. */
const largeApproval = {
  level: 'large',
  checks: ['customer_signature', 'second_factor'],
  approvedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
};

describe('a large payment with the customer’s one-time code', () => {
  it('is paid, and the bank’s signed answer carries its explicit approval', async () => {
    const order = debit();
    const placed = await place(order, await authorise(order, { code: currentCode() }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await banks.x.balance(customer)).toEqual({ balance: 940_000n, available: 940_000n });
    expect(await banks.x.balance(localMerchant)).toMatchObject({ balance: 60_000n });
    const signed = await verifiedBankAnswer(placed.body.bankAnswer, order.id);
    expect(signed).toEqual({
      id: order.id,
      state: 'completed',
      payerId: payer,
      payeeId: localPayee,
      amount: largeAmount,
      currency: 'EUR',
      approval: largeApproval,
    });
    const approvedAt = Date.parse((signed.approval as { approvedAt: string }).approvedAt);
    expect(Math.abs(approvedAt - banks.x.now().getTime())).toBeLessThan(60_000);
    // Read again later: the same approval, signed afresh.
    const read = await banks.x.call('GET', `/payment-orders/${order.id}`);
    expect((await verifiedBankAnswer(read.body.bankAnswer, order.id)).approval).toEqual(signed.approval);
    expect(await secondFactorRow()).toMatchObject({ state: 'active', failed_attempts: 0 });
  });

  it('is paid across banks; the approval comes with the completed answer', async () => {
    const order = debit({ payeeId: remotePayee, creditBankId: 'ybank' });
    const placed = await place(order, await authorise(order, { code: currentCode() }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await banks.y.balance(remoteMerchant)).toMatchObject({ balance: 60_000n });
    expect((await verifiedBankAnswer(placed.body.bankAnswer, order.id)).approval).toEqual(largeApproval);
  });

  it('a retry of the paid order is answered from the record: the code is not checked again', async () => {
    const order = debit();
    const authorisation = await authorise(order, { code: currentCode() });
    expect((await place(order, authorisation)).status).toBe(201);
    banks.x.offsetMs = 3_600_000;
    const again = await place(order, authorisation);
    expect(again).toMatchObject({ status: 201, body: { id: order.id, state: 'completed' } });
    expect((await verifiedBankAnswer(again.body.bankAnswer, order.id)).approval).toEqual(largeApproval);
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 940_000n });
  });

  it('a small amount signed at large is paid with the code, and approved', async () => {
    const order = debit({ amount: '1250' });
    const placed = await place(order, await authorise(order, { code: currentCode() }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect((await verifiedBankAnswer(placed.body.bankAnswer, order.id)).approval).toEqual(largeApproval);
  });

  it('a medium payment needs no code and carries no approval', async () => {
    const order = debit({ amount: '10000' });
    const placed = await place(order, await authorise(order, { type: 'medium' }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect(await verifiedBankAnswer(placed.body.bankAnswer, order.id)).not.toHaveProperty('approval');
  });
});

describe('a large payment without a good code moves nothing', () => {
  it('without a code: SECOND_FACTOR_REQUIRED, not counted as a wrong code', async () => {
    const order = debit();
    const reason = await expectRefused(order, await authorise(order), 'SECOND_FACTOR_REQUIRED');
    expect(reason).toBe('no second factor');
    expect(await secondFactorRow()).toMatchObject({ failed_attempts: 0 });
  });

  it('a wrong code: SECOND_FACTOR_INVALID, counted', async () => {
    const order = debit();
    const reason = await expectRefused(
      order,
      await authorise(order, { code: wrongCode() }),
      'SECOND_FACTOR_INVALID',
    );
    expect(reason).toContain('wrong code');
    expect(await secondFactorRow()).toMatchObject({ state: 'active', failed_attempts: 1 });
  });

  it('a real code gone stale (a resend minutes later): SECOND_FACTOR_INVALID, not counted', async () => {
    const before = await secondFactorRow();
    const order = debit();
    const stale = authenticatorCode(authenticator, new Date(banks.x.now().getTime() - 150_000));
    const reason = await expectRefused(
      order,
      await authorise(order, { code: stale }),
      'SECOND_FACTOR_INVALID',
    );
    expect(reason).toContain('too old (not counted)');
    expect(await secondFactorRow()).toMatchObject({ failed_attempts: before?.failed_attempts });
  });

  it('a code already used for another payment (replay): SECOND_FACTOR_INVALID', async () => {
    const code = currentCode();
    const first = debit();
    expect((await place(first, await authorise(first, { code }))).body).toMatchObject({ state: 'completed' });
    const second = debit();
    const reason = await expectRefused(second, await authorise(second, { code }), 'SECOND_FACTOR_INVALID');
    expect(reason).toContain('replayed');
  });

  it('a code sealed for another transaction or another payer: SECOND_FACTOR_INVALID', async () => {
    const order = debit();
    const otherTransaction = await authorise(order, {
      code: currentCode(),
      sealedFor: { transactionId: randomUUID() },
    });
    expect(await expectRefused(order, otherTransaction, 'SECOND_FACTOR_INVALID')).toContain(
      'another transaction',
    );
    const otherPayer = await authorise(order, {
      code: currentCode(),
      sealedFor: { payerId: uniquePartyId('person', 'xbank', 'eve') },
    });
    expect(await expectRefused(order, otherPayer, 'SECOND_FACTOR_INVALID')).toContain('another payer');
    // The code was not spent by the refusals: the right seal still pays.
    const placed = await place(order, await authorise(order, { code: currentCode() }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
  });

  it('a sealed code that is not one (garbage in the signed field): SECOND_FACTOR_INVALID', async () => {
    const order = debit();
    const authorisation = await signTestAuthorisation(key, order, {
      type: 'large',
      secondFactor: 'a.b.c.d.e',
    });
    expect(await expectRefused(order, authorisation, 'SECOND_FACTOR_INVALID')).toContain('does not open');
  });

  it('a level signed below what the amount asks for: SECURITY_LEVEL_TOO_LOW, even with a good code', async () => {
    for (const type of ['medium', 'small'] as const) {
      const order = debit();
      const reason = await expectRefused(
        order,
        await authorise(order, { type, code: currentCode() }),
        'SECURITY_LEVEL_TOO_LOW',
      );
      expect(reason).toBe(`signed ${type}, the amount asks for large`);
    }
    const medium = debit({ amount: '10000' });
    await expectRefused(medium, await authorise(medium, { type: 'small' }), 'SECURITY_LEVEL_TOO_LOW');
    expect(await secondFactorRow()).toMatchObject({ failed_attempts: 0, last_used_step: null });
  });

  it('blocks the second factor at the fifth wrong code in a row; a good code in between starts the count again', async () => {
    for (let attempt = 1; attempt <= 4; attempt++) {
      const order = debit();
      await expectRefused(order, await authorise(order, { code: wrongCode() }), 'SECOND_FACTOR_INVALID');
    }
    expect(await secondFactorRow()).toMatchObject({ state: 'active', failed_attempts: 4 });
    const good = debit();
    expect((await place(good, await authorise(good, { code: currentCode() }))).status).toBe(201);
    expect(await secondFactorRow()).toMatchObject({ state: 'active', failed_attempts: 0 });
    const reasons: string[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const order = debit();
      reasons.push(
        await expectRefused(order, await authorise(order, { code: wrongCode() }), 'SECOND_FACTOR_INVALID'),
      );
    }
    expect(reasons.at(-1)).toContain('second factor blocked');
    expect(await secondFactorRow()).toMatchObject({ state: 'blocked', failed_attempts: 5 });
    // Blocked: even the right code of a fresh step is refused, and no longer counted.
    banks.x.offsetMs = 60_000;
    const late = debit();
    const reason = await expectRefused(
      late,
      await authorise(late, { code: currentCode() }),
      'SECOND_FACTOR_INVALID',
    );
    expect(reason).toBe('second factor blocked');
    expect(await secondFactorRow()).toMatchObject({ state: 'blocked', failed_attempts: 5 });
  });
});

describe('the operator resets a blocked second factor', () => {
  it('deletes it; the next enrolment provisions a new one, whose codes pay', async () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const order = debit();
      await expectRefused(order, await authorise(order, { code: wrongCode() }), 'SECOND_FACTOR_INVALID');
    }
    expect(await secondFactorRow()).toMatchObject({ state: 'blocked' });
    const reset = await banks.x.call('POST', '/second-factor-resets', {
      partyId: payer,
      reason: 'called in',
    });
    expect(reset).toEqual({ status: 200, body: { partyId: payer, reset: true } });
    expect(await secondFactorRow()).toBeUndefined();
    // Nothing provisioned yet: a large payment cannot be made, whatever the code.
    const meanwhile = debit();
    await expectRefused(
      meanwhile,
      await authorise(meanwhile, { code: currentCode() }),
      'SECOND_FACTOR_INVALID',
    );
    const again = await banks.x.call('POST', '/second-factor-resets', { partyId: payer, reason: 'twice' });
    expect(again).toEqual({ status: 200, body: { partyId: payer, reset: false } });
    const previous = authenticator;
    key = await enrolTestCustomer(banks.x, payer, [customer]);
    expect(key.authenticator).toEqual(expect.any(String));
    expect(key.authenticator).not.toBe(previous);
    authenticator = key.authenticator!;
    const order = debit();
    expect((await place(order, await authorise(order, { code: currentCode() }))).body).toMatchObject({
      state: 'completed',
    });
  });
});

describe('concurrent large payments', () => {
  it('two orders racing with one code: one is paid, the other refused', async () => {
    const code = currentCode();
    const orders = [debit(), debit()];
    const answers = await Promise.all(
      orders.map(async (order) => place(order, await authorise(order, { code }))),
    );
    const states = answers.map((answer) => answer.body.state ?? (answer.body.error as { code: string }).code);
    expect(states.sort()).toEqual(['SECOND_FACTOR_INVALID', 'completed']);
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 940_000n });
    const { rows } = await banks.x.database.query(
      'SELECT order_id FROM second_factor_uses WHERE party_id = $1',
      [payer],
    );
    expect(rows).toHaveLength(1);
  });

  it('20 parallel copies of one large order debit once and all answer it paid', async () => {
    const order = debit();
    const authorisation = await authorise(order, { code: currentCode() });
    const answers = await Promise.all(Array.from({ length: 20 }, () => place(order, authorisation)));
    expect(new Set(answers.map((answer) => answer.body.state))).toEqual(new Set(['completed']));
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 940_000n });
    expect(await secondFactorRow()).toMatchObject({ failed_attempts: 0 });
  });

  it('parallel wrong codes are counted exactly: blocked at the limit, none counted beyond it', async () => {
    const orders = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const order = debit();
        return { order, authorisation: await authorise(order, { code: wrongCode() }) };
      }),
    );
    const answers = await Promise.all(orders.map(({ order, authorisation }) => place(order, authorisation)));
    for (const answer of answers) expect(answer.body.error).toMatchObject({ code: 'SECOND_FACTOR_INVALID' });
    expect(await secondFactorRow()).toMatchObject({ state: 'blocked', failed_attempts: 5 });
    expect(await banks.x.balance(customer)).toMatchObject({ balance: 1_000_000n });
  });
});

describe('the private fields of a large payment, sealed by the merchant for the customer and the banks', () => {
  /** The merchant's part: the description and the cart sealed to the device, this bank and the payee's bank. */
  async function seal(order: DebitToAuthorise, payerBank: PublicJwk = key.bankEncryptionJwk!) {
    const other = await generateEncryptionKeyPair();
    return sealPrivateData(
      {
        transactionId: order.id,
        description: 'Espresso machine, order 42',
        orderLines: [
          { name: 'Espresso machine', quantity: 1, unitAmount: { currency: 'EUR', minor: 600_00n } },
        ],
      },
      { customer: key.encryption.publicJwk, payerBank, payeeBank: other.publicJwk },
    );
  }

  it('are opened by the bank, which says so in its approval, and the payment is paid', async () => {
    const order = debit();
    const sealed = await seal(order);
    const placed = await place(order, await authorise(order, { code: currentCode(), sealed }));
    expect(placed).toMatchObject({ status: 201, body: { state: 'completed' } });
    expect((await verifiedBankAnswer(placed.body.bankAnswer, order.id)).approval).toEqual({
      ...largeApproval,
      checks: ['customer_signature', 'private_data', 'second_factor'],
    });
  });

  it('sealed to a key that is not this bank’s: PRIVATE_DATA_INVALID, nothing moves, the code is not spent', async () => {
    const order = debit();
    const sealed = await seal(order, (await generateEncryptionKeyPair()).publicJwk);
    const code = currentCode();
    const reason = await expectRefused(
      order,
      await authorise(order, { code, sealed }),
      'PRIVATE_DATA_INVALID',
    );
    expect(reason).toBe('sealed data: CRYPTO_DECRYPTION_FAILED');
    // Sealed for another payment: the bank opens it and refuses it.
    const other = debit();
    const elsewhere = await seal(other);
    expect(
      await expectRefused(order, await authorise(order, { code, sealed: elsewhere }), 'PRIVATE_DATA_INVALID'),
    ).toBe('sealed data: MESSAGE_INVALID');
    expect(await secondFactorRow()).toMatchObject({ failed_attempts: 0 });
  });

  it('signed in clear at a level that seals them (an FSP that leaves the protection out): PRIVATE_DATA_NOT_SEALED', async () => {
    const order = debit();
    const withoutSealing = defaultSecurityPolicy.levels.large.filter((p) => p !== 'private_data_sealed');
    const reason = await expectRefused(
      order,
      await authorise(order, { code: currentCode(), protections: withoutSealing }),
      'PRIVATE_DATA_NOT_SEALED',
    );
    expect(reason).toBe('private fields signed in clear');
  });

  it('at a sealing level the debit is the binding’s first account: an FSP ordering another one it names is refused', async () => {
    // A second account in the same binding (the bank sorts a binding's accounts; the first is the debit).
    const savings = await banks.x.openAccount('customer', payer);
    await fund(savings, 1_000_000n);
    const both = await enrolTestCustomer(banks.x, payer, [customer, savings]);
    const [first, second] = [customer, savings].sort();
    const order = debit({ debitAccountId: second! });
    const authorisation = await signTestAuthorisation(both, order, { type: 'large' });
    const before = [await banks.x.balance(first!), await banks.x.balance(second!)];
    const placed = await place(order, authorisation);
    expect(placed.status).toBe(403);
    expect(placed.body).toMatchObject({ error: { code: 'CUSTOMER_AUTHORISATION_INVALID' } });
    expect([await banks.x.balance(first!), await banks.x.balance(second!)]).toEqual(before);
  });
});
