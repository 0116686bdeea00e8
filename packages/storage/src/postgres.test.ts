import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import { gate } from '../../../test/support/gate.ts';
import { commitWithLastStatements, type Database, type Sql } from './database.ts';
import { connectionLostWarningCode, dropPostgresSchema, openPostgres } from './postgres.ts';

const url = process.env.DATABASE_URL;

/**
 * PostgreSQL's own limits on waiting (the suite's PostgreSQL pass: DATABASE_URL).
 * A request must never wait behind a held lock for as long as its client does.
 */
describe.skipIf(url === undefined || url === '')('PostgreSQL lock and statement timeouts', () => {
  const schema = `t_timeouts_${randomBytes(5).toString('hex')}`;
  let database: Database;
  beforeAll(async () => {
    database = await openPostgres({ url: url!, schema, lockTimeoutMs: 300, statementTimeoutMs: 2_000 });
    await database.exec('CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)');
    await database.query('INSERT INTO accounts VALUES (1, 0)');
  });
  afterAll(async () => {
    await database?.close();
    await dropPostgresSchema(url!, schema);
  });

  it('gives up on a lock held by another transaction after lock_timeout (55P03), and the holder goes on', async () => {
    const released = gate();
    const locked = gate();
    const holder = database.transaction(async (sql) => {
      await sql.query('SELECT * FROM accounts WHERE id = 1 FOR UPDATE');
      locked.open();
      await released.opened;
      await sql.query('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
    });
    await locked.opened;
    const waiter = await database.query('UPDATE accounts SET balance = balance + 100 WHERE id = 1').then(
      () => 'updated',
      (error: { code?: string }) => error.code,
    );
    released.open();
    await holder;
    expect(waiter).toBe('55P03');
    expect((await database.query<{ balance: string }>('SELECT balance FROM accounts')).rows[0]?.balance).toBe(
      '1',
    );
  });

  it('cancels a statement that runs past statement_timeout (57014)', async () => {
    const code = await database.query('SELECT pg_sleep(5)').then(
      () => 'finished',
      (error: { code?: string }) => error.code,
    );
    expect(code).toBe('57014');
  });

  it('refuses a timeout out of range', async () => {
    await expect(openPostgres({ url: url!, schema, lockTimeoutMs: 0 })).rejects.toThrow(RangeError);
  });
});

describe.skipIf(url === undefined || url === '')('PostgreSQL statements prepared once per connection', () => {
  const schema = `t_prepared_${randomBytes(5).toString('hex')}`;
  let database: Database;
  beforeAll(async () => {
    // One connection, so a statement prepared on it is met again.
    database = await openPostgres({ url: url!, schema, poolSizeMax: 1 });
    await database.exec('CREATE TABLE t (id int PRIMARY KEY, v text)');
  });
  afterAll(async () => {
    await database?.close();
    await dropPostgresSchema(url!, schema);
  });

  const prepared = (sql: Pick<Database, 'query'>) =>
    sql.query<{ statement: string }>(
      "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'mpay\\_%' ORDER BY statement",
    );

  it('prepares a text under one name on the connection and runs it again without parsing it', async () => {
    for (let id = 0; id < 3; id += 1) await database.query('INSERT INTO t VALUES ($1, $2)', [id, `v${id}`]);
    const statements = (await prepared(database)).rows.map((row) => row.statement);
    expect(statements.filter((text) => text === 'INSERT INTO t VALUES ($1, $2)')).toHaveLength(1);
    await database.transaction(async (sql) => {
      await sql.query('INSERT INTO t VALUES ($1, $2)', [3, 'in a transaction']);
    });
    expect((await database.query<{ n: string }>('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe('4');
  });

  it('a table changed under a prepared text: run again unnamed outside a transaction; inside, the error aborts it and the next use works', async () => {
    const all = 'SELECT * FROM t WHERE id = $1';
    expect((await database.query(all, [1])).rows).toEqual([{ id: 1, v: 'v1' }]);
    await database.exec('ALTER TABLE t ADD COLUMN w text');
    expect((await database.query(all, [1])).rows).toEqual([{ id: 1, v: 'v1', w: null }]);
    const other = 'SELECT * FROM t WHERE id = $1 AND true';
    await database.query(other, [2]);
    await database.exec('ALTER TABLE t ADD COLUMN x text');
    await expect(
      database.transaction(async (sql) => {
        await sql.query(other, [2]);
      }),
    ).rejects.toMatchObject({ code: '0A000' });
    expect((await database.query(other, [2])).rows).toEqual([{ id: 2, v: 'v2', w: null, x: null }]);
  });
});

/**
 * A proxy between the pool and the server that counts the exchanges the
 * client starts: each Sync (extended protocol) and each Query (simple
 * protocol) is one round trip, whatever else travels with it.
 */
async function roundTripCounter(
  target: URL,
): Promise<{ url: string; roundTrips(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // The startup message has no type byte; every message after it has one, then its length.
      if (!started && pending.length >= 4) {
        const length = pending.readUInt32BE(0);
        if (pending.length < length) return;
        pending = pending.subarray(length);
        started = true;
      }
      while (started && pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 1 + length) break;
        const type = String.fromCharCode(pending[0]!);
        if (type === 'S' || type === 'Q') count += 1;
        pending = pending.subarray(1 + length);
      }
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    roundTrips: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(url === undefined || url === '')(
  'PostgreSQL transactions: BEGIN travels with the first statement',
  () => {
    const schema = `t_begin_${randomBytes(5).toString('hex')}`;
    let proxy: Awaited<ReturnType<typeof roundTripCounter>>;
    let database: Database;
    beforeAll(async () => {
      proxy = await roundTripCounter(new URL(url!));
      // One connection: BEGIN is prepared on it as the pool opens it, and every transaction carries it.
      database = await openPostgres({ url: proxy.url, schema, poolSizeMax: 1 });
      await database.exec('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
    });
    afterAll(async () => {
      await database?.close();
      await proxy?.close();
      await dropPostgresSchema(url!, schema);
    });

    const ids = async () =>
      (await database.query<{ id: number }>('SELECT id FROM t ORDER BY id')).rows.map((row) => row.id);

    it('opens with the first statement: a transaction of two statements is three round trips, its COMMIT included', async () => {
      await database.transaction((sql) => sql.query('INSERT INTO t VALUES (0, $1)', ['first']));
      const before = proxy.roundTrips();
      await database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES (1, $1)', ['a']);
        await sql.query('UPDATE t SET v = $1 WHERE id = 1', ['b']);
      });
      expect(proxy.roundTrips() - before).toBe(3);
      expect((await database.query<{ v: string }>('SELECT v FROM t WHERE id = 1')).rows).toEqual([
        { v: 'b' },
      ]);
    });

    it('the opening statement is inside the transaction: a later failure takes it back too', async () => {
      await expect(
        database.transaction(async (sql) => {
          await sql.query('INSERT INTO t VALUES (2, $1)', ['kept?']);
          await sql.query('INSERT INTO t VALUES (1, $1)', ['duplicate']);
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect(await ids()).toEqual([0, 1]);
    });

    it('an opening statement that fails aborts only its transaction; the connection serves the next', async () => {
      await expect(
        database.transaction((sql) => sql.query('INSERT INTO t VALUES (1, $1)', ['duplicate'])),
      ).rejects.toMatchObject({ code: '23505' });
      await database.transaction((sql) => sql.query('INSERT INTO t VALUES (3, $1)', ['after']));
      expect(await ids()).toEqual([0, 1, 3]);
    });

    it('statements started at once leave in one pipeline with the BEGIN, each with its own answer', async () => {
      const before = proxy.roundTrips();
      const [inserted, counted, read] = await database.transaction((sql) =>
        Promise.all([
          sql.query<{ id: number }>('INSERT INTO t VALUES (4, $1), (5, $2) RETURNING id', ['x', 'y']),
          // Run after the insert, in the same transaction: it sees its rows.
          sql.query<{ n: string }>('SELECT count(*) AS n FROM t WHERE id >= $1', [4]),
          sql.query<{ v: string }>('SELECT v FROM t WHERE id = $1', [5]),
        ]),
      );
      // One pipeline and the COMMIT.
      expect(proxy.roundTrips() - before).toBe(2);
      expect(inserted.rows).toEqual([{ id: 4 }, { id: 5 }]);
      expect(inserted.rowCount).toBe(2);
      expect(counted.rows).toEqual([{ n: '2' }]);
      expect(read.rows).toEqual([{ v: 'y' }]);
      const idle = proxy.roundTrips();
      expect(await database.transaction(async () => 'nothing')).toBe('nothing');
      expect(proxy.roundTrips()).toBe(idle);
      expect(await ids()).toEqual([0, 1, 3, 4, 5]);
    });

    it('a statement that fails in a pipeline: the ones before it answered, the ones after never ran, nothing kept', async () => {
      let outcomes: PromiseSettledResult<unknown>[] = [];
      const committed = await database
        .transaction(async (sql) => {
          outcomes = await Promise.allSettled([
            sql.query('INSERT INTO t VALUES (8, $1)', ['before']),
            sql.query('INSERT INTO t VALUES (1, $1)', ['duplicate']),
            sql.query('INSERT INTO t VALUES (9, $1)', ['after']),
          ]);
        })
        .catch((error: unknown) => error);
      // The work swallowed the errors; COMMIT of the aborted transaction is refused.
      expect(committed).toMatchObject({ code: '25P02' });
      const [before, failed, after] = outcomes;
      expect(before).toMatchObject({ status: 'fulfilled', value: { rowCount: 1 } });
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: '23505' } });
      expect(after).toMatchObject({ status: 'rejected', reason: { code: '23505' } });
      expect(String((after as PromiseRejectedResult).reason.message)).toMatch(/^not run: /);
      expect(await ids()).toEqual([0, 1, 3, 4, 5]);
    });

    it('a text new on the connection twice in one pipeline is parsed once; bytes cross as bytes', async () => {
      await database.exec('CREATE TABLE b (id int PRIMARY KEY, data bytea NOT NULL)');
      const text = 'INSERT INTO b VALUES ($1, $2) RETURNING length(data) AS n';
      const answers = await database.transaction((sql) =>
        Promise.all([
          sql.query<{ n: number }>(text, [1, new Uint8Array([0, 255, 7])]),
          sql.query<{ n: number }>(text, [2, Buffer.from('abcd')]),
        ]),
      );
      expect(answers.map((answer) => answer.rows)).toEqual([[{ n: 3 }], [{ n: 4 }]]);
      const stored = await database.query<{ data: Buffer }>('SELECT data FROM b WHERE id = 1');
      expect([...stored.rows[0]!.data]).toEqual([0, 255, 7]);
    });

    it('a statement the work started and did not await runs in the transaction; none runs after it ends', async () => {
      let kept: Sql | undefined;
      await database.transaction(async (sql) => {
        kept = sql;
        void sql.query('INSERT INTO t VALUES (10, $1)', ['not awaited']);
      });
      expect(await ids()).toEqual([0, 1, 3, 4, 5, 10]);
      await expect(kept!.query('INSERT INTO t VALUES (11, $1)', ['late'])).rejects.toThrow(
        'Transaction is closed',
      );
      expect(await ids()).toEqual([0, 1, 3, 4, 5, 10]);
    });

    it('commitWithLastStatements: the COMMIT leaves with the last statements, one round trip for all', async () => {
      const before = proxy.roundTrips();
      const [inserted] = await database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES (20, $1)', ['first']);
        const last = Promise.all([
          sql.query<{ id: number }>('INSERT INTO t VALUES (21, $1) RETURNING id', ['last']),
          sql.query('UPDATE t SET v = $1 WHERE id = 20', ['changed']),
        ]);
        commitWithLastStatements(sql);
        return last;
      });
      // The first statement with its BEGIN, then the last two with the COMMIT.
      expect(proxy.roundTrips() - before).toBe(2);
      expect(inserted.rows).toEqual([{ id: 21 }]);
      expect((await database.query<{ v: string }>('SELECT v FROM t WHERE id = 20')).rows).toEqual([
        { v: 'changed' },
      ]);
      await database.exec('DELETE FROM t WHERE id IN (20, 21)');
    });

    it('commitWithLastStatements: a last statement that fails skips the COMMIT; the transaction rolls back, its error thrown', async () => {
      const before = await ids();
      await expect(
        database.transaction(async (sql) => {
          await sql.query('INSERT INTO t VALUES (22, $1)', ['kept?']);
          const last = Promise.all([
            sql.query('INSERT INTO t VALUES (23, $1)', ['kept?']),
            sql.query('INSERT INTO t VALUES (1, $1)', ['duplicate']),
          ]);
          commitWithLastStatements(sql);
          return last;
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect(await ids()).toEqual(before);
      // The connection serves the next transaction.
      await database.transaction((sql) => sql.query('INSERT INTO t VALUES (24, $1)', ['next']));
      expect(await ids()).toEqual([...before, 24]);
      await database.exec('DELETE FROM t WHERE id = 24');
    });

    it('commitWithLastStatements with a count: a step whose statement never left commits nothing', async () => {
      const before = await ids();
      const neverSent = new Error('a parameter that could not be built');
      await expect(
        database.transaction(async (sql) => {
          await sql.query('INSERT INTO t VALUES (27, $1)', ['kept?']);
          const last = Promise.all([
            sql.query('INSERT INTO t VALUES (28, $1)', ['kept?']),
            // The second step fails before its statement is sent.
            Promise.reject(neverSent),
          ]);
          commitWithLastStatements(sql, 2);
          return last;
        }),
      ).rejects.toBe(neverSent);
      expect(await ids()).toEqual(before);
      // Counted right, the same work commits.
      await database.transaction(async (sql) => {
        const last = Promise.all([
          sql.query('INSERT INTO t VALUES (29, $1)', ['kept']),
          sql.query('INSERT INTO t VALUES (30, $1)', ['kept']),
        ]);
        commitWithLastStatements(sql, 2);
        return last;
      });
      expect(await ids()).toEqual([...before, 29, 30]);
      await database.exec('DELETE FROM t WHERE id IN (29, 30)');
    });

    it('commitWithLastStatements: a statement after it is refused, and a work that fails after its COMMIT ran says it committed', async () => {
      const before = await ids();
      await expect(
        database.transaction(async (sql) => {
          const last = sql.query('INSERT INTO t VALUES (25, $1)', ['committed']);
          commitWithLastStatements(sql);
          await last;
          await sql.query('INSERT INTO t VALUES (26, $1)', ['after the commit']);
        }),
      ).rejects.toThrow(/the work failed after its COMMIT ran \(committed\).*a statement after the COMMIT/);
      expect(await ids()).toEqual([...before, 25].sort((a, b) => a - b));
      await database.exec('DELETE FROM t WHERE id = 25');
      // A script is refused too: it would run outside the transaction.
      await expect(
        database.transaction(async (sql) => {
          const last = sql.query('INSERT INTO t VALUES (28, $1)', ['committed']);
          commitWithLastStatements(sql);
          await last;
          await sql.exec('DELETE FROM t WHERE id = 28');
        }),
      ).rejects.toThrow(/committed.*a script after the COMMIT/);
      expect(await ids()).toEqual([...before, 28].sort((a, b) => a - b));
      await database.exec('DELETE FROM t WHERE id = 28');
      // With nothing started since the last pipeline left, it does nothing: the COMMIT follows the work.
      await database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES (27, $1)', ['alone']);
        commitWithLastStatements(sql);
        await sql.query('DELETE FROM t WHERE id = 27');
      });
      expect(await ids()).toEqual(before);
      // Outside a transaction: nothing.
      commitWithLastStatements(database);
    });

    it('a connection whose prepared BEGIN is gone: the transaction that finds out fails whole, the next prepares it again', async () => {
      await database.transaction((sql) => sql.query('DEALLOCATE mpay_begin'));
      await expect(
        database.transaction((sql) => sql.query('INSERT INTO t VALUES (20, $1)', ['never'])),
      ).rejects.toMatchObject({ code: undefined, cause: { code: '26000' } });
      // Its statement never ran (nothing outside a transaction). The cause is the BEGIN's, so the error
      // carries no code of a stale plan of its own: its text stays prepared, not sent unnamed from now on.
      await database.transaction((sql) => sql.query('INSERT INTO t VALUES (21, $1)', ['again']));
      const before = proxy.roundTrips();
      await database.transaction((sql) => sql.query('INSERT INTO t VALUES (22, $1)', ['carried']));
      // The BEGIN with the INSERT, then the COMMIT: prepared again by the transaction before.
      expect(proxy.roundTrips() - before).toBe(2);
      expect((await ids()).filter((id) => id >= 20)).toEqual([21, 22]);
      await database.query('DELETE FROM t WHERE id >= 20');
    });

    it('a script first in a transaction opens it on its own', async () => {
      await expect(
        database.transaction(async (sql) => {
          await sql.exec('INSERT INTO t VALUES (6, 6::text); INSERT INTO t VALUES (7, 7::text)');
          await sql.query('INSERT INTO t VALUES (0, $1)', ['duplicate']);
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect(await ids()).toEqual([0, 1, 3, 4, 5, 10]);
    });
  },
);

/**
 * A connection the server ends (a restart, a failover, an administrator's
 * pg_terminate_backend) fails what runs on it, never the process: node-postgres
 * emits an 'error' event that nothing would otherwise listen to.
 */
describe.skipIf(url === undefined || url === '')('PostgreSQL connections the server ends', () => {
  const schema = `t_broken_${randomBytes(5).toString('hex')}`;
  let database: Database;
  let administrator: Database;
  beforeAll(async () => {
    database = await openPostgres({ url: url!, schema, poolSizeMax: 2 });
    administrator = await openPostgres({ url: url!, schema, poolSizeMax: 1 });
    await database.exec('CREATE TABLE t (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await database?.close();
    await administrator?.close();
    await dropPostgresSchema(url!, schema);
  });

  const terminate = async (pid: number) => {
    await administrator.query('SELECT pg_terminate_backend($1)', [pid]);
    // Ended on the server's side: the connection's error reaches the driver as its socket closes.
    await waitFor(
      async () =>
        (await administrator.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length === 0,
      { deadlineMs: requestDeadlineMs, what: `backend ${pid} to end` },
    );
  };

  it('a transaction whose connection is ended fails; the connection is not pooled again; the next works', async () => {
    const lostBefore = database.connections?.lost;
    const failed = await database
      .transaction(async (sql) => {
        const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await sql.query('INSERT INTO t VALUES (1)');
        await terminate(rows[0]!.pid);
        await sql.query('INSERT INTO t VALUES (2)');
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failed).toBeInstanceOf(Error);
    await database.transaction((sql) => sql.query('INSERT INTO t VALUES (3)'));
    expect((await database.query<{ id: number }>('SELECT id FROM t ORDER BY id')).rows).toEqual([{ id: 3 }]);
    expect(database.connections?.lost).toBe((lostBefore ?? Number.NaN) + 1);
  });

  it('a statement outside a transaction whose connection is ended fails, and the connection is counted lost once', async () => {
    const lostBefore = database.connections?.lost ?? Number.NaN;
    const sleeping = database.query('SELECT pg_sleep(5)').then(
      () => 'answered',
      (error: { code?: string }) => error.code ?? 'failed',
    );
    let pid: number | undefined;
    await waitFor(
      async () => {
        pid = (
          await administrator.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'",
          )
        ).rows[0]?.pid;
        return pid !== undefined;
      },
      { deadlineMs: requestDeadlineMs, what: 'the statement to run' },
    );
    await terminate(pid!);
    expect(await sleeping).toBe('57P01');
    await waitFor(() => database.connections?.lost === lostBefore + 1, {
      deadlineMs: requestDeadlineMs,
      what: 'the connection to be counted lost',
    });
    // The statement after it works on another connection, and the count stays at one for that connection.
    expect((await database.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(database.connections?.lost).toBe(lostBefore + 1);
  });

  it('an idle pooled connection that is ended is dropped, and said; a transaction after it works', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === connectionLostWarningCode) warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const lostBefore = database.connections?.lost ?? Number.NaN;
    const { rows } = await database.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await terminate(rows[0]!.pid);
    // The driver may not have read the server's goodbye yet: a transaction handed that connection meets it
    // (57P01, nothing of it ran) and the connection is dropped; the process lives on either way.
    const first = await database
      .transaction((sql) => sql.query('INSERT INTO t VALUES (4)'))
      .then(
        () => 'committed',
        (error: { code?: string; cause?: { code?: string } }) => error.cause?.code ?? error.code,
      );
    expect(['committed', '57P01']).toContain(first);
    await database.transaction((sql) => sql.query('INSERT INTO t VALUES (5)'));
    const ids = (await database.query<{ id: number }>('SELECT id FROM t ORDER BY id')).rows.map(
      ({ id }) => id,
    );
    expect(ids).toEqual(first === 'committed' ? [3, 4, 5] : [3, 5]);
    // Dropped while idle (the transaction then got a new one): said once, naming the schema.
    if (first === 'committed') {
      await waitFor(() => warnings.length > 0, { deadlineMs: requestDeadlineMs, what: 'the warning' });
      expect(warnings).toEqual([expect.stringContaining(`schema ${schema} was lost while idle`)]);
    }
    // Counted once, whichever way it was found: dropped while idle, or met by the transaction.
    expect(database.connections?.lost).toBe(lostBefore + 1);
    process.off('warning', onWarning);
  });
});
