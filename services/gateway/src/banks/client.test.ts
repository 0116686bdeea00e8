import { randomUUID } from 'node:crypto';
import {
  type GeneratedKeyPair,
  generateSigningKeyPair,
  importPrivateKey,
  type SigningKey,
  signPayload,
} from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FspIdentity } from '../context.ts';
import type { BankRecord } from '../registry/banks.ts';
import {
  closedPortUrl,
  type HttpStub,
  type RecordedRequest,
  type StubAnswer,
  startHttpStub,
  testFspIdentity,
} from '../test-helpers.ts';
import { type PaymentOrder, placePaymentOrder } from './client.ts';

const timeoutMs = 5_000;

/** The bank's signed word on an order, as services/bank signs it (bankAnswerOf in routes/interbank.ts). */
interface SignedOrder {
  id: string;
  state: string;
  payerId: string;
  payeeId: string;
  amount: string;
  currency: string;
  refusalCode?: string;
  approval?: Record<string, unknown>;
}

describe('placePaymentOrder', () => {
  let fsp: FspIdentity;
  let bankKey: GeneratedKeyPair;
  let stub: HttpStub;
  let bank: BankRecord;

  beforeAll(async () => {
    fsp = await testFspIdentity();
    bankKey = await generateSigningKeyPair();
    stub = await startHttpStub(() => ({ status: 500 }));
    bank = { id: 'xbank', url: stub.url, signingJwk: bankKey.publicJwk };
  });
  afterAll(async () => {
    await stub.close();
  });
  afterEach(() => {
    stub.requests.length = 0;
  });

  function newOrder(): PaymentOrder {
    return {
      id: randomUUID(),
      payerId: 'ann@person.xbank',
      debitAccountId: randomUUID(),
      payeeId: 'shop@merchant.ybank',
      creditBankId: 'ybank',
      amountMinor: 12_50n,
      currency: 'EUR',
      reference: 'iMS order',
      authorisation: 'eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl',
    };
  }

  function signedOrderOf(
    order: PaymentOrder,
    state: 'completed' | 'refused',
    refusalCode?: string,
  ): SignedOrder {
    return {
      id: order.id,
      state,
      payerId: order.payerId,
      payeeId: order.payeeId,
      amount: order.amountMinor.toString(),
      currency: order.currency,
      ...(refusalCode === undefined ? {} : { refusalCode }),
    };
  }

  async function bankAnswer(
    paymentOrder: SignedOrder,
    options: {
      key?: GeneratedKeyPair | SigningKey;
      issuer?: string;
      audience?: string;
      transactionId?: string;
      issuedAtMs?: number;
    } = {},
  ): Promise<string> {
    return signPayload(
      { paymentOrder: { ...paymentOrder } },
      {
        issuer: options.issuer ?? bank.id,
        audience: options.audience ?? fsp.id,
        transactionId: options.transactionId ?? paymentOrder.id,
        expiresInSeconds: 86_400,
        ...(options.issuedAtMs === undefined ? {} : { now: () => options.issuedAtMs as number }),
      },
      options.key === undefined
        ? bankKey.privateJwk
        : 'privateJwk' in options.key
          ? options.key.privateJwk
          : options.key,
    );
  }

  /** Another key presented under the bank key's kid (a forged header). */
  async function asBankKid(key: GeneratedKeyPair): Promise<SigningKey> {
    const imported = await importPrivateKey(key.privateJwk);
    if (imported.use !== 'sig') throw new Error('assertion failed: a signing key');
    return { cryptoKey: imported.cryptoKey, alg: imported.alg, kid: bankKey.kid };
  }

  /** The bank's wire answer to POST /payment-orders (orderJson), with a signed answer. */
  function orderJson(order: PaymentOrder, state: string, extra: Record<string, unknown> = {}) {
    return {
      id: order.id,
      state,
      payerId: order.payerId,
      debitAccountId: order.debitAccountId,
      payeeId: order.payeeId,
      creditBankId: order.creditBankId,
      amount: order.amountMinor.toString(),
      currency: order.currency,
      attempts: 1,
      ...extra,
    };
  }

  function answerWith(answer: StubAnswer | ((request: RecordedRequest) => StubAnswer)) {
    stub.answer = typeof answer === 'function' ? answer : () => answer;
  }

  it('sends the order with the signed Authorization token and the payment id as Idempotency-Key', async () => {
    const order = newOrder();
    const signed = await bankAnswer(signedOrderOf(order, 'completed'));
    answerWith({ status: 201, json: orderJson(order, 'completed', { bankAnswer: signed }) });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'transferred',
      bankAnswer: signed,
    });
    expect(stub.requests).toHaveLength(1);
    const [request] = stub.requests as [RecordedRequest];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/payment-orders');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe(order.id);
    expect(JSON.parse(request.body)).toEqual({
      id: order.id,
      payerId: 'ann@person.xbank',
      debitAccountId: order.debitAccountId,
      payeeId: 'shop@merchant.ybank',
      creditBankId: 'ybank',
      amount: '1250',
      currency: 'EUR',
      reference: 'iMS order',
      authorisation: order.authorisation,
    });
    // The token verifies under the FSP's key, for this bank, bound to this method, path and body.
    const verifier = {
      audience: bank.id,
      resolveKey: async (kid: string) => (kid === fsp.signing.kid ? fsp.signing.publicJwk : undefined),
    };
    const authorization = request.headers.authorization;
    const verified = await verifySignedRequest(
      { method: 'POST', path: '/payment-orders', body: request.body, authorization },
      verifier,
    );
    expect(verified.issuer).toBe(fsp.id);
    for (const altered of [
      { method: 'POST', path: '/payment-orders', body: request.body.replace('1250', '9250') },
      { method: 'POST', path: '/payment-orders/x', body: request.body },
    ]) {
      const refused = await verifySignedRequest({ ...altered, authorization }, verifier).catch(
        (error: { code?: string }) => error.code,
      );
      expect(refused).toBe('AUTHENTICATION_FAILED');
    }
    const otherBank = await verifySignedRequest(
      { method: 'POST', path: '/payment-orders', body: request.body, authorization },
      { ...verifier, audience: 'ybank' },
    ).catch((error: { code?: string }) => error.code);
    expect(otherBank).toBe('AUTHENTICATION_FAILED');
  });

  it("takes a signed refusal as the bank's final word, with its code", async () => {
    const order = newOrder();
    const signed = await bankAnswer(signedOrderOf(order, 'refused', 'INSUFFICIENT_FUNDS'));
    answerWith({
      status: 201,
      json: orderJson(order, 'refused', { refusalCode: 'INSUFFICIENT_FUNDS', bankAnswer: signed }),
    });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'refused',
      code: 'INSUFFICIENT_FUNDS',
      bankAnswer: signed,
    });
  });

  it("takes a completed large payment only with the bank's explicit approval in its signed answer", async () => {
    const order = { ...newOrder(), approvalRequired: true };
    const approval = {
      level: 'large',
      checks: ['customer_signature', 'second_factor'],
      approvedAt: new Date().toISOString(),
    };
    for (const [name, given] of [
      ['none', undefined],
      ['of another level', { ...approval, level: 'medium' }],
      ['without the second factor', { ...approval, checks: ['customer_signature'] }],
    ] as const) {
      const signed = await bankAnswer({
        ...signedOrderOf(order, 'completed'),
        ...(given === undefined ? {} : { approval: given }),
      });
      answerWith({ status: 201, json: orderJson(order, 'completed', { bankAnswer: signed }) });
      expect(await placePaymentOrder(fsp, bank, order, timeoutMs), name).toEqual({
        kind: 'pending',
        code: 'BANK_APPROVAL_MISSING',
      });
    }
    const approved = await bankAnswer({ ...signedOrderOf(order, 'completed'), approval });
    answerWith({ status: 201, json: orderJson(order, 'completed', { bankAnswer: approved }) });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'transferred',
      bankAnswer: approved,
    });
  });

  it('takes a sealed large payment only with an approval that says the bank opened the sealed fields', async () => {
    const order = { ...newOrder(), approvalRequired: true, privateDataSealed: true };
    const approval = {
      level: 'large',
      checks: ['customer_signature', 'second_factor'],
      approvedAt: new Date().toISOString(),
    };
    const unopened = await bankAnswer({ ...signedOrderOf(order, 'completed'), approval });
    answerWith({ status: 201, json: orderJson(order, 'completed', { bankAnswer: unopened }) });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'pending',
      code: 'BANK_APPROVAL_MISSING',
    });
    const opened = { ...approval, checks: ['customer_signature', 'private_data', 'second_factor'] };
    const approved = await bankAnswer({ ...signedOrderOf(order, 'completed'), approval: opened });
    answerWith({ status: 201, json: orderJson(order, 'completed', { bankAnswer: approved }) });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'transferred',
      bankAnswer: approved,
    });
  });

  it('asks again later while the bank is still sending to the payee bank', async () => {
    const order = newOrder();
    answerWith({ status: 202, json: orderJson(order, 'sending') });
    expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
      kind: 'pending',
      code: 'INTERBANK_PENDING',
    });
  });

  describe('never takes an outcome on an answer that does not verify', () => {
    const cases: [string, (order: PaymentOrder) => Promise<Record<string, unknown>>][] = [
      [
        'signed by another key',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), {
            key: await generateSigningKeyPair(),
          }),
        }),
      ],
      [
        "signed by another key under the bank key's kid",
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), {
            key: await asBankKid(await generateSigningKeyPair()),
          }),
        }),
      ],
      [
        'about another order id',
        async (order) => ({
          bankAnswer: await bankAnswer({ ...signedOrderOf(order, 'completed'), id: randomUUID() }),
        }),
      ],
      [
        'for another transaction (txn claim)',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), { transactionId: randomUUID() }),
        }),
      ],
      [
        'for another amount',
        async (order) => ({
          bankAnswer: await bankAnswer({ ...signedOrderOf(order, 'completed'), amount: '125' }),
        }),
      ],
      [
        'in another currency',
        async (order) => ({
          bankAnswer: await bankAnswer({ ...signedOrderOf(order, 'completed'), currency: 'USD' }),
        }),
      ],
      [
        'to another payee',
        async (order) => ({
          bankAnswer: await bankAnswer({
            ...signedOrderOf(order, 'completed'),
            payeeId: 'thief@merchant.ybank',
          }),
        }),
      ],
      [
        'from another payer',
        async (order) => ({
          bankAnswer: await bankAnswer({ ...signedOrderOf(order, 'completed'), payerId: 'bob@person.xbank' }),
        }),
      ],
      [
        'saying another state (signed refused, answered completed)',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'refused', 'INSUFFICIENT_FUNDS')),
        }),
      ],
      [
        'by another issuer',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), { issuer: 'ybank' }),
        }),
      ],
      [
        'to another FSP',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), { audience: 'fsp.other' }),
        }),
      ],
      [
        'expired',
        async (order) => ({
          bankAnswer: await bankAnswer(signedOrderOf(order, 'completed'), {
            issuedAtMs: Date.now() - 2 * 86_400_000,
          }),
        }),
      ],
      ['missing', async () => ({})],
      ['not a JWS', async () => ({ bankAnswer: 'completed, trust me' })],
    ];
    for (const [name, build] of cases) {
      it(`a completed answer with a bankAnswer ${name} → pending BANK_ANSWER_INVALID`, async () => {
        const order = newOrder();
        answerWith({ status: 201, json: orderJson(order, 'completed', await build(order)) });
        expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
          kind: 'pending',
          code: 'BANK_ANSWER_INVALID',
        });
      });
    }

    it('a refusal whose signed code differs from the answered one → pending BANK_ANSWER_INVALID', async () => {
      const order = newOrder();
      const signed = await bankAnswer(signedOrderOf(order, 'refused', 'LIMIT_EXCEEDED'));
      answerWith({
        status: 201,
        json: orderJson(order, 'refused', { refusalCode: 'INSUFFICIENT_FUNDS', bankAnswer: signed }),
      });
      expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
        kind: 'pending',
        code: 'BANK_ANSWER_INVALID',
      });
    });

    it('a refusal signed as completed → pending BANK_ANSWER_INVALID', async () => {
      const order = newOrder();
      const signed = await bankAnswer(signedOrderOf(order, 'completed'));
      answerWith({
        status: 201,
        json: orderJson(order, 'refused', { refusalCode: 'INSUFFICIENT_FUNDS', bankAnswer: signed }),
      });
      expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
        kind: 'pending',
        code: 'BANK_ANSWER_INVALID',
      });
    });

    it('an answer about another order (plain id) → pending BANK_ANSWER_INVALID', async () => {
      const order = newOrder();
      const other = { ...order, id: randomUUID() };
      const signed = await bankAnswer(signedOrderOf(other, 'completed'));
      answerWith({ status: 201, json: orderJson(other, 'completed', { bankAnswer: signed }) });
      expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
        kind: 'pending',
        code: 'BANK_ANSWER_INVALID',
      });
    });
  });

  describe('error answers, by the category of their code', () => {
    const cases: [string, StubAnswer, unknown][] = [
      [
        '422 INSUFFICIENT_FUNDS',
        { status: 422, json: { error: { code: 'INSUFFICIENT_FUNDS' } } },
        { kind: 'refused', code: 'INSUFFICIENT_FUNDS' },
      ],
      [
        '403 CUSTOMER_AUTHORISATION_INVALID',
        { status: 403, json: { error: { code: 'CUSTOMER_AUTHORISATION_INVALID', detail: 'key not bound' } } },
        { kind: 'refused', code: 'CUSTOMER_AUTHORISATION_INVALID' },
      ],
      [
        '503 SERVICE_UNAVAILABLE',
        { status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE' } } },
        { kind: 'pending', code: 'SERVICE_UNAVAILABLE' },
      ],
      ['502 without a body', { status: 502 }, { kind: 'pending', code: 'SERVICE_UNAVAILABLE' }],
      [
        '401 AUTHENTICATION_FAILED',
        { status: 401, json: { error: { code: 'AUTHENTICATION_FAILED' } } },
        { kind: 'failed', code: 'AUTHENTICATION_FAILED' },
      ],
      [
        '200 that is not JSON',
        { status: 200, text: '<html>ok</html>' },
        { kind: 'pending', code: 'BANK_UNAVAILABLE' },
      ],
      [
        '200 larger than the response limit',
        { status: 200, json: { padding: 'x'.repeat(70 * 1024) } },
        { kind: 'pending', code: 'BANK_UNAVAILABLE' },
      ],
    ];
    for (const [name, answer, outcome] of cases) {
      it(`${name} → ${JSON.stringify(outcome)}`, async () => {
        answerWith(answer);
        expect(await placePaymentOrder(fsp, bank, newOrder(), timeoutMs)).toEqual(outcome);
      });
    }

    it("a refusal answered as an error, with the bank's signed refusal → refused, keeping the signed answer", async () => {
      const order = newOrder();
      const signed = await bankAnswer(signedOrderOf(order, 'refused', 'INSUFFICIENT_FUNDS'));
      answerWith({ status: 422, json: { error: { code: 'INSUFFICIENT_FUNDS' }, bankAnswer: signed } });
      expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
        kind: 'refused',
        code: 'INSUFFICIENT_FUNDS',
        bankAnswer: signed,
      });
    });

    for (const [name, build] of [
      [
        'signed by another key',
        async (order: PaymentOrder) =>
          bankAnswer(signedOrderOf(order, 'refused', 'INSUFFICIENT_FUNDS'), {
            key: await generateSigningKeyPair(),
          }),
      ],
      [
        'with another code',
        async (order: PaymentOrder) => bankAnswer(signedOrderOf(order, 'refused', 'LIMIT_EXCEEDED')),
      ],
      ['signed as completed', async (order: PaymentOrder) => bankAnswer(signedOrderOf(order, 'completed'))],
      [
        'for another amount',
        async (order: PaymentOrder) =>
          bankAnswer({ ...signedOrderOf(order, 'refused', 'INSUFFICIENT_FUNDS'), amount: '1' }),
      ],
      ['that is not a JWS', async () => 'refused, trust me'],
    ] as const) {
      it(`an error refusal with a signed answer ${name} → pending BANK_ANSWER_INVALID`, async () => {
        const order = newOrder();
        answerWith({
          status: 422,
          json: { error: { code: 'INSUFFICIENT_FUNDS' }, bankAnswer: await build(order) },
        });
        expect(await placePaymentOrder(fsp, bank, order, timeoutMs)).toEqual({
          kind: 'pending',
          code: 'BANK_ANSWER_INVALID',
        });
      });
    }

    it('a refused connection → pending BANK_UNAVAILABLE', async () => {
      const down = { ...bank, url: await closedPortUrl() };
      expect(await placePaymentOrder(fsp, down, newOrder(), timeoutMs)).toEqual({
        kind: 'pending',
        code: 'BANK_UNAVAILABLE',
      });
    });

    it('a bank that does not answer within the timeout → pending BANK_UNAVAILABLE', async () => {
      answerWith('hang');
      expect(await placePaymentOrder(fsp, bank, newOrder(), 300)).toEqual({
        kind: 'pending',
        code: 'BANK_UNAVAILABLE',
      });
      stub.release({ status: 503 });
    });
  });
});
