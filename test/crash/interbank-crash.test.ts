import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interbankCreditId, reconcilePositions } from '@mpay/bank';
import { bankOperator, type OperatorClient } from '@mpay/cli';
import { generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import { enrolDevice } from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EnrolledKey,
  signTestAuthorisation,
  uniquePartyId,
} from '../../services/bank/src/test-helpers.ts';
import { paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { BankProcess, freePort } from './bank-process.ts';

/**
 * Two banks as separate processes; a stream of interbank payment orders;
 * each bank is killed with SIGKILL in the middle of it and restarted. Every
 * order must end completed at both banks or released at both, and no cent
 * may be created or lost: the customers' debits equal the merchant's credit.
 *
 * Each order carries its customer's own authorisation, as xbank requires:
 * every customer enrolled one device at xbank (operator's code, then the
 * device's POST /enrolments) and signs each debit with it, addressed to the
 * caller that posts the orders (here xbank's operator, `operator.xbank`).
 */
const databaseUrl = process.env.DATABASE_URL;
const orderCount = 60;
const customerCount = 6;
const openingMinor = 10_000n;
/** How long ybank stays down after its SIGKILL (part of the scenario, not a wait). */
const ybankOutageMs = 300;

/** The caller that posts the orders, whom every customer authorisation is addressed to. */
const orderingCaller = 'operator.xbank';

interface Customer {
  readonly accountId: string;
  readonly key: EnrolledKey;
}

interface Order {
  readonly customer: Customer;
  body: {
    id: string;
    payerId: string;
    debitAccountId: string;
    payeeId: string;
    creditBankId: string;
    amount: string;
    currency: string;
    reference: string;
    /** Signed by the customer just before the first send; every retry sends the same body. */
    authorisation?: string;
  };
  /** When the authorisation stops verifying (ms since the epoch, before the bank's clock skew allowance). */
  authorisationExpiresAt?: number;
  /**
   * The bank's last word: completed, refused (hold released), rejected (never placed: not enough money),
   * expired (never placed, and its authorisation expired before a retry reached the bank) or
   * unauthorised (a live authorisation refused: a bank bug, fails the test).
   */
  outcome?: 'completed' | 'refused' | 'rejected' | 'expired' | 'unauthorised';
  /** The last answer that was not final (a state, or an error), for the failure message. */
  last?: string;
}

let folder: string;
let prefix: string;
const banks: Record<'xbank' | 'ybank', BankProcess> = {} as Record<'xbank' | 'ybank', BankProcess>;
const clients: Record<'xbank' | 'ybank', OperatorClient> = {} as Record<'xbank' | 'ybank', OperatorClient>;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-crash-'));
  prefix = `crash_${randomBytes(4).toString('hex')}_`;
  const names = ['xbank', 'ybank'] as const;
  const keys = { xbank: await generateSigningKeyPair('ES256'), ybank: await generateSigningKeyPair('ES256') };
  const operators = {
    xbank: await generateSigningKeyPair('ES256'),
    ybank: await generateSigningKeyPair('ES256'),
  };
  const ports = { xbank: await freePort(), ybank: await freePort() };
  for (const name of names) {
    const peer = names.find((other) => other !== name)!;
    banks[name] = await BankProcess.configure(folder, name, ports[name], {
      schema: `${prefix}${name}`,
      ...(databaseUrl ? { databaseUrl } : { dataDir: folder }),
      interbankKey: keys[name].privateJwk,
      peers: [{ id: peer, url: `http://127.0.0.1:${ports[peer]}`, signingJwk: keys[peer].publicJwk }],
      clients: [
        { id: `operator.${name}`, signingJwk: operators[name].publicJwk, allowed: ['POST /', 'GET /'] },
      ],
      workerIntervalMs: 100,
    });
    await banks[name].start();
    clients[name] = bankOperator({ id: name, url: banks[name].url }, operators[name].privateJwk);
  }
});

afterAll(async () => {
  for (const bank of Object.values(banks)) await bank?.stop();
  if (databaseUrl)
    for (const name of ['xbank', 'ybank']) await dropPostgresSchema(databaseUrl, `${prefix}${name}`);
  await rm(folder, { recursive: true, force: true });
});

