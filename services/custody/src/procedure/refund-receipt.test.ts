import { randomUUID } from 'node:crypto';
import {
  encryptTo,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import { ensureSoftHsmToken } from '@mpay/hsm';
import { sharedTestHsmDirectory } from '@mpay/hsm/test-support';
import { signRequest } from '@mpay/http-client';
import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDeviceToken, tokenHash } from '../ids.ts';
import { type CustodyService, createCustodyService } from '../service.ts';

/**
 * POST /fsp/messages with a refund receipt, over real HTTP against a real
 * custody service (PGlite or PostgreSQL): the FSP's signed refund receipt of
 * a payment custody holds is forwarded once to the customer's inbox, anything
 * else is refused by its stable code and leaves the inbox as it was. The
 * whole chain (the gateway's redirect, the phone's verification) runs in
 * test/e2e/custody-refunds.test.ts.
 */

const fspId = 'fsp.test';
const custodyId = 'custody.test';

let database: Database;
let service: CustodyService;
let custodyUrl: string;
let fspKey: GeneratedKeyPair;

beforeAll(async () => {
  const hsm = await ensureSoftHsmToken({
    directory: sharedTestHsmDirectory(),
    tokenLabel: 'custody-refunds',
  });
  database = await openTestDatabase('custody');
  fspKey = await generateSigningKeyPair('ES256');
  service = await createCustodyService({
    database,
    custody: {
      id: custodyId,
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    },
    fsp: { id: fspId, url: 'http://127.0.0.1:9', keys: publicJwkSet([fspKey.publicJwk]) },
    banks: [],
    hsm,
  });
  custodyUrl = await service.listen(0);
});
afterAll(async () => {
  await service?.close();
  await database?.close();
});

/** A custody customer with one phone and a payment custody holds for them (what step 2 leaves). */
async function customerWithPayment(name: string): Promise<{ partyId: string; paymentId: string }> {
  const partyId = `${name}.${randomUUID().slice(0, 8)}@person.xbank`;
  const paymentId = randomUUID();
  const now = new Date().toISOString();
  await database.query(
    `INSERT INTO customers (party_id, kind, bank_id, display_name, created_at) VALUES ($1, 'custody', 'xbank', $2, $3)`,
    [partyId, name, now],
  );
  await database.query(
    `INSERT INTO devices (party_id, device_id, token_hash, created_at) VALUES ($1, 'phone-1', $2, $3)`,
    [partyId, tokenHash(newDeviceToken()), now],
  );
  await database.query(
    `INSERT INTO messages (payment_id, party_id, state, ims, forward, forward_hash, created_at, updated_at)
     VALUES ($1, $2, 'receipted', '{}', 'forward', 'hash', $3, $3)`,
    [paymentId, partyId, now],
  );
  return { partyId, paymentId };
}

interface ReceiptFields {
  readonly partyId: string;
  readonly paymentId: string;
  readonly refundId: string;
}

/** The FSP's refund receipt as the gateway signs it (audience the customer, transaction the payment). */
async function refundReceipt(
  fields: ReceiptFields,
  options: { key?: GeneratedKeyPair; payload?: Record<string, unknown>; audience?: string } = {},
): Promise<string> {
  return signPayload(
    options.payload ?? {
      refundReceipt: {
        refundId: fields.refundId,
        paymentId: fields.paymentId,
        status: 'completed',
        payer: 'shop@merchant.ybank',
        payee: fields.partyId,
        amount: { currency: 'EUR', value: '8.00' },
        completedAt: new Date().toISOString(),
      },
    },
    {
      issuer: fspId,
      audience: options.audience ?? fields.partyId,
      transactionId: fields.paymentId,
      expiresInSeconds: 86_400,
    },
    (options.key ?? fspKey).privateJwk,
  );
}

/** The FSP's redirect (a request signed by the FSP, the receipt encrypted to custody): status and code. */
async function redirect(body: Record<string, unknown>, signer: GeneratedKeyPair = fspKey) {
  const text = JSON.stringify(body);
  const authorization = await signRequest(
    { method: 'POST', path: '/fsp/messages', body: text },
    { issuer: fspId, audience: custodyId, key: signer.privateJwk },
  );
  const response = await fetch(`${custodyUrl}/fsp/messages`, {
    method: 'POST',
    body: text,
    headers: { 'content-type': 'application/json', authorization },
  });
  const answer = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: answer.error?.code };
}

async function redirectReceipt(fields: ReceiptFields, jws: string, signer?: GeneratedKeyPair) {
  const data = await encryptTo(jws, service.context.custody.encryption.publicJwk);
  return redirect(
    { event: 'refund-receipt', paymentId: fields.paymentId, refundId: fields.refundId, data },
    signer,
  );
}

async function inboxOf(partyId: string) {
  const { rows } = await database.query<{ event: string; payment_id: string | null; forward: string }>(
    'SELECT event, payment_id, forward FROM inbox WHERE party_id = $1 ORDER BY id',
    [partyId],
  );
  return rows;
}

async function storedReceipts(paymentId: string) {
  const { rows } = await database.query<{ refund_id: string; receipt: string }>(
    'SELECT refund_id, receipt FROM refund_receipts WHERE payment_id = $1 ORDER BY refund_id',
    [paymentId],
  );
  return rows;
}

