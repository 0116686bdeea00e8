import { verifyPayload } from '@mpay/envelope';
import {
  expiringPaymentStates,
  type ImsMessage,
  isMpayError,
  merchantSignedContent,
  type PaymentEventKind,
  signedContentMatches,
  stepPayment,
} from '@mpay/protocol';
import { commitWithLastStatements, type Sql, startOutboxLeases, together } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilOneWaitsOn } from '../../../../test/support/lock-waits.ts';
import {
  addBank,
  addMerchant,
  createPayment,
  enrolCustomer,
  merchantRequest,
  openTestGateway,
  outboxOf,
  type TestBank,
  type TestCustomer,
  type TestGateway,
  type TestMerchant,
} from '../test-helpers.ts';
import { rateBucketStart } from './rate-window.ts';
import {
  expiredPaymentIds,
  findPayment,
  forgetRateBuckets,
  insertPayment,
  listPaymentEvents,
  lockCustomer,
  lockMerchant,
  lockPayment,
  type NewPayment,
  type OutboxEntry,
  type OutboxLease,
  type PaymentChanges,
  pendingRequestsPage,
  persistStep,
  requestsInWindow,
} from './store.ts';

const minute = 60_000;

function codeOf(error: unknown): string {
  return isMpayError(error) ? error.code : error instanceof Error ? error.message : String(error);
}

function later(at: Date, milliseconds: number): Date {
  return new Date(at.getTime() + milliseconds);
}

