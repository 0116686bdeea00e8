import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interbankCreditId, reconcilePositions } from '@mpay/bank';
import { bankOperator, type OperatorClient } from '@mpay/cli';
import { generateSigningKeyPair } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { BankProcess, freePort } from './bank-process.ts';

/**
 * Two banks as separate processes; a stream of interbank payment orders;
 * each bank is killed with SIGKILL in the middle of it and restarted. Every
 * order must end completed at both banks or released at both, and no cent
 * may be created or lost: the customers' debits equal the merchant's credit.
 */
const databaseUrl = process.env.DATABASE_URL;
const orderCount = 60;
const customerCount = 6;
const openingMinor = 10_000n;
/** How long ybank stays down after its SIGKILL (part of the scenario, not a wait). */
const ybankOutageMs = 300;

interface Order {
  body: {
    id: string;
    debitAccountId: string;
    creditBankId: string;
    creditAccountId: string;
    amount: string;
    currency: string;
    reference: string;
  };
  /** The bank's last word: completed, refused (hold released) or rejected (never placed). */
  outcome?: 'completed' | 'refused' | 'rejected';
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

async function openAccounts() {
  const funding = randomUUID();
  await clients.xbank.post('/accounts', { id: funding, owner: 'xbank', currency: 'EUR', kind: 'funding' });
  const customers: string[] = [];
  for (let index = 0; index < customerCount; index += 1) {
    const id = randomUUID();
    await clients.xbank.post('/accounts', {
      id,
      owner: `c${index}@person.xbank`,
      currency: 'EUR',
      kind: 'customer',
    });
    await clients.xbank.post('/transfers', {
      id: randomUUID(),
      debitAccountId: funding,
      creditAccountId: id,
      amount: openingMinor.toString(),
      currency: 'EUR',
      reference: 'opening',
    });
    customers.push(id);
  }
  const merchant = randomUUID();
  await clients.ybank.post('/accounts', {
    id: merchant,
    owner: 'shop@merchant.ybank',
    currency: 'EUR',
    kind: 'merchant',
  });
  return { customers, merchant };
}

/** Sends the order once; records a final answer, leaves the outcome open on a crash, timeout or 'sending'. */
async function send(order: Order): Promise<void> {
  try {
    const answer = await clients.xbank.post<{ state: string }>('/payment-orders', order.body);
    if (answer.state === 'completed' || answer.state === 'refused') order.outcome = answer.state;
    else order.last = answer.state;
  } catch (error) {
    if (isMpayError(error) && error.code === 'INSUFFICIENT_FUNDS') order.outcome = 'rejected';
    else order.last = isMpayError(error) ? `${error.code}: ${error.message}` : String(error);
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
    const { customers, merchant } = await openAccounts();
    const orders: Order[] = Array.from({ length: orderCount }, (_, index) => ({
      body: {
        id: randomUUID(),
        debitAccountId: customers[index % customerCount]!,
        creditBankId: 'ybank',
        creditAccountId: merchant,
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
        `/accounts/${customer}`,
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
