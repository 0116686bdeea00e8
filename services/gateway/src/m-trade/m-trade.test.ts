import { randomUUID } from 'node:crypto';
import {
  encodeBase64url,
  encryptTo,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  importPrivateKey,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import {
  completeTillCode,
  createAmount,
  emvCrcOf,
  type ImsMessage,
  imsToJson,
  merchantSignedContent,
  prepareTillCode,
  type TillCodeFields,
  validateImsMessage,
} from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import type { FspIdentity } from '../context.ts';
import { revokeCertificate } from '../registry/certificates.ts';
import { registerMerchant } from '../registry/register.ts';
import { createGatewayService, type GatewayService } from '../service.ts';
import {
  addBank,
  enrolCustomer,
  type HttpStub,
  openGatewayDatabase,
  outboxOf,
  startHttpStub,
  type TestBank,
  type TestCustomer,
  testFspIdentity,
  wholeSecond,
} from '../test-helpers.ts';
import { findClaim } from './store.ts';

/**
 * m-trade at the till over real HTTP on a real database: the till's signed
 * QR code claimed by a customer's device, the merchant's webhook, and the
 * till's payment request checked against the claim.
 */

interface TestTillMerchant {
  readonly id: string;
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
}

let database: Database;
let fsp: FspIdentity;
let service: GatewayService;
let url: string;
let hook: HttpStub;
let now = wholeSecond();
let shop: TestTillMerchant;
let bakery: TestTillMerchant;
let john: TestCustomer;
let mila: TestCustomer;
let ana: TestCustomer;
let eve: TestCustomer;
let xbank: TestBank;

async function registerTillMerchant(name: string, webhookUrl: string | undefined): Promise<TestTillMerchant> {
  const signing = await generateSigningKeyPair();
  const encryption = await generateEncryptionKeyPair();
  const id = `${name}@merchant.ybank`;
  await database.transaction((sql) =>
    registerMerchant(service.context, sql, {
      id,
      displayName: name,
      ...(webhookUrl === undefined ? {} : { webhookUrl }),
      signingJwk: signing.publicJwk,
      encryptionJwk: encryption.publicJwk,
    }),
  );
  return { id, signing, encryption };
}

beforeAll(async () => {
  database = await openGatewayDatabase();
  fsp = await testFspIdentity();
  hook = await startHttpStub(() => ({ status: 200, json: { received: true } }));
  service = await createGatewayService({
    database,
    fsp,
    clock: () => now,
    // The background round runs only when the test asks (runBackgroundOnce) or a commit kicks the outbox.
    backgroundIntervalMs: 3_600_000,
  });
  url = await service.listen();
  xbank = await addBank(database, 'xbank');
  await addBank(database, 'ybank');
  john = await enrolCustomer(database, xbank, 'john');
  mila = await enrolCustomer(database, xbank, 'mila');
  ana = await enrolCustomer(database, xbank, 'ana');
  eve = await enrolCustomer(database, xbank, 'eve');
  shop = await registerTillMerchant('shop', `${hook.url}/hooks/shop`);
  bakery = await registerTillMerchant('bakery', undefined);
});

afterAll(async () => {
  await service?.close();
  await hook?.close();
  await database?.close();
});

/** The till: a code signed with `key` (default: the merchant's certified key), as the merchant SDK makes it. */
async function tillCode(
  merchant: TestTillMerchant,
  change: Partial<TillCodeFields> = {},
  key: GeneratedKeyPair = merchant.signing,
): Promise<{ payload: string; transactionId: string }> {
  const fields: TillCodeFields = {
    merchantId: merchant.id,
    amount: createAmount('EUR', 12_50n),
    transactionId: randomUUID(),
    expiresAt: new Date(now.getTime() + 300_000),
    keyId: key.publicJwk.kid!,
    merchantName: 'Corner Shop',
    merchantCity: 'Skopje',
    countryCode: 'MK',
    merchantCategoryCode: '5411',
    ...change,
  };
  const unsigned = prepareTillCode(fields);
  const imported = await importPrivateKey(key.privateJwk);
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      imported.cryptoKey,
      unsigned.signingInput as Uint8Array<ArrayBuffer>,
    ),
  );
  return {
    payload: completeTillCode(unsigned, encodeBase64url(signature)),
    transactionId: fields.transactionId,
  };
}