describe("the FSP's refund receipt for a custody customer", () => {
  it('is verified and forwarded once to the phones, signed by custody; a second copy changes nothing', async () => {
    const { partyId, paymentId } = await customerWithPayment('mila');
    const fields = { partyId, paymentId, refundId: randomUUID() };
    const jws = await refundReceipt(fields);
    expect(await redirectReceipt(fields, jws)).toEqual({ status: 200, code: undefined });
    const inbox = await inboxOf(partyId);
    expect(inbox.map((event) => [event.event, event.payment_id])).toEqual([['refund-receipt', paymentId]]);
    const forward = await verifyPayload(
      inbox[0]!.forward,
      async () => service.context.custody.signing.publicJwk,
      { issuer: custodyId, audience: partyId, transactionId: paymentId },
      { maxAgeSeconds: service.context.limits.forwardLifetimeSeconds },
    );
    expect(forward.payload.forward).toEqual({ event: 'refund-receipt', receipt: jws });
    // The FSP's outbox sends it again (encrypted afresh): acknowledged, nothing more for the phones.
    expect(await redirectReceipt(fields, jws)).toEqual({ status: 200, code: undefined });
    expect(await inboxOf(partyId)).toEqual(inbox);
    // Even another receipt the FSP signed for the same refund keeps the first one.
    expect(await redirectReceipt(fields, await refundReceipt(fields))).toEqual({
      status: 200,
      code: undefined,
    });
    expect(await inboxOf(partyId)).toEqual(inbox);
    expect(await storedReceipts(paymentId)).toEqual([{ refund_id: fields.refundId, receipt: jws }]);
    // A second refund of the same payment is its own receipt.
    const second = { ...fields, refundId: randomUUID() };
    expect((await redirectReceipt(second, await refundReceipt(second))).status).toBe(200);
    expect((await inboxOf(partyId)).map((event) => event.event)).toEqual([
      'refund-receipt',
      'refund-receipt',
    ]);
  });

  it('refuses a payment custody holds no message of (CUSTODY_MESSAGE_UNKNOWN)', async () => {
    const { partyId } = await customerWithPayment('goran');
    const fields = { partyId, paymentId: randomUUID(), refundId: randomUUID() };
    expect(await redirectReceipt(fields, await refundReceipt(fields))).toEqual({
      status: 403,
      code: 'CUSTODY_MESSAGE_UNKNOWN',
    });
    expect(await inboxOf(partyId)).toEqual([]);
  });

  it('refuses what is not the FSP’s refund receipt of this refund, for this customer, of this payment', async () => {
    const { partyId, paymentId } = await customerWithPayment('vesna');
    const other = await customerWithPayment('other');
    const fields = { partyId, paymentId, refundId: randomUUID() };
    const refused = [
      // signed by another key
      await redirectReceipt(
        fields,
        await refundReceipt(fields, { key: await generateSigningKeyPair('ES256') }),
      ),
      // addressed to another customer
      await redirectReceipt(fields, await refundReceipt(fields, { audience: other.partyId })),
      // another customer's payment's receipt, redirected under this payment
      await redirectReceipt(fields, await refundReceipt({ ...other, refundId: fields.refundId })),
      // the receipt of another refund than the redirect names
      await redirectReceipt(fields, await refundReceipt({ ...fields, refundId: randomUUID() })),
      // a payment's receipt, not a refund's
      await redirectReceipt(
        fields,
        await refundReceipt(fields, { payload: { receipt: { paymentId, status: 'completed' } } }),
      ),
      // a refund receipt that is not completed, or paid to someone else
      await redirectReceipt(
        fields,
        await refundReceipt(fields, {
          payload: { refundReceipt: { ...fields, status: 'failed', payee: partyId, payer: 'shop' } },
        }),
      ),
      await redirectReceipt(
        fields,
        await refundReceipt(fields, {
          payload: {
            refundReceipt: {
              ...fields,
              status: 'completed',
              payee: other.partyId,
              payer: 'shop',
              amount: { currency: 'EUR', value: '1.00' },
            },
          },
        }),
      ),
      // not encrypted to custody
      await redirect({ event: 'refund-receipt', paymentId, refundId: fields.refundId, data: 'a.b.c.d.e' }),
    ];
    expect(refused).toEqual(Array(refused.length).fill({ status: 403, code: 'CUSTODY_SOURCE_INVALID' }));
    // A request the FSP did not sign.
    const stranger = await generateSigningKeyPair('ES256');
    expect((await redirectReceipt(fields, await refundReceipt(fields), stranger)).code).toBe(
      'CUSTODY_SOURCE_INVALID',
    );
    expect(await inboxOf(partyId)).toEqual([]);
    expect(await storedReceipts(paymentId)).toEqual([]);
    // The genuine one still goes through: the refusals were about what they changed.
    expect((await redirectReceipt(fields, await refundReceipt(fields))).status).toBe(200);
  });

  it('takes a refund id with a refund receipt only, and none with a payment’s event (REQUEST_INVALID)', async () => {
    const { partyId, paymentId } = await customerWithPayment('ana');
    const refundId = randomUUID();
    const data = await encryptTo(
      await refundReceipt({ partyId, paymentId, refundId }),
      service.context.custody.encryption.publicJwk,
    );
    for (const body of [
      { event: 'refund-receipt', paymentId, data },
      { event: 'refund-receipt', paymentId, refundId: 'not-a-refund-id', data },
      { event: 'receipt', paymentId, refundId, data },
    ])
      expect((await redirect(body)).code).toBe('REQUEST_INVALID');
    expect(await inboxOf(partyId)).toEqual([]);
  });
});
