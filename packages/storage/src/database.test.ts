import { afterEach, describe, expect, it } from 'vitest';
import { afterCommit, commitWithLastStatements, type Database, together } from './database.ts';
import { migrate } from './migrate.ts';
import { statementCounts, statementTexts, traceStatementTexts } from './statement-meter.ts';
import { openTestDatabase } from './testing.ts';

describe('storage (both backends, selected by DATABASE_URL)', () => {
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  it('applies migrations once and records them', async () => {
    database = await openTestDatabase('storage');
    const migrations = [{ id: '0001_t.sql', sql: 'CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL)' }];
    expect(await migrate(database, migrations)).toEqual(['0001_t.sql']);
    expect(await migrate(database, migrations)).toEqual([]);
  });

  it('rolls a failed transaction back and keeps bigint exact', async () => {
    database = await openTestDatabase('storage');
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL)');
    await expect(
      database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES ($1, $2)', [1n, 'a']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await database.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 0 });
    const big = 9_007_199_254_740_993n;
    await database.query('INSERT INTO t VALUES ($1, $2)', [big, 'b']);
    const row = (await database.query<{ id: string }>('SELECT id::text AS id FROM t')).rows[0];
    expect(BigInt(row!.id)).toBe(big);
  });

  it('refuses at COMMIT a transaction whose work caught a failed statement’s error: nothing of it was kept (25P02)', async () => {
    database = await openTestDatabase('storage');
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    await database.query('INSERT INTO t VALUES (1)');
    await expect(
      database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES (2)');
        await sql.query('INSERT INTO t VALUES (1)').catch(() => undefined);
        return 'told it was kept';
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    expect((await database.query<{ id: string }>('SELECT id::text AS id FROM t ORDER BY id')).rows).toEqual([
      { id: '1' },
    ]);
    expect(await database.transaction(async (sql) => (await sql.query('SELECT 1 AS one')).rows)).toEqual([
      { one: 1 },
    ]);
  });

  it('afterCommit: runs once the transaction committed, in order, and never for one that rolled back', async () => {
    database = await openTestDatabase('storage');
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    const heard: string[] = [];
    const count = async () =>
      Number((await database!.query<{ n: string }>('SELECT count(*) AS n FROM t')).rows[0]!.n);
    await database.transaction(async (sql) => {
      await sql.query('INSERT INTO t VALUES (1)');
      afterCommit(sql, () => heard.push('first'));
      afterCommit(sql, () => {
        throw new Error('a failing callback stops neither the others nor the transaction');
      });
      afterCommit(sql, () => heard.push('second'));
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual(['first', 'second']);
    expect(await count()).toBe(1);
    // Rolled back by the work's error, by a failed statement, and at COMMIT (25P02): never heard.
    await expect(
      database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES (2)');
        afterCommit(sql, () => heard.push('thrown'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      database.transaction(async (sql) => {
        afterCommit(sql, () => heard.push('failed statement'));
        await sql.query('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(
      database.transaction(async (sql) => {
        afterCommit(sql, () => heard.push('caught'));
        await sql.query('INSERT INTO t VALUES (1)').catch(() => undefined);
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    // With the COMMIT sent with the last statements: heard once it was answered, and not when a statement fails.
    await database.transaction(async (sql) => {
      afterCommit(sql, () => heard.push('pipelined'));
      const inserted = sql.query('INSERT INTO t VALUES (3)');
      commitWithLastStatements(sql, 1);
      await inserted;
    });
    await expect(
      database.transaction(async (sql) => {
        afterCommit(sql, () => heard.push('pipelined refused'));
        const inserted = sql.query('INSERT INTO t VALUES (3)');
        commitWithLastStatements(sql, 1);
        await inserted;
      }),
    ).rejects.toMatchObject({ code: '23505' });
    // Outside a transaction: at once.
    afterCommit(database, () => heard.push('outside'));
    expect(heard).toEqual(['first', 'second', 'pipelined', 'outside']);
    expect(await count()).toBe(2);
    // Too late once the transaction ended: refused, never silently dropped.
    let ended: Parameters<typeof afterCommit>[0] | undefined;
    await database.transaction(async (sql) => {
      ended = sql;
      await sql.query('SELECT 1');
    });
    expect(() => afterCommit(ended!, () => heard.push('late'))).toThrow('Transaction is closed');
    // A work that fails after its COMMIT left with its last statements: on PostgreSQL the COMMIT ran, so what
    // waited for it runs; on PGlite the COMMIT follows the work, which failed, so nothing was kept.
    await expect(
      database.transaction(async (sql) => {
        afterCommit(sql, () => heard.push('committed before the work failed'));
        const inserted = sql.query('INSERT INTO t VALUES (4)');
        commitWithLastStatements(sql, 1);
        await inserted;
        throw new Error('the work failed after its last statements');
      }),
    ).rejects.toThrow('the work failed after its last statements');
    const kept = database.backend === 'postgres';
    expect(await count()).toBe(kept ? 3 : 2);
    expect(heard.includes('committed before the work failed')).toBe(kept);
    expect(heard.includes('late')).toBe(false);
  });

  it('runs statements a transaction starts together in the order started, each with its own answer', async () => {
    database = await openTestDatabase('storage');
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL)');
    const [inserted, counted, missing] = await database.transaction((sql) =>
      Promise.all([
        sql.query<{ id: string }>('INSERT INTO t VALUES (1, $1), (2, $2) RETURNING id::text AS id', [
          'a',
          'b',
        ]),
        sql.query<{ n: number }>('SELECT count(*)::int AS n FROM t'),
        sql.query('SELECT v FROM t WHERE id = $1', [3]),
      ]),
    );
    expect(inserted.rows).toEqual([{ id: '1' }, { id: '2' }]);
    expect(counted.rows).toEqual([{ n: 2 }]);
    expect(missing.rows).toEqual([]);
    await expect(
      database.transaction((sql) =>
        Promise.all([
          sql.query('INSERT INTO t VALUES (3, $1)', ['c']),
          sql.query('INSERT INTO t VALUES (1, $1)', ['d']),
        ]),
      ),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await database.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows).toEqual([
      { n: 2 },
    ]);
  });

  it('together: all steps settle, and the first to fail in the order given is thrown, not the first in time', async () => {
    database = await openTestDatabase('storage');
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    const events: string[] = [];
    // The first step fails only once the second and third have settled: last in time, yet first in order.
    let laterSettled: () => void = () => undefined;
    const later = new Promise<void>((resolve) => {
      laterSettled = resolve;
    });
    const outcome = await database
      .transaction((sql) => {
        const second = sql.query('SELECT 1').then(() => {
          events.push('second failed');
          throw new Error('the second step');
        });
        const third = sql.query('INSERT INTO t VALUES (2)').then(() => events.push('third done'));
        void Promise.allSettled([second, third]).then(() => laterSettled());
        return together([
          sql.query('INSERT INTO t VALUES (1)').then(async () => {
            await later;
            events.push('first failed');
            throw new Error('the first step');
          }),
          second,
          third,
        ]);
      })
      .catch((error: Error) => error.message);
    expect(outcome).toBe('the first step');
    expect(events).toEqual(['second failed', 'third done', 'first failed']);
    expect((await database.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
    expect(
      await database.transaction((sql) =>
        together([sql.query<{ a: number }>('SELECT 1 AS a'), Promise.resolve('b')]),
      ),
    ).toMatchObject([{ rows: [{ a: 1 }] }, 'b']);
  });

  it('holds a work to commitWithLastStatements’s count on both backends: fewer started than said commits nothing', async () => {
    database = await openTestDatabase('storage');
    await database.exec('CREATE TABLE t (id bigint PRIMARY KEY)');
    // Said two, started one (a step that failed before its statement left, or a record that sent none).
    const short = await database
      .transaction(async (sql) => {
        const started = sql.query('INSERT INTO t VALUES (1)');
        commitWithLastStatements(sql, 2);
        await started;
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(short).toBeInstanceOf(Error);
    // As many as said: committed; a statement after the COMMIT left is refused.
    const after = await database
      .transaction(async (sql) => {
        const started = together([
          sql.query('INSERT INTO t VALUES (2)'),
          sql.query('INSERT INTO t VALUES (3)'),
        ]);
        commitWithLastStatements(sql, 2);
        await started;
        return sql.query('INSERT INTO t VALUES (4)').then(
          () => 'sent',
          (error: unknown) => String(error),
        );
      })
      .catch((error: unknown) => `transaction: ${String(error)}`);
    expect(after).toMatch(/a statement after the COMMIT/);
    expect((await database.query<{ id: string }>('SELECT id::text AS id FROM t ORDER BY id')).rows).toEqual([
      { id: '2' },
      { id: '3' },
    ]);
  });

  it('counts each schema’s statements and transactions (what the e2e bench divides by payments)', async () => {
    database = await openTestDatabase('storage');
    const schema = database.schema;
    const before = statementCounts()[schema] ?? { statements: 0, transactions: 0, roundTrips: 0 };
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    await database.transaction(async (sql) => {
      await sql.query('INSERT INTO t VALUES (1)');
      await sql.query('INSERT INTO t VALUES (2)');
    });
    // Started together: one round trip on PostgreSQL, the BEGIN with them (prepared as the pool opened the connection).
    await database.transaction((sql) =>
      Promise.all([sql.query('INSERT INTO t VALUES (3)'), sql.query('INSERT INTO t VALUES (4)')]),
    );
    await database.exec('SELECT 1; SELECT 2');
    const after = statementCounts()[schema];
    expect(after).toEqual({
      statements: before.statements + 6,
      transactions: before.transactions + 2,
      // BEGIN prepared as the pool opened the connection (two), CREATE; BEGIN with the first INSERT, the second,
      // COMMIT; one pipeline, COMMIT; the script.
      roundTrips: before.roundTrips + (database.backend === 'postgres' ? 9 : 0),
    });
  });

  it('keeps each statement’s text with its count only while texts are traced (mpay bench e2e --statements)', async () => {
    database = await openTestDatabase('storage');
    const schema = database.schema;
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    expect(statementTexts()[schema]).toBeUndefined();
    traceStatementTexts(true);
    try {
      await database.query('INSERT INTO t VALUES ($1)', [1n]);
      await database.transaction(async (sql) => {
        await sql.query('INSERT INTO t VALUES ($1)', [2n]);
        await sql.query('SELECT count(*) FROM t');
      });
      expect(statementTexts()[schema]).toEqual({
        'INSERT INTO t VALUES ($1)': 2,
        'SELECT count(*) FROM t': 1,
      });
    } finally {
      traceStatementTexts(false);
    }
    await database.query('SELECT count(*) FROM t');
    expect(statementTexts()[schema]).toBeUndefined();
  });
});