/** `payload` with its amount text replaced after signing, and the CRC made right again (what a forger can do). */
function withAmount(payload: string, amountText: string): string {
  const body = payload
    .slice(0, -8)
    .replace('540512.50', `54${String(amountText.length).padStart(2, '0')}${amountText}`);
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

/** POST /m-trade/claims as `signer`'s device (its bound key) and the stable code of a refusal. */
async function claim(
  payload: string,
  signer: { id: string; signing: GeneratedKeyPair } = john,
  body: string = JSON.stringify({ payload }),
) {
  const path = '/m-trade/claims';
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: signer.id, audience: fsp.id, key: signer.signing.privateJwk },
  );
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization },
  });
  const json = (await response.json()) as Record<string, unknown> & { error?: { code: string } };
  return { status: response.status, code: json.error?.code, body: json };
}

async function claimRow(transactionId: string) {
  return findClaim(database, transactionId);
}

/** The till's iMS payment request (step 1), signed by the merchant, encrypted to the FSP, over HTTP. */
async function requestPayment(
  merchant: TestTillMerchant,
  customer: { id: string },
  transactionId: string,
  options: { amountMinor?: bigint; procedure?: 'm-trade' | 'm-commerce' } = {},
) {
  const unsigned = validateImsMessage({
    type: 'small',
    transactionId,
    procedure: options.procedure ?? 'm-trade',
    address: {
      from: { id: customer.id as ImsMessage['address']['from']['id'] },
      to: { id: merchant.id as ImsMessage['address']['to']['id'] },
      timestamp: now.toISOString(),
    },
    data: { amount: createAmount('EUR', options.amountMinor ?? 12_50n) },
  });
  const sign = await signPayload(
    merchantSignedContent(unsigned),
    { issuer: merchant.id, audience: fsp.id, transactionId, expiresInSeconds: 300 },
    merchant.signing.privateJwk,
  );
  const message = { ...unsigned, address: { ...unsigned.address, to: { ...unsigned.address.to, sign } } };
  const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(message) }), fsp.encryption.publicJwk);
  const response = await fetch(`${url}/payments`, {
    method: 'POST',
    body: jwe,
    headers: { 'content-type': 'application/jose' },
  });
  const json = (await response.json()) as Record<string, unknown> & { error?: { code: string } };
  return { status: response.status, code: json.error?.code, body: json };
}

