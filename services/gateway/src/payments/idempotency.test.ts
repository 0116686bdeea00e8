import { commitWithLastStatements, type Database, type Sql, testBackend } from '@mpay/storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { openGatewayDatabase } from '../test-helpers.ts';
import {
  claimIdempotencyKey,
  forgetIdempotencyKeys,
  type IdempotencyClaim,
  requestHashOf,
  type StoredAnswer,
  storeIdempotentAnswer,
} from './idempotency.ts';

const t0 = new Date('2026-03-01T10:00:00.000Z');

function claimOf(key: string, body = '{"amount":"12.50"}', scope = 'shop@merchant.xbank'): IdempotencyClaim {
  return { scope, key, requestHash: requestHashOf('POST', '/payments', body) };
}

/** What the routes do: claim, work, store the answer, all in one transaction. */
async function answerOnce(
  database: Database,
  claim: IdempotencyClaim,
  work: (sql: Sql) => Promise<StoredAnswer>,
  now: Date = t0,
): Promise<StoredAnswer> {
  return database.transaction(async (sql) => {
    const stored = await claimIdempotencyKey(sql, claim, now);
    if (stored !== undefined) return stored;
    const answer = await work(sql);
    await storeIdempotentAnswer(sql, claim, answer);
    return answer;
  });
}

async function keysStored(database: Database): Promise<string[]> {
  const { rows } = await database.query<{ key: string }>('SELECT key FROM idempotency_keys ORDER BY key');
  return rows.map((row) => row.key);
}