/** Lifetime of a customer authorisation: the bank's default ceiling (customerAuthorisationLifetimeSecondsMax). */
const authorisationLifetimeSeconds = 300;

/** One device per customer, enrolled as a wallet does it: the operator's one-time code, then the device's keys and proof. */
async function enrol(partyId: string, accountId: string, deviceId: string): Promise<EnrolledKey> {
  const { code } = await clients.xbank.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [accountId],
  });
  const keys = {
    signing: await generateSigningKeyPair('ES256'),
    encryption: await generateEncryptionKeyPair(),
  };
  const { serial, binding } = await enrolDevice(
    { bankUrl: banks.xbank.url, bankId: 'xbank', partyId, code },
    deviceId,
    keys,
  );
  return { partyId, deviceId, serial, binding, ...keys };
}

async function openAccounts(): Promise<{ customers: Customer[]; merchant: string; payeeId: string }> {
  const funding = randomUUID();
  await clients.xbank.post('/accounts', { id: funding, owner: 'xbank', currency: 'EUR', kind: 'funding' });
  const customers: Customer[] = [];
  for (let index = 0; index < customerCount; index += 1) {
    const id = randomUUID();
    // A unique owner per customer: the authorisation is checked against the account's owner.
    const owner = uniquePartyId('person', 'xbank', `crash-payer${index}`);
    await clients.xbank.post('/accounts', { id, owner, currency: 'EUR', kind: 'customer' });
    await clients.xbank.post('/transfers', {
      id: randomUUID(),
      debitAccountId: funding,
      creditAccountId: id,
      amount: openingMinor.toString(),
      currency: 'EUR',
      reference: 'opening',
    });
    customers.push({ accountId: id, key: await enrol(owner, id, `crash-phone-${index}`) });
  }
  // A unique owner for the merchant too: ybank credits the oldest open EUR account of the payee id.
  const payeeId = uniquePartyId('merchant', 'ybank', 'crash-shop');
  const merchant = randomUUID();
  await clients.ybank.post('/accounts', { id: merchant, owner: payeeId, currency: 'EUR', kind: 'merchant' });
  return { customers, merchant, payeeId };
}

/** The customer signs the debit (once: a retry is the same order, with the same authorisation). */
async function authorise(order: Order): Promise<void> {
  if (order.body.authorisation !== undefined) return;
  order.authorisationExpiresAt = Date.now() + authorisationLifetimeSeconds * 1000;
  order.body.authorisation = await signTestAuthorisation(order.customer.key, order.body, {
    audience: orderingCaller,
    expiresInSeconds: authorisationLifetimeSeconds,
  });
}

/** Sends the order once; records a final answer, leaves the outcome open on a crash, timeout or 'sending'. */
async function send(order: Order): Promise<void> {
  await authorise(order);
  try {
    const answer = await clients.xbank.post<{ state: string }>('/payment-orders', order.body);
    if (answer.state === 'completed' || answer.state === 'refused') order.outcome = answer.state;
    else order.last = answer.state;
  } catch (error) {
    if (isMpayError(error) && error.code === 'INSUFFICIENT_FUNDS') order.outcome = 'rejected';
    else if (isMpayError(error) && error.code === 'CUSTOMER_AUTHORISATION_INVALID') {
      // A placed order is answered from its record, never verified again: this one was never placed.
      // Only an authorisation that has run out by now may be refused; anything else is a bank bug.
      order.outcome = Date.now() > order.authorisationExpiresAt! ? 'expired' : 'unauthorised';
      order.last = `${error.code}: ${error.message}`;
    } else order.last = isMpayError(error) ? `${error.code}: ${error.message}` : String(error);
  }
}

