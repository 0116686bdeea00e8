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
