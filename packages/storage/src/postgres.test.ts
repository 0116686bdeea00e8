import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gate } from '../../../test/support/gate.ts';
import type { Database } from './database.ts';
import { dropPostgresSchema, openPostgres } from './postgres.ts';

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