async function sendAll(orders: Order[], parallel: number, onAnswered: (count: number) => Promise<void>) {
  let next = 0;
  let answered = 0;
  const lane = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      await send(order);
      answered += 1;
      await onAnswered(answered);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

async function transferOrUndefined(client: OperatorClient, id: string) {
  try {
    return await client.get<{ kind: string; amount: string; status?: string }>(`/transfers/${id}`);
  } catch (error) {
    if (isMpayError(error) && error.code === 'TRANSFER_UNKNOWN') return undefined;
    throw error;
  }
}

describe('interbank payments survive SIGKILL of either bank', () => {
  it('ends every payment completed at both banks or released at both, with money conserved', async () => {
    const { customers, merchant, payeeId } = await openAccounts();
    const orders: Order[] = Array.from({ length: orderCount }, (_, index) => ({
      customer: customers[index % customerCount]!,
      body: {
        id: randomUUID(),
        payerId: customers[index % customerCount]!.key.partyId,
        debitAccountId: customers[index % customerCount]!.accountId,
        payeeId,
        creditBankId: 'ybank',
        amount: String(500 + ((index * 7919) % 2500)),
        currency: 'EUR',
        reference: `order ${index}`,
      },
    }));
    await sendAll(orders, 6, async (answered) => {
      if (answered === 15) {
        await banks.xbank.kill();
        await banks.xbank.start();
      }
      if (answered === 35) {
        await banks.ybank.kill();
        // Not a wait for anything: ybank stays down a moment, so that xbank's deliveries fail and are retried.
        await new Promise((done) => setTimeout(done, ybankOutageMs));
        await banks.ybank.start();
      }
    });
    // The kills must have cut payments short, or this test proves nothing.
    const interrupted = orders.filter((order) => order.outcome === undefined).length;
    expect(interrupted).toBeGreaterThan(0);
    // The FSP's retry loop: ask again with the same id until the order has a final state.
    const open = () => orders.filter((order) => order.outcome === undefined);
    await waitFor(
      async () => {
        for (const order of open()) await send(order);
        return open().length === 0;
      },
      {
        deadlineMs: paymentSettledDeadlineMs,
        what: 'every payment order to reach a final state',
        intervalMs: 250,
        detail: () =>
          `still open: ${open()
            .map((order) => `${order.body.reference} (last answer: ${order.last})`)
            .join(', ')}`,
      },
    );
    expect(orders.filter((order) => order.outcome === undefined)).toEqual([]);
    const unauthorised = orders.filter((order) => order.outcome === 'unauthorised');
    expect(
      unauthorised.map((order) => `${order.body.reference}: ${order.last}`),
      'a live customer authorisation is never refused',
    ).toEqual([]);

    let paid = 0n;
    for (const order of orders) {
      const atX = await transferOrUndefined(clients.xbank, order.body.id);
      const atY = await transferOrUndefined(clients.ybank, interbankCreditId('xbank', order.body.id));
      if (order.outcome === 'completed') {
        expect(atX, order.body.reference).toMatchObject({ kind: 'pending', status: 'posted' });
        expect(atY, order.body.reference).toMatchObject({ kind: 'posted', amount: order.body.amount });
        paid += BigInt(order.body.amount);
      } else if (order.outcome === 'refused') {
        expect(atX, order.body.reference).toMatchObject({ status: 'voided' });
        expect(atY, order.body.reference).toBeUndefined();
      } else {
        expect(atX, order.body.reference).toBeUndefined();
        expect(atY, order.body.reference).toBeUndefined();
      }
    }
    expect(orders.filter((order) => order.outcome === 'completed').length).toBeGreaterThan(0);
    let debited = 0n;
    for (const customer of customers) {
      const account = await clients.xbank.get<{ balance: string; available: string }>(
        `/accounts/${customer.accountId}`,
      );
      expect(account.available, 'no hold is left behind').toBe(account.balance);
      debited += openingMinor - BigInt(account.balance);
    }
    const merchantAccount = await clients.ybank.get<{ balance: string }>(`/accounts/${merchant}`);
    expect(BigInt(merchantAccount.balance)).toBe(paid);
    expect(debited).toBe(paid);
    for (const client of Object.values(clients)) {
      expect((await client.get<{ ok: boolean }>('/audit')).ok).toBe(true);
    }
    const positions = [];
    for (const [name, client] of Object.entries(clients)) {
      const answer = await client.get<{
        positions: { peer: string; currency: string; net: string; inFlight: { amount: string } }[];
      }>('/settlement/positions');
      for (const position of answer.positions) {
        positions.push({
          bank: name,
          peer: position.peer,
          currency: position.currency,
          net: BigInt(position.net),
          inFlight: BigInt(position.inFlight.amount),
        });
      }
    }
    const [pair] = reconcilePositions(positions);
    expect(pair).toMatchObject({ agree: true, owedByFirst: paid });
  });
});
