import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type PublicJwk,
  publicJwkSet,
} from '@mpay/envelope';
import { ensureSoftHsmToken } from '@mpay/hsm';
import { sharedTestHsmDirectory } from '@mpay/hsm/test-support';
import { verifySignedRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import { type Database, openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { newDeviceToken, newOpaqueId, tokenHash } from '../ids.ts';
import { type CustodyService, createCustodyService } from '../service.ts';

/**
 * GET /payments/:id/evidence at custody, over real HTTP: a real custody
 * service (PGlite, the customers' keys in a softhsm2 token) and, in the FSP's
 * place, a small HTTP server that authenticates custody's request as the
 * gateway does (`verifySignedRequest`, audience the FSP, the key the
 * customer's bank bound and that key's owner as the issuer) and answers what
 * the test queued. The FSP's own route, the log and the page's verification
 * of the file run in test/browser/wallet-custody.test.ts.
 */

const fspId = 'fsp.test';
const evidenceBytesMax = 64 * 1024;

interface FspAnswer {
  readonly status: number;
  readonly body: string;
}

/** The FSP's evidence endpoint as custody meets it: who asked (verified), and the queued answers. */
class StandInFsp {
  /** The customers' bound keys: kid → its owner and public key. */
  readonly keys = new Map<string, { partyId: string; jwk: PublicJwk }>();
  /** Every request that authenticated: the customer it was signed as, and the path. */
  readonly asked: { partyId: string; path: string }[] = [];
  readonly answers: FspAnswer[] = [];
  /** While set, an authenticated request waits here before it is answered. */
  gate: Promise<void> | undefined;
  url = '';
  readonly #server = createServer((request, response) => void this.#handle(request, response));

  async listen(): Promise<void> {
    await new Promise<void>((listening) => this.#server.listen(0, '127.0.0.1', listening));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((closed) => this.#server.close(() => closed()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const owner: { partyId?: string } = {};
    const answer = await verifySignedRequest(
      {
        method: request.method ?? '',
        path: request.url ?? '',
        body: '',
        authorization: request.headers.authorization,
      },
      {
        audience: fspId,
        resolveKey: async (kid) => {
          const key = this.keys.get(kid);
          if (key === undefined) throw new MpayError('KEY_UNKNOWN');
          owner.partyId = key.partyId;
          return key.jwk;
        },
      },
    ).then(
      async (verified): Promise<FspAnswer> => {
        if (verified.issuer !== owner.partyId)
          return { status: 401, body: '{"error":{"code":"AUTHENTICATION_FAILED","message":"no"}}' };
        this.asked.push({ partyId: verified.issuer, path: request.url ?? '' });
        await this.gate;
        return (
          this.answers.shift() ?? {
            status: 404,
            body: '{"error":{"code":"EVIDENCE_UNKNOWN","message":"none"}}',
          }
        );
      },
      () => ({ status: 401, body: '{"error":{"code":"AUTHENTICATION_FAILED","message":"no"}}' }),
    );
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(answer.body);
  }
}

interface Customer {
  readonly partyId: string;
  readonly deviceToken: string;
  readonly kid: string;
}

let database: Database;
let service: CustodyService;
let custodyUrl: string;
const fsp = new StandInFsp();

beforeAll(async () => {
  await fsp.listen();
  const hsm = await ensureSoftHsmToken({
    directory: sharedTestHsmDirectory(),
    tokenLabel: 'custody-evidence',
  });
  database = await openTestDatabase('custody');
  const fspKey = await generateSigningKeyPair('ES256');
  service = await createCustodyService({
    database,
    custody: {
      id: 'custody.test',
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    },
    fsp: { id: fspId, url: fsp.url, keys: publicJwkSet([fspKey.publicJwk]) },
    banks: [],
    hsm,
    limits: { evidenceBytesMax, evidenceRequestsPerCustomerMax: 1 },
  });
  custodyUrl = await service.listen(0);
});
afterAll(async () => {
  await service?.close();
  await database?.close();
  await fsp.close();
});
beforeEach(() => {
  fsp.asked.length = 0;
  fsp.answers.length = 0;
  fsp.gate = undefined;
});

/** A custody customer as enrolment leaves it: a key generated in the HSM (bound at the FSP) and a phone's token. */
async function newCustomer(name: string): Promise<Customer> {
  const partyId = `${name}.${randomUUID().slice(0, 8)}@person.xbank`;
  const key = await service.context.hsm.generateSigningKey(`custody-key-${newOpaqueId()}`);
  fsp.keys.set(key.publicJwk.kid!, { partyId, jwk: key.publicJwk });
  const deviceToken = newDeviceToken();
  const now = new Date().toISOString();
  await database.query(
    `INSERT INTO customers (party_id, kind, bank_id, display_name, created_at) VALUES ($1, 'custody', 'xbank', $2, $3)`,
    [partyId, name, now],
  );
  await database.query(
    `INSERT INTO custody_keys (party_id, credential_id, hsm_key_id, hsm_label, kid, public_jwk, binding_serial,
       binding, accounts, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'serial', 'binding', '["account"]', $7)`,
    [
      partyId,
      newOpaqueId(),
      key.id,
      `custody-key-${newOpaqueId()}`,
      key.publicJwk.kid,
      JSON.stringify(key.publicJwk),
      now,
    ],
  );
  await database.query(
    `INSERT INTO devices (party_id, device_id, token_hash, created_at) VALUES ($1, 'phone-1', $2, $3)`,
    [partyId, tokenHash(deviceToken), now],
  );
  return { partyId, deviceToken, kid: key.publicJwk.kid! };
}

/** A payment custody signed in the customer's name (step 6 leaves the message and the signature). */
async function signedPayment(
  customer: Customer,
  decision: 'confirm' | 'decline' = 'confirm',
): Promise<string> {
  const paymentId = randomUUID();
  const now = new Date().toISOString();
  await database.query(
    `INSERT INTO messages (payment_id, party_id, state, ims, forward, forward_hash, created_at, updated_at)
     VALUES ($1, $2, 'receipted', '{}', 'forward', 'hash', $3, $3)`,
    [paymentId, customer.partyId, now],
  );
  await database.query(
    `INSERT INTO delegate_signatures (payment_id, party_id, decision, kid, jws, signed_at)
     VALUES ($1, $2, $3, 'kid', 'jws', $4)`,
    [paymentId, customer.partyId, decision, now],
  );
  return paymentId;
}

/** The phone's request; the answer's status, its body as sent and its error code (if any). */
async function askEvidence(customer: Customer | string, paymentId: string) {
  const token = typeof customer === 'string' ? customer : customer.deviceToken;
  const response = await fetch(`${custodyUrl}/payments/${paymentId}/evidence`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  let code: unknown;
  try {
    code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: response.status, text, code };
}

const file = (size = 0) =>
  `{ "version": "mpay-receipt/v1", "messages": ["${'A'.repeat(size)}"], "proof": "as the log gave it" }`;

describe('GET /payments/:id/evidence at custody', () => {
  it('asks the FSP signed in the HSM as the customer: 202 while pending, then the file exactly as the FSP sent it', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    fsp.answers.push({ status: 202, body: '{"state":"pending"}' }, { status: 200, body: file() });
    const pending = await askEvidence(mila, paymentId);
    expect([pending.status, JSON.parse(pending.text)]).toEqual([202, { state: 'pending' }]);
    const recorded = await askEvidence(mila, paymentId);
    expect([recorded.status, recorded.text]).toEqual([200, file()]);
    // Both requests verified at the FSP under the key the bank bound for Mila, with Mila as the issuer.
    expect(fsp.asked).toEqual([
      { partyId: mila.partyId, path: `/payments/${paymentId}/evidence` },
      { partyId: mila.partyId, path: `/payments/${paymentId}/evidence` },
    ]);
  });

  it('a declined payment custody signed has its evidence too', async () => {
    const goran = await newCustomer('goran');
    const paymentId = await signedPayment(goran, 'decline');
    fsp.answers.push({ status: 200, body: file() });
    expect((await askEvidence(goran, paymentId)).status).toBe(200);
  });

  it('refuses another customer’s payment and an unknown one alike (PAYMENT_UNKNOWN), signing nothing', async () => {
    const mila = await newCustomer('mila');
    const vesna = await newCustomer('vesna');
    const vesnasPayment = await signedPayment(vesna);
    fsp.answers.push({ status: 200, body: file() });
    const others = await askEvidence(mila, vesnasPayment);
    const unknown = await askEvidence(mila, randomUUID());
    expect([others.status, others.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
    expect([unknown.status, unknown.code]).toEqual([404, 'PAYMENT_UNKNOWN']);
    expect(others.text).toBe(unknown.text);
    expect(fsp.asked).toEqual([]);
    // Vesna's own phone gets it.
    expect((await askEvidence(vesna, vesnasPayment)).text).toBe(file());
  });

  it('answers nothing without the phone’s token, and NOT_FOUND for an id that is not a payment id', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    for (const token of [newDeviceToken(), 'not-a-token', ''])
      expect((await askEvidence(token, paymentId)).code).toBe('AUTHENTICATION_FAILED');
    expect((await askEvidence(mila, 'not-a-payment')).code).toBe('NOT_FOUND');
    expect(fsp.asked).toEqual([]);
  });

  it('passes on the FSP’s code; the FSP refusing the customer’s key is KEY_UNKNOWN, never the phone’s AUTHENTICATION_FAILED', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    fsp.answers.push(
      { status: 404, body: '{"error":{"code":"EVIDENCE_UNKNOWN","message":"none"}}' },
      { status: 401, body: '{"error":{"code":"AUTHENTICATION_FAILED","message":"no"}}' },
      { status: 502, body: 'not json' },
    );
    expect((await askEvidence(mila, paymentId)).code).toBe('EVIDENCE_UNKNOWN');
    expect((await askEvidence(mila, paymentId)).code).toBe('KEY_UNKNOWN');
    expect((await askEvidence(mila, paymentId)).code).toBe('SERVICE_UNAVAILABLE');
  });

  it('signs with the customer’s own key: once the FSP no longer holds it, the FSP refuses (KEY_UNKNOWN)', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    fsp.keys.delete(mila.kid);
    expect((await askEvidence(mila, paymentId)).code).toBe('KEY_UNKNOWN');
    expect(fsp.asked).toEqual([]);
  });

  it('reads the FSP’s answer up to evidenceBytesMax and no further (SERVICE_UNAVAILABLE), and an answer that is no file', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    fsp.answers.push(
      { status: 200, body: file(evidenceBytesMax) },
      { status: 200, body: '"a string"' },
      { status: 200, body: file(evidenceBytesMax - 200) },
    );
    const tooLarge = await askEvidence(mila, paymentId);
    expect([tooLarge.status, tooLarge.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect((await askEvidence(mila, paymentId)).code).toBe('SERVICE_UNAVAILABLE');
    expect((await askEvidence(mila, paymentId)).text).toBe(file(evidenceBytesMax - 200));
  });

  it('holds evidenceRequestsPerCustomerMax open per customer (REQUEST_RATE_LIMITED beyond), other customers unaffected', async () => {
    const mila = await newCustomer('mila');
    const vesna = await newCustomer('vesna');
    const [milasPayment, vesnasPayment] = [await signedPayment(mila), await signedPayment(vesna)];
    let open: () => void = () => undefined;
    fsp.gate = new Promise((resolve) => {
      open = resolve;
    });
    fsp.answers.push({ status: 200, body: file() }, { status: 200, body: file(1) });
    const first = askEvidence(mila, milasPayment);
    await waitFor(() => fsp.asked.length === 1, {
      deadlineMs: requestDeadlineMs,
      what: 'custody to ask the FSP',
    });
    const second = await askEvidence(mila, milasPayment);
    expect([second.status, second.code]).toEqual([429, 'REQUEST_RATE_LIMITED']);
    const others = askEvidence(vesna, vesnasPayment);
    await waitFor(() => fsp.asked.length === 2, { deadlineMs: requestDeadlineMs, what: 'Vesna’s request' });
    open();
    expect((await first).status).toBe(200);
    expect((await others).status).toBe(200);
    // The slot is given back once answered.
    fsp.gate = undefined;
    expect((await askEvidence(mila, milasPayment)).code).toBe('EVIDENCE_UNKNOWN');
  });
});

/** A refund of the payment whose FSP receipt custody forwarded to the customer (what a refund receipt leaves). */
async function forwardedRefund(customer: Customer, paymentId: string): Promise<string> {
  const refundId = randomUUID();
  await database.query(
    `INSERT INTO refund_receipts (refund_id, payment_id, party_id, receipt, received_at)
     VALUES ($1, $2, $3, 'jws', $4)`,
    [refundId, paymentId, customer.partyId, new Date().toISOString()],
  );
  return refundId;
}

async function askRefundEvidence(customer: Customer, paymentId: string, refundId: string) {
  const response = await fetch(`${custodyUrl}/payments/${paymentId}/refunds/${refundId}/evidence`, {
    headers: { authorization: `Bearer ${customer.deviceToken}` },
  });
  const text = await response.text();
  const code = response.ok ? undefined : (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
  return { status: response.status, text, code };
}

describe('GET /payments/:id/refunds/:refundId/evidence at custody', () => {
  it('asks the FSP for a refund custody forwarded, signed in the HSM as the customer, as for a payment', async () => {
    const mila = await newCustomer('mila');
    const paymentId = await signedPayment(mila);
    const refundId = await forwardedRefund(mila, paymentId);
    fsp.answers.push({ status: 202, body: '{"state":"pending"}' }, { status: 200, body: file() });
    expect((await askRefundEvidence(mila, paymentId, refundId)).status).toBe(202);
    expect(await askRefundEvidence(mila, paymentId, refundId)).toMatchObject({ status: 200, text: file() });
    const path = `/payments/${paymentId}/refunds/${refundId}/evidence`;
    expect(fsp.asked).toEqual([
      { partyId: mila.partyId, path },
      { partyId: mila.partyId, path },
    ]);
  });

  it('refuses another customer’s payment (PAYMENT_UNKNOWN) and a refund custody forwarded none of (REFUND_UNKNOWN)', async () => {
    const mila = await newCustomer('mila');
    const vesna = await newCustomer('vesna');
    const milasPayment = await signedPayment(mila);
    const vesnasPayment = await signedPayment(vesna);
    const vesnasRefund = await forwardedRefund(vesna, vesnasPayment);
    const milasRefund = await forwardedRefund(mila, milasPayment);
    expect((await askRefundEvidence(mila, vesnasPayment, vesnasRefund)).code).toBe('PAYMENT_UNKNOWN');
    expect((await askRefundEvidence(mila, randomUUID(), milasRefund)).code).toBe('PAYMENT_UNKNOWN');
    // Mila's own payment, with Vesna's refund or one never forwarded: no such refund for her.
    expect((await askRefundEvidence(mila, milasPayment, vesnasRefund)).code).toBe('REFUND_UNKNOWN');
    expect((await askRefundEvidence(mila, milasPayment, randomUUID())).code).toBe('REFUND_UNKNOWN');
    expect((await askRefundEvidence(mila, milasPayment, 'not-a-refund')).code).toBe('NOT_FOUND');
    expect(fsp.asked).toEqual([]);
  });
});