describe('payment store', () => {
  let gateway: TestGateway;
  let xbank: TestBank;
  let ybank: TestBank;
  let shop: TestMerchant;
  let kiosk: TestMerchant;
  let ann: TestCustomer;

  beforeAll(async () => {
    gateway = await openTestGateway();
    xbank = await addBank(gateway.database, 'xbank');
    ybank = await addBank(gateway.database, 'ybank');
    shop = await addMerchant(gateway.database, ybank, 'shop', 'https://shop.example/hooks/mpay');
    kiosk = await addMerchant(gateway.database, xbank, 'kiosk');
    ann = await enrolCustomer(gateway.database, xbank, 'ann');
  });
  afterAll(async () => {
    await gateway.close();
  });

  /** A customer of its own, so that counts and pages see only this test's payments. */
  const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;
  async function freshCustomer(name: string): Promise<TestCustomer> {
    return enrolCustomer(gateway.database, xbank, unique(name));
  }
  async function freshMerchant(name: string): Promise<TestMerchant> {
    return addMerchant(gateway.database, xbank, unique(name));
  }
  /** What insertPayment stores of `message` from `merchant` to `customer` at `at` (a minute to answer, a 60-s rate window). */
  function newPayment(
    message: ImsMessage,
    merchant: { readonly id: string },
    customer: TestCustomer,
    at: Date,
    expiresAt: Date = later(at, minute),
  ): NewPayment {
    return {
      message,
      merchantId: merchant.id,
      customerId: customer.id,
      payerAccount: customer.account,
      expiresAt,
      now: at,
      rateWindowSeconds: 60,
    };
  }
  /** One step of the stored payment, as a worker takes it: locked, stepped, persisted (with `effects`, leased by `lease`). */
  function stepStored(
    id: string,
    event: PaymentEventKind,
    changes: PaymentChanges,
    now: Date,
    effects: readonly OutboxEntry[] = [],
    lease?: OutboxLease,
  ) {
    return gateway.database.transaction(async (sql) => {
      const payment = await findPayment(sql, id, { lock: true });
      return persistStep(sql, payment, event, stepPayment(payment, event, now), changes, effects, now, lease);
    });
  }

  describe('insertPayment and findPayment', () => {
    it('stores the request in the initial state and reads it back decoded, with both parties joined', async () => {
      const now = gateway.now();
      const expiresAt = later(now, 5 * minute);
      const message = await merchantRequest(gateway.fsp.id, shop, ann, 12_50n, now);
      await gateway.database.transaction((sql) =>
        insertPayment(sql, newPayment(message, shop, ann, now, expiresAt), 'merchant_request_verified'),
      );
      const payment = await findPayment(gateway.database, message.transactionId);
      expect(payment).toMatchObject({
        id: message.transactionId,
        procedure: 'm-commerce',
        currency: 'EUR',
        amountMinor: 12_50n,
        securityLevel: 'small',
        state: 'merchant_request_verified',
        payerAccount: ann.account,
        pushMessage: null,
        receipt: null,
        bankAnswer: null,
        decline: null,
        outcome: null,
        failureCode: null,
        merchant: {
          id: shop.id,
          kind: 'merchant',
          displayName: 'shop',
          bankId: 'ybank',
          webhookUrl: 'https://shop.example/hooks/mpay',
        },
        customer: { id: ann.id, kind: 'person', displayName: 'ann', bankId: 'xbank', webhookUrl: null },
      });
      expect(payment.expiresAt.getTime()).toBe(expiresAt.getTime());
      expect(payment.createdAt.getTime()).toBe(now.getTime());
      expect(payment.updatedAt.getTime()).toBe(now.getTime());
      // The message is the typed model, equal to what was stored, amount in bigint minor units.
      expect(payment.message).toEqual(message);
      expect(payment.message.data.amount.minor).toBe(12_50n);
      // It still carries the merchant's signature over exactly its content.
      const signature = await verifyPayload(
        payment.message.address.to.sign ?? '',
        async () => shop.signing.publicJwk,
        { audience: gateway.fsp.id, issuer: shop.id, transactionId: payment.id },
      );
      expect(signedContentMatches(signature.payload, merchantSignedContent(payment.message))).toBe(true);
      const events = await listPaymentEvents(gateway.database, payment.id);
      expect(events).toEqual([
        {
          sequence: 1,
          fromState: null,
          toState: 'merchant_request_verified',
          event: null,
          step: 'iMS §5 step 1',
          detail: 'merchant request verified',
          createdAt: now,
        },
      ]);
    });

    it('answers PAYMENT_UNKNOWN for an id it does not hold', async () => {
      expect(await findPayment(gateway.database, '00000000-0000-4000-8000-000000000000').catch(codeOf)).toBe(
        'PAYMENT_UNKNOWN',
      );
    });

    it('refuses a second payment with the same id as MESSAGE_REPLAYED and keeps the first one untouched', async () => {
      const now = gateway.now();
      const message = await merchantRequest(gateway.fsp.id, shop, ann, 12_50n, now);
      const insert = (amountChanged: boolean) =>
        gateway.database.transaction((sql) =>
          insertPayment(
            sql,
            {
              message: amountChanged
                ? { ...message, data: { ...message.data, amount: { currency: 'EUR', minor: 99_00n } } }
                : message,
              merchantId: shop.id,
              customerId: ann.id,
              payerAccount: ann.account,
              expiresAt: later(now, minute),
              now,
              rateWindowSeconds: 60,
            },
            'merchant_request_verified',
          ),
        );
      await insert(false);
      expect(await insert(false).catch(codeOf)).toBe('MESSAGE_REPLAYED');
      expect(await insert(true).catch(codeOf)).toBe('MESSAGE_REPLAYED');
      const payment = await findPayment(gateway.database, message.transactionId);
      expect(payment.amountMinor).toBe(12_50n);
      expect(await listPaymentEvents(gateway.database, payment.id)).toHaveLength(1);

      // The statement itself fails on a replay (so a COMMIT sent with it does not run) and counts it nowhere.
      const again = await merchantRequest(gateway.fsp.id, shop, ann, 12_50n, now);
      const bucket = rateBucketStart(later(now, 7 * 24 * 60 * minute), 60);
      const stored = { merchantId: shop.id, customerId: ann.id, payerAccount: ann.account, now: bucket };
      const attempts: unknown[] = [];
      for (let attempt = 0; attempt < 2; attempt += 1)
        attempts.push(
          await gateway.database
            .transaction((sql) =>
              insertPayment(
                sql,
                { ...stored, message: again, expiresAt: later(bucket, minute), rateWindowSeconds: 60 },
                'merchant_request_verified',
              ),
            )
            .then(() => 'stored', codeOf),
        );
      expect(attempts).toEqual(['stored', 'MESSAGE_REPLAYED']);
      const { rows } = await gateway.database.query<{ role: string; requests: number }>(
        'SELECT role, requests FROM request_rate_buckets WHERE bucket_start = $1 ORDER BY role',
        [bucket.toISOString()],
      );
      expect(rows).toEqual([
        { role: 'customer', requests: 1 },
        { role: 'merchant', requests: 1 },
      ]);
    });

    it("refuses a request over a rate limit in its own statement, the merchant's limit first, and keeps nothing of it", async () => {
      // Nine days ahead, so that no other test's buckets fall in this window; a 60-s window has 1-s buckets.
      const start = rateBucketStart(later(gateway.now(), 9 * 24 * 60 * minute), 60);
      const attempt = async (at: Date, limits: { merchantMax: number; customerMax: number }) => {
        const message = await merchantRequest(gateway.fsp.id, shop, ann, 1_00n, at);
        return gateway.database
          .transaction(async (sql) => {
            // As the payment request sends it: the COMMIT in the same round trip, run only if it did not fail.
            const counted = insertPayment(
              sql,
              newPayment(message, shop, ann, at),
              'merchant_request_verified',
              limits,
            );
            commitWithLastStatements(sql, 1);
            return counted;
          })
          .then(
            (windows) => ({ stored: windows.merchant.count, id: message.transactionId }),
            (error: unknown) => ({ error, id: message.transactionId }),
          );
      };
      const limits = { merchantMax: 2, customerMax: 3 };
      expect(await attempt(start, limits)).toMatchObject({ stored: 1 });
      expect(await attempt(later(start, 1_000), limits)).toMatchObject({ stored: 2 });
      const third = await attempt(later(start, 2_000), limits);
      expect(third).toMatchObject({
        error: { code: 'REQUEST_RATE_LIMITED', detail: 'merchant', retryAfterSeconds: 59 },
      });
      // Nothing of the refused request: not its payment, not its count.
      expect(await findPayment(gateway.database, third.id).catch(codeOf)).toBe('PAYMENT_UNKNOWN');
      const { rows } = await gateway.database.query<{ role: string; requests: string }>(
        `SELECT role, sum(requests)::text AS requests FROM request_rate_buckets
         WHERE party_id IN ($1, $2) AND bucket_start >= $3 GROUP BY role ORDER BY role`,
        [shop.id, ann.id, start.toISOString()],
      );
      expect(rows).toEqual([
        { role: 'customer', requests: '2' },
        { role: 'merchant', requests: '2' },
      ]);
      // Both over: the merchant's limit answers. The customer's alone: the customer's.
      expect(await attempt(later(start, 3_000), { merchantMax: 2, customerMax: 2 })).toMatchObject({
        error: { code: 'REQUEST_RATE_LIMITED', detail: 'merchant' },
      });
      expect(await attempt(later(start, 3_000), { merchantMax: 10, customerMax: 2 })).toMatchObject({
        error: { code: 'REQUEST_RATE_LIMITED', detail: 'customer', retryAfterSeconds: 58 },
      });
      expect(await attempt(later(start, 3_000), { merchantMax: 10, customerMax: 10 })).toMatchObject({
        stored: 3,
      });
    });

    it("returns each party's requests in the window, its own and its earlier buckets', but none older", async () => {
      // A week ahead, so that no other test's buckets fall in these windows; a 60-s window has 1-s buckets.
      const start = rateBucketStart(later(gateway.now(), 8 * 24 * 60 * minute), 60);
      const store = async (at: Date, merchant: typeof shop) => {
        const message = await merchantRequest(gateway.fsp.id, merchant, ann, 1_00n, at);
        return gateway.database.transaction((sql) =>
          insertPayment(sql, newPayment(message, merchant, ann, at), 'merchant_request_verified'),
        );
      };
      const other = await freshMerchant('rates');
      await store(start, shop);
      await store(later(start, 10_000), other);
      expect(await store(later(start, 30_500), shop)).toEqual({
        merchant: { count: 2, oldest: start },
        customer: { count: 3, oldest: start },
      });
      // 61.5 s after the first: its bucket has left the window; the second one's has not.
      expect(await store(later(start, 61_500), shop)).toEqual({
        merchant: { count: 2, oldest: later(start, 30_000) },
        customer: { count: 3, oldest: later(start, 10_000) },
      });
    });

    it('counts a later bucket stored first (a request whose clock read later), up to a window ahead', async () => {
      // Fresh parties, nine and a half days ahead: buckets no other test's windows reach. The request at
      // start + 1 s reads its clock last but is stored first (as when the other waits on the customer's lock).
      const [merchant, customer] = [await freshMerchant('later-first'), await freshCustomer('later-first')];
      const start = rateBucketStart(later(gateway.now(), 9.5 * 24 * 60 * minute), 60);
      const store = async (at: Date) => {
        const message = await merchantRequest(gateway.fsp.id, merchant, customer, 1_00n, at);
        return gateway.database.transaction((sql) =>
          insertPayment(sql, newPayment(message, merchant, customer, at), 'merchant_request_verified'),
        );
      };
      await store(later(start, 1_000));
      // More than a window ahead of start (a clock that fast shares no window with it): not counted.
      await store(later(start, 61_000));
      // Counted: its own and start + 1 s's. Its own bucket holds only itself, which a refusal rolls back:
      // the oldest for Retry-After is then start + 1 s's.
      expect(await store(start)).toEqual({
        merchant: { count: 2, oldest: later(start, 1_000) },
        customer: { count: 2, oldest: later(start, 1_000) },
      });
      // Another in the same bucket as start's: its own bucket then holds one that stays.
      expect(await store(later(start, 500))).toEqual({
        merchant: { count: 3, oldest: start },
        customer: { count: 3, oldest: start },
      });
    });

    it('refuses a payment to a party the registry does not hold', async () => {
      const now = gateway.now();
      const stranger = { id: 'bob@person.xbank' };
      const message = await merchantRequest(gateway.fsp.id, shop, stranger, 12_50n, now);
      const refused = await gateway.database
        .transaction((sql) =>
          insertPayment(
            sql,
            {
              message,
              merchantId: shop.id,
              customerId: stranger.id,
              payerAccount: ann.account,
              expiresAt: later(now, minute),
              now,
              rateWindowSeconds: 60,
            },
            'merchant_request_verified',
          ),
        )
        .then(
          () => 'stored',
          () => 'refused',
        );
      expect(refused).toBe('refused');
      expect(await findPayment(gateway.database, message.transactionId).catch(codeOf)).toBe(
        'PAYMENT_UNKNOWN',
      );
    });
  });

  describe('exact rate counts', () => {
    /**
     * Two payment requests as requestPayment makes them (the customer's lock,
     * the merchant's, the insert with its count): the first holds its locks
     * uncommitted until the second waits on one of them (known from
     * pg_blocking_pids, not from a timer), then commits. Returns each one's
     * count.
     */
    async function oneWaitingOnTheOther(
      merchant: TestMerchant,
      first: { readonly customer: TestCustomer; readonly at: Date },
      second: { readonly customer: TestCustomer; readonly at: Date },
    ) {
      const request = async (sql: Sql, customer: TestCustomer, at: Date) => {
        const message = await merchantRequest(gateway.fsp.id, merchant, customer, 1_00n, at);
        await lockCustomer(sql, customer.id);
        // As requestPayment sends them: the merchant's lock and the insert in one pipeline.
        const [, windows] = await together([
          lockMerchant(sql, merchant.id),
          insertPayment(sql, newPayment(message, merchant, customer, at), 'merchant_request_verified'),
        ]);
        return windows;
      };
      let commitFirst: () => void = () => undefined;
      const committing = new Promise<void>((done) => {
        commitFirst = done;
      });
      let firstCounted: (holder: number) => void = () => undefined;
      const counted = new Promise<number>((done) => {
        firstCounted = done;
      });
      const held = gateway.database.transaction(async (sql) => {
        const windows = await request(sql, first.customer, first.at);
        const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        firstCounted(rows[0]!.pid);
        await committing;
        return windows;
      });
      let next: Promise<Awaited<ReturnType<typeof request>>> | undefined;
      try {
        // The first one's failure ends the test instead of leaving it waiting.
        const holder = await Promise.race([counted, held.then(() => -1)]);
        next = gateway.database.transaction((sql) => request(sql, second.customer, second.at));
        // The second one waits on the first's lock before the first commits (else it proves nothing).
        await untilOneWaitsOn(gateway.database, holder, "the second request to wait on the first one's lock");
        commitFirst();
        return { first: await held, second: await next };
      } finally {
        // Whatever failed, the first transaction ends (its connection and locks are not left held), then the second.
        commitFirst();
        await held.catch(() => undefined);
        await next?.catch(() => undefined);
      }
    }

    // Two transactions at once need two connections: PostgreSQL only (PGlite runs one transaction at a time).
    it.runIf(process.env.DATABASE_URL !== undefined)(
      "counts a request still uncommitted in the previous bucket, once the merchant's lock lets the next one on",
      async () => {
        const merchant = await freshMerchant('boundary');
        const [first, second] = [await freshCustomer('first'), await freshCustomer('second')];
        // Two seconds in a row, nine days ahead: two buckets of a 60-s window no other test uses.
        const start = rateBucketStart(later(gateway.now(), 9 * 24 * 60 * minute), 60);
        const counts = await oneWaitingOnTheOther(
          merchant,
          { customer: first, at: start },
          { customer: second, at: later(start, 1_000) },
        );
        expect(counts.first.merchant.count).toBe(1);
        expect(counts.second.merchant).toEqual({ count: 2, oldest: start });
      },
    );

    it.runIf(process.env.DATABASE_URL !== undefined)(
      "counts a request in the next bucket that took the customer's lock first, though its clock was read later",
      async () => {
        const merchant = await freshMerchant('clock-order');
        const customer = await freshCustomer('clock-order');
        // Ten days ahead: buckets no other test uses. The one whose clock reads start + 1 s commits first.
        const start = rateBucketStart(later(gateway.now(), 10 * 24 * 60 * minute), 60);
        const counts = await oneWaitingOnTheOther(
          merchant,
          { customer, at: later(start, 1_000) },
          { customer, at: start },
        );
        expect(counts.first.merchant.count).toBe(1);
        // Its own bucket holds only itself (a refusal would roll it back): the oldest is the other's.
        expect(counts.second).toEqual({
          merchant: { count: 2, oldest: later(start, 1_000) },
          customer: { count: 2, oldest: later(start, 1_000) },
        });
      },
    );
  });

  describe('lockPayment', () => {
    it('keeps a read whose version is still stored, reads again after a step in between, and knows no stranger', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const read = await findPayment(gateway.database, id);
      expect(read.version).toBe(0);
      expect(await gateway.database.transaction((sql) => lockPayment(sql, read))).toBe(read);
      // Another step persisted after the read: the lock reads the payment as it now stands.
      const now = later(gateway.now(), 1_000);
      const stepped = await stepStored(
        id,
        'countersigned',
        { pushMessage: 'push-1', detail: 'countersigned' },
        now,
      );
      expect(stepped.version).toBe(1);
      const relocked = await gateway.database.transaction((sql) => lockPayment(sql, read));
      expect(relocked).not.toBe(read);
      expect(relocked).toEqual(await findPayment(gateway.database, id));
      expect(relocked).toMatchObject({
        state: 'awaiting_customer_signature',
        version: 1,
        pushMessage: 'push-1',
      });
      // What persistStep returned is the payment as stored: kept as it is.
      expect(await gateway.database.transaction((sql) => lockPayment(sql, stepped))).toBe(stepped);
      // A party's field changed since the read (the merchant's webhook): read again.
      await gateway.database.query('UPDATE parties SET webhook_url = $2 WHERE id = $1', [
        shop.id,
        'https://shop.example/hooks/new',
      ]);
      try {
        const moved = await gateway.database.transaction((sql) => lockPayment(sql, stepped));
        expect(moved).not.toBe(stepped);
        expect(moved.merchant.webhookUrl).toBe('https://shop.example/hooks/new');
      } finally {
        await gateway.database.query('UPDATE parties SET webhook_url = $2 WHERE id = $1', [
          shop.id,
          'https://shop.example/hooks/mpay',
        ]);
      }
      const stranger = { ...read, id: '00000000-0000-4000-8000-000000000000' };
      expect(await gateway.database.transaction((sql) => lockPayment(sql, stranger)).catch(codeOf)).toBe(
        'PAYMENT_UNKNOWN',
      );
    });
  });

  describe('persistStep', () => {
    it('writes the state, the changes, the event with its kind and step, and every outbox row together', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const now = later(gateway.now(), 1_000);
      await stepStored(id, 'countersigned', { pushMessage: 'push-1', detail: 'countersigned' }, now, [
        { kind: 'device_push', payload: { event: 'payment-request' } },
        { kind: 'webhook', payload: { url: 'https://shop.example/hooks/mpay', body: 'jws' } },
      ]);
      const payment = await findPayment(gateway.database, id);
      expect(payment.state).toBe('awaiting_customer_signature');
      expect(payment.pushMessage).toBe('push-1');
      expect(payment.updatedAt.getTime()).toBe(now.getTime());
      const events = await listPaymentEvents(gateway.database, id);
      expect(
        events.map(({ sequence, fromState, toState, event, step, detail }) => ({
          sequence,
          fromState,
          toState,
          event,
          step,
          detail,
        })),
      ).toEqual([
        {
          sequence: 1,
          fromState: null,
          toState: 'merchant_request_verified',
          event: null,
          step: 'iMS §5 step 1',
          detail: 'merchant request verified',
        },
        {
          sequence: 2,
          fromState: 'merchant_request_verified',
          toState: 'awaiting_customer_signature',
          event: 'countersigned',
          step: 'iMS §5 steps 1–2',
          detail: 'countersigned',
        },
      ]);
      const outbox = await outboxOf(gateway.database, id);
      expect(
        outbox.map(({ kind, payload, attempts, deliveredAt, abandonedAt }) => ({
          kind,
          payload,
          attempts,
          deliveredAt,
          abandonedAt,
        })),
      ).toEqual([
        {
          kind: 'device_push',
          payload: { event: 'payment-request' },
          attempts: 0,
          deliveredAt: null,
          abandonedAt: null,
        },
        {
          kind: 'webhook',
          payload: { url: 'https://shop.example/hooks/mpay', body: 'jws' },
          attempts: 0,
          deliveredAt: null,
          abandonedAt: null,
        },
      ]);
      expect(outbox.every((row) => row.nextAttemptAt.getTime() === now.getTime())).toBe(true);
    });

    it('writes the effects due at once leased to this start and hands them over, leaving delayed ones due', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const now = later(gateway.now(), 1_000);
      const name = unique('lessee');
      const first = await startOutboxLeases(gateway.database, name, now);
      const lease: OutboxLease = {
        until: later(now, 30_000),
        owner: first.bootId,
        rows: [],
        payments: new Map(),
        pushedAtCommit: [],
      };
      const effects = [
        { kind: 'device_push', payload: { event: 'payment-request' } },
        { kind: 'webhook', payload: { url: 'https://shop.example/hooks/mpay', body: 'jws' }, delayMs: 5_000 },
        { kind: 'log_entry', payload: {} },
      ] as const;
      await stepStored(id, 'countersigned', { pushMessage: 'push-2' }, now, effects, lease);
      const stored = await outboxOf(gateway.database, id);
      expect(stored.map(({ kind, nextAttemptAt }) => ({ kind, at: nextAttemptAt.getTime() }))).toEqual([
        { kind: 'device_push', at: lease.until.getTime() },
        { kind: 'webhook', at: later(now, 5_000).getTime() },
        { kind: 'log_entry', at: lease.until.getTime() },
      ]);
      // Handed over in the effects' order, as a claim would return them; the delayed one is not.
      expect(lease.rows).toEqual([
        {
          id: stored[0]?.id,
          payment_id: id,
          kind: 'device_push',
          payload: '{"event":"payment-request"}',
          attempts: 0,
        },
        { id: stored[2]?.id, payment_id: id, kind: 'log_entry', payload: '{}', attempts: 0 },
      ]);
      const owners = await gateway.database.query<{ kind: string; owner: string | null }>(
        'SELECT kind, lease_owner::text AS owner FROM outbox WHERE payment_id = $1 ORDER BY id',
        [id],
      );
      expect(owners.rows).toEqual([
        { kind: 'device_push', owner: first.bootId },
        { kind: 'webhook', owner: null },
        { kind: 'log_entry', owner: first.bootId },
      ]);
      // A start that died before delivering them: its next start makes them due at once.
      const next = await startOutboxLeases(gateway.database, name, later(now, 2_000));
      expect(next.released).toBe(2);
      const released = await outboxOf(gateway.database, id);
      expect(
        released.filter((row) => row.nextAttemptAt.getTime() === later(now, 2_000).getTime()),
      ).toHaveLength(2);
    });

    it('stamps no lease owner for a start whose place was taken, as a claim would not', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const now = later(gateway.now(), 1_000);
      const name = unique('replaced');
      const old = await startOutboxLeases(gateway.database, name, now);
      await startOutboxLeases(gateway.database, name, now);
      const lease: OutboxLease = {
        until: later(now, 30_000),
        owner: old.bootId,
        rows: [],
        payments: new Map(),
        pushedAtCommit: [],
      };
      const effects = [{ kind: 'device_push', payload: { event: 'payment-request' } }] as const;
      await stepStored(id, 'countersigned', {}, now, effects, lease);
      // Still leased for its time (the request delivers it), but stamped with no owner, as a claim would be.
      const owners = await gateway.database.query<{ owner: string | null; at: Date | string }>(
        'SELECT lease_owner::text AS owner, next_attempt_at AS at FROM outbox WHERE payment_id = $1',
        [id],
      );
      expect(owners.rows.map((row) => ({ owner: row.owner, at: new Date(row.at).getTime() }))).toEqual([
        { owner: null, at: lease.until.getTime() },
      ]);
      expect(lease.rows).toHaveLength(1);
    });

    it('keeps what a later step does not change (the push stays when the outcome is written)', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'awaiting' });
      const before = await findPayment(gateway.database, id);
      expect(before.pushMessage).not.toBeNull();
      const now = later(gateway.now(), 1_000);
      await stepStored(
        id,
        'merchant_cancelled',
        { outcome: 'outcome-jws', failureCode: 'PAYMENT_CANCELLED' },
        now,
      );
      const after = await findPayment(gateway.database, id);
      expect(after).toMatchObject({
        state: 'merchant_cancelled',
        pushMessage: before.pushMessage,
        message: before.message,
        outcome: 'outcome-jws',
        failureCode: 'PAYMENT_CANCELLED',
        receipt: null,
      });
    });

    it('refuses a step on a state that is no longer stored, and writes nothing of it', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const stale = await findPayment(gateway.database, id);
      const now = later(gateway.now(), 1_000);
      // Another worker moves the payment on first.
      await stepStored(id, 'countersigned', { pushMessage: 'push-1' }, now);
      const refused = await gateway.database
        .transaction((sql) =>
          persistStep(
            sql,
            stale,
            'merchant_cancelled',
            stepPayment(stale, 'merchant_cancelled', now),
            { outcome: 'outcome-jws' },
            [{ kind: 'webhook', payload: { url: 'https://shop.example/hooks/mpay', body: 'cancelled' } }],
            now,
          ),
        )
        .catch(codeOf);
      expect(refused).toMatch(/^assertion failed/);
      const payment = await findPayment(gateway.database, id);
      expect(payment.state).toBe('awaiting_customer_signature');
      expect(payment.outcome).toBeNull();
      expect((await listPaymentEvents(gateway.database, id)).map((event) => event.toState)).toEqual([
        'merchant_request_verified',
        'awaiting_customer_signature',
      ]);
      expect(await outboxOf(gateway.database, id, 'webhook')).toEqual([]);
    });

    it('refuses a step result computed on another state than the payment it is given', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      const now = later(gateway.now(), 1_000);
      const refused = await gateway.database
        .transaction(async (sql) => {
          const payment = await findPayment(sql, id, { lock: true });
          const computedElsewhere = stepPayment(
            { state: 'awaiting_customer_signature', expiresAt: payment.expiresAt },
            'customer_declined',
            now,
          );
          await persistStep(sql, payment, 'customer_declined', computedElsewhere, {}, [], now);
        })
        .catch(codeOf);
      expect(refused).toMatch(/^assertion failed/);
      expect((await findPayment(gateway.database, id)).state).toBe('merchant_request_verified');
      expect(await listPaymentEvents(gateway.database, id)).toHaveLength(1);
    });
  });

  describe('pendingRequestsPage', () => {
    it("returns only the customer's unexpired requests awaiting a signature, newest first", async () => {
      const customer = await freshCustomer('carol');
      const other = await freshCustomer('dave');
      const t0 = gateway.now();
      const now = later(t0, 10 * minute);
      const at = (minutes: number) => later(t0, minutes * minute);
      const open = { expiresAt: later(t0, 30 * minute) };
      const oldest = await createPayment(gateway, { merchant: shop, customer, at: at(1), ...open });
      const newest = await createPayment(gateway, { merchant: kiosk, customer, at: at(3), ...open });
      const middle = await createPayment(gateway, { merchant: shop, customer, at: at(2), ...open });
      // Excluded: expired (also exactly at now), not yet pushed, already confirmed, another customer's.
      await createPayment(gateway, { merchant: shop, customer, at: at(4), expiresAt: later(now, -1) });
      await createPayment(gateway, { merchant: shop, customer, at: at(4), expiresAt: now });
      await createPayment(gateway, { merchant: shop, customer, at: at(5), stage: 'requested', ...open });
      await createPayment(gateway, { merchant: shop, customer, at: at(6), stage: 'authorised', ...open });
      await createPayment(gateway, { merchant: shop, customer: other, at: at(7), ...open });
      const page = await pendingRequestsPage(gateway.database, customer.id, now, 10);
      expect(page.map((pending) => pending.id)).toEqual([newest, middle, oldest]);
      expect(page.map((pending) => pending.createdAt.getTime())).toEqual([
        at(3).getTime(),
        at(2).getTime(),
        at(1).getTime(),
      ]);
      const stored = await findPayment(gateway.database, newest);
      expect(page[0]?.pushMessage).toBe(stored.pushMessage);
    });

    it('pages through requests of equal creation time without a gap or a repeat (keyset on created_at, id)', async () => {
      const customer = await freshCustomer('erin');
      const t0 = gateway.now();
      const ids: string[] = [];
      // Two instants, four requests each: every page boundary falls inside a run of equal created_at.
      for (const at of [t0, later(t0, 1_000)]) {
        for (let index = 0; index < 4; index += 1)
          ids.push(await createPayment(gateway, { merchant: shop, customer, at }));
      }
      const expected = ids
        .map((id, index) => ({ id, createdAt: index < 4 ? t0.getTime() : t0.getTime() + 1_000 }))
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .map((pending) => pending.id);
      const seen: string[] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (let pages = 0; pages < 10; pages += 1) {
        const page = await pendingRequestsPage(gateway.database, customer.id, later(t0, minute), 3, after);
        seen.push(...page.map((pending) => pending.id));
        const last = page.at(-1);
        if (last === undefined || page.length < 3) break;
        // The cursor the route hands out: the instant at millisecond precision and the id.
        after = { createdAt: new Date(last.createdAt.toISOString()), id: last.id };
      }
      expect(seen).toEqual(expected);
    });
  });

  describe('requestsInWindow', () => {
    const window = 60;
    const second = 1_000;

    it('counts the requests of a window per merchant and per customer, with the start of the oldest bucket', async () => {
      const carol = await freshCustomer('carol');
      const dave = await freshCustomer('dave');
      const solo = await freshMerchant('solo');
      // On a bucket's start (a 60-second window counts in one-second buckets).
      const t0 = new Date(Math.ceil(gateway.now().getTime() / second) * second + 5 * minute);
      await createPayment(gateway, { merchant: solo, customer: carol, at: later(t0, 400) });
      await createPayment(gateway, { merchant: solo, customer: dave, at: later(t0, 10_000) });
      await createPayment(gateway, { merchant: shop, customer: carol, at: later(t0, 20_000) });
      await createPayment(gateway, { merchant: solo, customer: carol, at: later(t0, 30_000) });

      const inWindow = (parties: { merchantId: string; customerId: string }, now: Date) =>
        requestsInWindow(gateway.database, parties, now, window);
      expect(await inWindow({ merchantId: solo.id, customerId: carol.id }, later(t0, 30_000))).toEqual({
        merchant: { count: 3, oldest: t0 },
        // A customer's count is over all merchants.
        customer: { count: 3, oldest: t0 },
      });
      // A bucket counts while any of it is in the window: t0's bucket until t0 + 61 s.
      expect(await inWindow({ merchantId: solo.id, customerId: carol.id }, later(t0, 60_999))).toEqual({
        merchant: { count: 3, oldest: t0 },
        customer: { count: 3, oldest: t0 },
      });
      expect(await inWindow({ merchantId: solo.id, customerId: carol.id }, later(t0, 61_000))).toEqual({
        merchant: { count: 2, oldest: later(t0, 10_000) },
        customer: { count: 2, oldest: later(t0, 20_000) },
      });
      expect(await inWindow({ merchantId: solo.id, customerId: dave.id }, later(t0, 71_000))).toEqual({
        merchant: { count: 1, oldest: later(t0, 30_000) },
        customer: { count: 0, oldest: null },
      });
      // Buckets after now's count up to a window ahead (a request whose clock read later, counted first):
      // 50 s before t0, t0's and t0 + 10 s's, not t0 + 20 s's or t0 + 30 s's.
      expect(await inWindow({ merchantId: solo.id, customerId: carol.id }, later(t0, -50_000))).toEqual({
        merchant: { count: 2, oldest: t0 },
        customer: { count: 1, oldest: t0 },
      });
      // A party with nothing in the window: zero, no oldest, on both sides.
      expect(await inWindow({ merchantId: solo.id, customerId: dave.id }, later(t0, 91_000))).toEqual({
        merchant: { count: 0, oldest: null },
        customer: { count: 0, oldest: null },
      });
    });

    it('reads buckets, not payments: many requests in one bucket are one row per party', async () => {
      const erin = await freshCustomer('erin');
      const busy = await freshMerchant('busy');
      const t0 = new Date(Math.ceil(gateway.now().getTime() / second) * second + 10 * minute);
      for (let index = 0; index < 5; index += 1)
        await createPayment(gateway, { merchant: busy, customer: erin, at: later(t0, index * 100) });
      const { rows } = await gateway.database.query<{ role: string; requests: number }>(
        'SELECT role, requests FROM request_rate_buckets WHERE party_id = ANY($1) ORDER BY role',
        [[busy.id, erin.id]],
      );
      expect(rows).toEqual([
        { role: 'customer', requests: 5 },
        { role: 'merchant', requests: 5 },
      ]);
      expect(
        await requestsInWindow(gateway.database, { merchantId: busy.id, customerId: erin.id }, t0, window),
      ).toEqual({ merchant: { count: 5, oldest: t0 }, customer: { count: 5, oldest: t0 } });
    });

    it('forgets the buckets that have left the window, up to the limit a round', async () => {
      const fred = await freshCustomer('fred');
      const t0 = new Date(Math.ceil(gateway.now().getTime() / second) * second + 20 * minute);
      for (let index = 0; index < 3; index += 1)
        await createPayment(gateway, { merchant: shop, customer: fred, at: later(t0, index * second) });
      const fredsBuckets = async () =>
        (
          await gateway.database.query<{ bucket_start: Date }>(
            "SELECT bucket_start FROM request_rate_buckets WHERE party_id = $1 AND role = 'customer' ORDER BY bucket_start",
            [fred.id],
          )
        ).rows.map((row) => new Date(row.bucket_start).getTime());
      expect(await fredsBuckets()).toEqual([0, 1, 2].map((index) => t0.getTime() + index * second));
      // Every bucket older than Fred's (other tests') goes; Fred's are still in the window.
      await forgetRateBuckets(gateway.database, later(t0, 60_999), window, 10_000);
      expect(await fredsBuckets()).toHaveLength(3);
      const { rows } = await gateway.database.query<{ left: string }>(
        'SELECT count(*)::text AS left FROM request_rate_buckets WHERE bucket_start < $1',
        [t0.toISOString()],
      );
      expect(rows[0]?.left).toBe('0');
      // At t0 + 62 s the first two of Fred's and of the shop's have left: with a limit of one, one goes a round.
      const rounds: number[] = [];
      for (let round = 0; round < 5; round += 1)
        rounds.push(await forgetRateBuckets(gateway.database, later(t0, 62_000), window, 1));
      expect(rounds).toEqual([1, 1, 1, 1, 0]);
      expect(await fredsBuckets()).toEqual([t0.getTime() + 2 * second]);
    });
  });

  describe('expiredPaymentIds', () => {
    it('lists payments in the given states whose expiry is at or before the clock, oldest expiry first, up to the limit', async () => {
      const customer = await freshCustomer('frank');
      const t0 = later(gateway.now(), 24 * 60 * minute);
      const expiring = (minutes: number) => later(t0, minutes * minute);
      const requested = await createPayment(gateway, {
        merchant: shop,
        customer,
        at: gateway.now(),
        expiresAt: expiring(-3),
        stage: 'requested',
      });
      const awaiting = await createPayment(gateway, {
        merchant: shop,
        customer,
        at: gateway.now(),
        expiresAt: expiring(-5),
      });
      const atTheClock = await createPayment(gateway, {
        merchant: shop,
        customer,
        at: gateway.now(),
        expiresAt: t0,
      });
      // Not due: expires after the clock; confirmed (no longer waiting for the customer).
      await createPayment(gateway, { merchant: shop, customer, at: gateway.now(), expiresAt: expiring(1) });
      const authorised = await createPayment(gateway, {
        merchant: shop,
        customer,
        at: gateway.now(),
        expiresAt: expiring(-10),
        stage: 'authorised',
      });
      const due = await expiredPaymentIds(gateway.database, expiringPaymentStates, t0, 100);
      const mine = due.filter((id) => [requested, awaiting, atTheClock, authorised].includes(id));
      expect(mine).toEqual([awaiting, requested, atTheClock]);
      // The clock is the caller's: a minute earlier, the one expiring at t0 is not due.
      const earlier = await expiredPaymentIds(gateway.database, expiringPaymentStates, expiring(-1), 100);
      expect(earlier).toContain(awaiting);
      expect(earlier).not.toContain(atTheClock);
      // The states are the caller's too.
      const onlyRequested = await expiredPaymentIds(gateway.database, ['merchant_request_verified'], t0, 100);
      expect(onlyRequested).toContain(requested);
      expect(onlyRequested).not.toContain(awaiting);
      expect(await expiredPaymentIds(gateway.database, expiringPaymentStates, t0, 1)).toHaveLength(1);
      expect(await expiredPaymentIds(gateway.database, [], t0, 100)).toEqual([]);
    });
  });
});
