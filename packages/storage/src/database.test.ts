import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
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

  it('counts each schema’s statements and transactions (what the e2e bench divides by payments)', async () => {
    database = await openTestDatabase('storage');
    const schema = database.schema;
    const before = statementCounts()[schema] ?? { statements: 0, transactions: 0 };
    await database.query('CREATE TABLE t (id bigint PRIMARY KEY)');
    await database.transaction(async (sql) => {
      await sql.query('INSERT INTO t VALUES (1)');
      await sql.query('INSERT INTO t VALUES (2)');
    });
    await database.exec('SELECT 1; SELECT 2');
    const after = statementCounts()[schema];
    expect(after).toEqual({ statements: before.statements + 4, transactions: before.transactions + 1 });
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