describe('Idempotency-Key claims', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openGatewayDatabase();
  });
  afterAll(async () => {
    await database.close();
  });
  beforeEach(async () => {
    await database.query('DELETE FROM idempotency_keys');
  });

  it('hashes method, path and body, each of which changes the hash', () => {
    const hash = requestHashOf('POST', '/payments', '{}');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(requestHashOf('POST', '/payments', '{}')).toBe(hash);
    expect(requestHashOf('PUT', '/payments', '{}')).not.toBe(hash);
    expect(requestHashOf('POST', '/payments/x', '{}')).not.toBe(hash);
    expect(requestHashOf('POST', '/payments', '{ }')).not.toBe(hash);
  });

  it('claims a new key, then replays the stored answer for the same request', async () => {
    const claim = claimOf('order-1');
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { statusCode: 201, body: { paymentId: 'p-1', amount: '12.50', nested: [1, { a: null }] } };
    };
    const first = await answerOnce(database, claim, work);
    const second = await answerOnce(database, claim, work);
    expect(runs).toBe(1);
    expect(second).toEqual(first);
    expect(second).toEqual({
      statusCode: 201,
      body: { paymentId: 'p-1', amount: '12.50', nested: [1, { a: null }] },
    });
  });

  it('refuses the same key for another request with IDEMPOTENCY_KEY_REUSED, and keeps the first answer', async () => {
    await answerOnce(database, claimOf('order-1'), async () => ({ statusCode: 201, body: { n: 1 } }));
    const other = claimOf('order-1', '{"amount":"99.00"}');
    const refused = await rejectedCodeOf(
      answerOnce(database, other, async () => ({
        statusCode: 201,
        body: { n: 2 },
      })),
    );
    expect(refused).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(
      await answerOnce(database, claimOf('order-1'), async () => ({ statusCode: 500, body: {} })),
    ).toEqual({
      statusCode: 201,
      body: { n: 1 },
    });
  });

  it('scopes keys to the caller: the same key of another caller is another claim', async () => {
    await answerOnce(database, claimOf('order-1'), async () => ({ statusCode: 201, body: { by: 'shop' } }));
    const otherCaller = claimOf('order-1', '{"amount":"99.00"}', 'kiosk@merchant.ybank');
    expect(
      await answerOnce(database, otherCaller, async () => ({ statusCode: 201, body: { by: 'kiosk' } })),
    ).toEqual({ statusCode: 201, body: { by: 'kiosk' } });
  });

  it('leaves no key behind when the claiming transaction rolls back, so a retry does the work', async () => {
    const claim = claimOf('order-1');
    const failed = await answerOnce(database, claim, async () => {
      throw new Error('the work failed');
    }).catch((error: Error) => error.message);
    expect(failed).toBe('the work failed');
    expect(await keysStored(database)).toEqual([]);
    let runs = 0;
    const retried = await answerOnce(database, claim, async () => {
      runs += 1;
      return { statusCode: 201, body: { retried: true } };
    });
    expect(runs).toBe(1);
    expect(retried).toEqual({ statusCode: 201, body: { retried: true } });
  });

  it('refuses to store an answer for a key this transaction did not claim', async () => {
    const refused = await database
      .transaction((sql) =>
        storeIdempotentAnswer(sql, claimOf('never-claimed'), { statusCode: 200, body: {} }),
      )
      .catch((error: Error) => error.message);
    expect(refused).toMatch(/assertion failed/);
    expect(await keysStored(database)).toEqual([]);
  });

  it('fails its own statement for an unclaimed key, so a COMMIT sent with it does not run', async () => {
    const refused = await database
      .transaction(async (sql) => {
        // A key claimed in this transaction, then an answer stored for another: the claim must not commit.
        await claimIdempotencyKey(sql, claimOf('claimed-here'), t0);
        const stored = storeIdempotentAnswer(sql, claimOf('never-claimed'), { statusCode: 200, body: {} });
        commitWithLastStatements(sql, 1);
        await stored;
      })
      .catch((error: Error) => error.message);
    expect(refused).toMatch(/assertion failed/);
    expect(await keysStored(database)).toEqual([]);
  });

  it('answers IDEMPOTENCY_REQUEST_IN_PROGRESS for a key claimed without an answer (a row of the old code)', async () => {
    await database.query(
      'INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)',
      ['shop@merchant.xbank', 'order-1', claimOf('order-1').requestHash, t0.toISOString()],
    );
    const answer = await rejectedCodeOf(
      database.transaction((sql) => claimIdempotencyKey(sql, claimOf('order-1'), t0)),
    );
    expect(answer).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
  });

  it('lets only one of two concurrent transactions with the same key do the work; the other reads its answer', async () => {
    const claim = claimOf('order-1');
    let runs = 0;
    const firstClaimed = deferred<number | undefined>();
    const twinBlocked = deferred<void>();
    const first = answerOnce(database, claim, async (sql) => {
      runs += 1;
      firstClaimed.resolve(await backendPid(sql));
      // On PostgreSQL, hold the claim until the twin is blocked on it, so that the two transactions
      // really overlap; PGlite runs one transaction at a time, so there the twin only queues.
      await twinBlocked.promise;
      return { statusCode: 201, body: { winner: 'first' } };
    });
    const holder = await firstClaimed.promise;
    const second = answerOnce(database, claim, async () => {
      runs += 1;
      return { statusCode: 201, body: { winner: 'second' } };
    });
    if (holder === undefined) twinBlocked.resolve();
    else await waitUntilBlockedBy(database, holder).then(twinBlocked.resolve);
    const answers = await Promise.all([first, second]);
    expect(runs).toBe(1);
    expect(answers).toEqual([
      { statusCode: 201, body: { winner: 'first' } },
      { statusCode: 201, body: { winner: 'first' } },
    ]);
  });

  it.runIf(testBackend() === 'postgres')(
    'lets the waiting twin do the work when the first transaction rolls back (PostgreSQL)',
    async () => {
      const claim = claimOf('order-1');
      const firstClaimed = deferred<number | undefined>();
      const twinBlocked = deferred<void>();
      const first = answerOnce(database, claim, async (sql) => {
        firstClaimed.resolve(await backendPid(sql));
        await twinBlocked.promise;
        throw new Error('the first attempt crashed');
      }).catch((error: Error) => error.message);
      const holder = await firstClaimed.promise;
      const second = answerOnce(database, claim, async () => ({ statusCode: 201, body: { by: 'second' } }));
      if (holder === undefined) throw new Error('assertion failed: PostgreSQL has backend pids');
      await waitUntilBlockedBy(database, holder);
      twinBlocked.resolve();
      expect(await first).toBe('the first attempt crashed');
      expect(await second).toEqual({ statusCode: 201, body: { by: 'second' } });
      expect(await keysStored(database)).toEqual(['order-1']);
    },
  );

  it('forgets keys older than the kept period at the clock passed in, and only those', async () => {
    const keptSeconds = 3_600;
    const at = (secondsAgo: number) => new Date(t0.getTime() - secondsAgo * 1000);
    for (const [key, secondsAgo] of [
      ['old', keptSeconds + 1],
      ['boundary', keptSeconds],
      ['young', 10],
    ] as const) {
      await answerOnce(database, claimOf(key), async () => ({ statusCode: 201, body: {} }), at(secondsAgo));
    }
    expect(await forgetIdempotencyKeys(database, t0, keptSeconds)).toBe(1);
    expect(await keysStored(database)).toEqual(['boundary', 'young']);
    // The clock is the caller's: an hour later the boundary key goes too, the young one stays.
    expect(await forgetIdempotencyKeys(database, new Date(t0.getTime() + 1_000), keptSeconds)).toBe(1);
    expect(await keysStored(database)).toEqual(['young']);
    // A forgotten key is a new claim: the work runs again.
    let runs = 0;
    await answerOnce(database, claimOf('old'), async () => {
      runs += 1;
      return { statusCode: 201, body: {} };
    });
    expect(runs).toBe(1);
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** The server process of this transaction's connection (PostgreSQL); undefined on PGlite. */
async function backendPid(sql: Sql): Promise<number | undefined> {
  if (testBackend() !== 'postgres') return undefined;
  const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]?.pid;
}

/** Waits, polling the server, until another session is blocked by the transaction of `holder`. */
async function waitUntilBlockedBy(database: Database, holder: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await database.query<{ waiting: string }>(
      'SELECT count(*)::text AS waiting FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [holder],
    );
    if (Number(rows[0]?.waiting ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error('the twin never waited for the claimed key');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