async function tillClaimAs(merchant: TestTillMerchant, transactionId: string) {
  const path = `/m-trade/claims/${transactionId}`;
  const authorization = await signRequest(
    { method: 'GET', path, body: '' },
    { issuer: merchant.id, audience: fsp.id, key: merchant.signing.privateJwk },
  );
  const response = await fetch(`${url}${path}`, { headers: { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('POST /m-trade/claims', () => {
  it('records the first claim and notifies the merchant with a webhook the FSP signed', async () => {
    const code = await tillCode(shop);
    expect((await tillClaimAs(shop, code.transactionId)).status).toBe(404);
    const answer = await claim(code.payload);
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      transactionId: code.transactionId,
      status: 'claimed',
      claimedAt: now.toISOString(),
    });

    const delivered = await waitFor(
      () => hook.requests.find((request) => request.body.includes('.') && request.url === '/hooks/shop'),
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the trade.claimed webhook' },
    );
    expect(delivered.headers['content-type']).toBe('application/jose');
    const verified = await verifyPayload(
      delivered.body,
      async () => fsp.signing.publicJwk,
      { issuer: fsp.id, audience: shop.id, transactionId: code.transactionId },
      { maxAgeSeconds: 86_400 },
    );
    expect(verified.payload.event).toBe('trade.claimed');
    expect(verified.payload.claim).toEqual({
      transactionId: code.transactionId,
      customer: john.id,
      amount: { currency: 'EUR', minor: '1250' },
      claimedAt: now.toISOString(),
    });
    const [row] = await outboxOf(database, code.transactionId, 'webhook');
    expect(row?.deliveredAt).not.toBeNull();
    // The till that takes no webhooks asks instead, and gets the same signed statement.
    const polled = await tillClaimAs(shop, code.transactionId);
    expect(polled).toEqual({ status: 200, body: { notification: delivered.body } });
    // Another merchant learns nothing of it.
    expect((await tillClaimAs(bakery, code.transactionId)).status).toBe(404);
  });

  it('answers a retry by the same customer the same, without a second notification', async () => {
    const code = await tillCode(shop);
    const first = await claim(code.payload);
    now = new Date(now.getTime() + 5_000);
    const again = await claim(code.payload);
    expect(again).toEqual(first);
    expect(await outboxOf(database, code.transactionId, 'webhook')).toHaveLength(1);
  });

  it('refuses a second claimant (TRADE_CLAIMED, 409): the first claim wins', async () => {
    const code = await tillCode(shop);
    expect((await claim(code.payload, john)).status).toBe(201);
    const second = await claim(code.payload, mila);
    expect([second.status, second.code]).toEqual([409, 'TRADE_CLAIMED']);
    expect((await claimRow(code.transactionId))?.customerId).toBe(john.id);
    expect(await outboxOf(database, code.transactionId, 'webhook')).toHaveLength(1);
  });

  it('lets exactly one of two customers claiming at once win; a merchant without a webhook gets no row', async () => {
    const code = await tillCode(bakery);
    const first = await enrolCustomer(database, xbank, 'rush1');
    const second = await enrolCustomer(database, xbank, 'rush2');
    const answers = await Promise.all([claim(code.payload, first), claim(code.payload, second)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
    expect(answers.find((answer) => answer.status === 409)?.code).toBe('TRADE_CLAIMED');
    const winner = answers[0]!.status === 201 ? first : second;
    expect((await claimRow(code.transactionId))?.customerId).toBe(winner.id);
    expect(await outboxOf(database, code.transactionId)).toEqual([]);
    expect((await tillClaimAs(bakery, code.transactionId)).status).toBe(200);
  });

  it('refuses forged, altered and expired codes before recording anything', async () => {
    const stranger = await generateSigningKeyPair();
    const cases: [string, { payload: string; transactionId: string }, number, string][] = [];
    const genuine = await tillCode(shop);
    cases.push([
      'signed by a key the FSP never certified',
      await tillCode(shop, {}, stranger),
      403,
      'QR_SIGNATURE_INVALID',
    ]);
    cases.push([
      'signed by an uncertified key that claims the certified key id',
      await tillCode(shop, { keyId: shop.signing.publicJwk.kid! }, stranger),
      403,
      'QR_SIGNATURE_INVALID',
    ]);
    cases.push([
      'naming another merchant than the signer',
      await tillCode({ ...bakery, signing: shop.signing }, { keyId: shop.signing.publicJwk.kid! }),
      403,
      'QR_SIGNATURE_INVALID',
    ]);
    cases.push([
      'of a merchant the FSP does not know',
      await tillCode({ id: 'ghost@merchant.ybank', signing: stranger, encryption: shop.encryption }),
      403,
      'QR_SIGNATURE_INVALID',
    ]);
    cases.push([
      'whose amount was changed after signing (CRC recomputed)',
      { ...genuine, payload: withAmount(genuine.payload, '1.25') },
      403,
      'QR_SIGNATURE_INVALID',
    ]);
    cases.push([
      'with a bad CRC',
      { ...genuine, payload: `${genuine.payload.slice(0, -1)}${genuine.payload.endsWith('0') ? '1' : '0'}` },
      400,
      'QR_CRC_INVALID',
    ]);
    cases.push([
      'expired',
      await tillCode(shop, { expiresAt: new Date(now.getTime() - 61_000) }),
      422,
      'QR_EXPIRED',
    ]);
    cases.push([
      'valid for longer than the limit',
      await tillCode(shop, { expiresAt: new Date(now.getTime() + 3_600_000) }),
      400,
      'QR_INVALID',
    ]);
    cases.push([
      'that is not text of a QR code',
      { payload: 'hello', transactionId: randomUUID() },
      400,
      'QR_INVALID',
    ]);
    for (const [what, code, status, errorCode] of cases) {
      const answer = await claim(code.payload, eve);
      expect([answer.status, answer.code], what).toEqual([status, errorCode]);
      expect(await claimRow(code.transactionId), what).toBeUndefined();
      expect(await outboxOf(database, code.transactionId), what).toEqual([]);
    }
    // The genuine code, untouched, still claims.
    expect((await claim(genuine.payload, eve)).status).toBe(201);
  });

  it('refuses a code that expires while the customer hesitates, on the service clock', async () => {
    const code = await tillCode(shop, { expiresAt: new Date(now.getTime() + 60_000) });
    const start = now;
    now = new Date(start.getTime() + 121_000);
    try {
      const answer = await claim(code.payload);
      expect([answer.status, answer.code]).toEqual([422, 'QR_EXPIRED']);
    } finally {
      now = start;
    }
  });

  it('refuses a code whose merchant certificate was revoked', async () => {
    const revoked = await registerTillMerchant('kiosk', undefined);
    const code = await tillCode(revoked);
    const { rows } = await database.query<{ serial_number: string }>(
      'SELECT serial_number FROM key_certificates WHERE party_id = $1',
      [revoked.id],
    );
    await revokeCertificate(database, rows[0]!.serial_number, 'key compromised');
    const answer = await claim(code.payload);
    expect([answer.status, answer.code]).toEqual([403, 'QR_SIGNATURE_INVALID']);
  });

  it('takes claims only from a customer’s device, authenticated, with nothing but the payload', async () => {
    const code = await tillCode(shop);
    const unsigned = await fetch(`${url}/m-trade/claims`, {
      method: 'POST',
      body: JSON.stringify({ payload: code.payload }),
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    const asMerchant = await claim(code.payload, shop);
    expect([asMerchant.status, asMerchant.code]).toEqual([403, 'FORBIDDEN']);
    const extra = await claim(
      code.payload,
      john,
      JSON.stringify({ payload: code.payload, customer: mila.id }),
    );
    expect([extra.status, extra.code]).toEqual([400, 'REQUEST_INVALID']);
    const tooLong = await claim('x'.repeat(1_025), john);
    expect([tooLong.status, tooLong.code]).toEqual([400, 'REQUEST_INVALID']);
    expect(await claimRow(code.transactionId)).toBeUndefined();
  });

  it('bounds the open claims of one customer (TRADE_CLAIM_LIMIT_EXCEEDED)', async () => {
    for (let index = 0; index < 3; index += 1) {
      expect((await claim((await tillCode(shop)).payload, ana)).status).toBe(201);
    }
    const fourth = await tillCode(shop);
    const answer = await claim(fourth.payload, ana);
    expect([answer.status, answer.code]).toEqual([429, 'TRADE_CLAIM_LIMIT_EXCEEDED']);
    expect(await claimRow(fourth.transactionId)).toBeUndefined();
  });
});

describe("the till's payment request for a claimed code", () => {
  it('goes through when it is exactly what was claimed, and marks the claim requested', async () => {
    const code = await tillCode(shop);
    expect((await claim(code.payload, mila)).status).toBe(201);
    const answer = await requestPayment(shop, mila, code.transactionId);
    expect([answer.status, answer.body.paymentId]).toEqual([201, code.transactionId]);
    expect((await claimRow(code.transactionId))?.requestedAt).toEqual(now);
    // The code's payment exists: nobody can claim it now.
    expect((await claim(code.payload, john)).code).toBe('TRADE_CLAIMED');
  });

  it.each<
    [string, (code: { transactionId: string }, claimant: TestCustomer) => ReturnType<typeof requestPayment>]
  >([
    ['to another customer', (code) => requestPayment(shop, john, code.transactionId)],
    [
      'for another amount',
      (code, claimant) => requestPayment(shop, claimant, code.transactionId, { amountMinor: 99_00n }),
    ],
    [
      'as m-commerce',
      (code, claimant) => requestPayment(shop, claimant, code.transactionId, { procedure: 'm-commerce' }),
    ],
    ['by another merchant', (code, claimant) => requestPayment(bakery, claimant, code.transactionId)],
  ])('is refused %s (TRADE_CLAIM_MISMATCH), and no payment exists', async (_, request) => {
    const claimant = await enrolCustomer(database, xbank, `claimant${randomUUID().slice(0, 8)}`);
    const code = await tillCode(shop);
    expect((await claim(code.payload, claimant)).status).toBe(201);
    const answer = await request(code, claimant);
    expect([answer.status, answer.code]).toEqual([409, 'TRADE_CLAIM_MISMATCH']);
    const { rows } = await database.query('SELECT 1 FROM payments WHERE id = $1', [code.transactionId]);
    expect(rows).toEqual([]);
    expect((await claimRow(code.transactionId))?.requestedAt).toBeNull();
  });

  it('is allowed without a claim: the till took the phone number instead', async () => {
    const answer = await requestPayment(shop, john, randomUUID());
    expect(answer.status).toBe(201);
  });
});
