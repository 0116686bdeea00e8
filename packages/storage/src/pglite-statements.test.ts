import type { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
import { newInMemoryPglite } from './pglite-engine.ts';
import { PgliteStatements, preparedStatementsMax } from './pglite-statements.ts';
import { openTestDatabase } from './testing.ts';

describe('parameters and rows, as every service sends them (both backends, selected by DATABASE_URL)', () => {
  let database: Database;
  beforeEach(async () => {
    database = await openTestDatabase('statements');
    await database.query(`CREATE TABLE kinds (
      id bigint PRIMARY KEY, label text, at timestamptz, tags text[], blob bytea, doc jsonb, flag boolean)`);
  });
  afterEach(() => database.close());

  it('reads each kind of parameter back as PostgreSQL stored it', async () => {
    const at = new Date('2026-12-04T23:40:01.123Z');
    const blob = new Uint8Array([0, 1, 254, 255]);
    await database.query('INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      9_007_199_254_740_993n,
      'O\'Brien "quoted" \\ and , {braces}',
      at,
      ['a', 'b,c', 'd"e', null],
      blob,
      { amount: '12.30', nested: [1, 2] },
      true,
    ]);
    await database.query('INSERT INTO kinds (id) VALUES ($1)', [2n]);
    const { rows } = await database.query<Record<string, unknown>>(
      // The array's fourth element, a null, is asked apart: PGlite's array parser reads it as "NULL".
      `SELECT id::text AS id, label, at, tags[1:3] AS tags, blob, doc, flag, tags[4] IS NULL AS fourth_null
       FROM kinds ORDER BY id DESC`,
    );
    expect(rows[0]).toEqual({
      id: '9007199254740993',
      label: 'O\'Brien "quoted" \\ and , {braces}',
      at,
      tags: ['a', 'b,c', 'd"e'],
      blob: expect.any(Uint8Array),
      doc: { amount: '12.30', nested: [1, 2] },
      flag: true,
      fourth_null: true,
    });
    expect([...((rows[0]?.blob ?? []) as Uint8Array)]).toEqual([...blob]);
    expect(rows[1]).toEqual({
      id: '2',
      label: null,
      at: null,
      tags: null,
      blob: null,
      doc: null,
      flag: null,
      fourth_null: true,
    });
    // An array parameter compared with ANY, a count of affected rows, no rows from a write without RETURNING.
    const matched = await database.query<{ id: string }>(
      'SELECT id::text AS id FROM kinds WHERE id = ANY($1::bigint[]) ORDER BY id',
      [[2n, 3n].map(String)],
    );
    expect(matched.rows).toEqual([{ id: '2' }]);
    const updated = await database.query('UPDATE kinds SET flag = $2 WHERE id = ANY($1::bigint[])', [
      ['2', '9007199254740993'],
      false,
    ]);
    expect([updated.rowCount, updated.rows]).toEqual([2, []]);
  });

  it('throws the engine’s error with its SQLSTATE, and the statement runs again once fixed', async () => {
    const insert = 'INSERT INTO kinds (id, label) VALUES ($1, $2)';
    await database.query(insert, [1n, 'first']);
    await expect(database.query(insert, [1n, 'again'])).rejects.toMatchObject({ code: '23505' });
    await expect(database.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    // A refused statement inside a transaction rolls it back whole.
    await expect(
      database.transaction(async (sql) => {
        await sql.query(insert, [5n, 'kept?']);
        await sql.query(insert, [1n, 'duplicate']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    const { rows } = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM kinds');
    expect(rows).toEqual([{ n: 1 }]);
    await database.query(insert, [2n, 'second']);
    expect((await database.query<{ n: number }>('SELECT count(*)::int AS n FROM kinds')).rows).toEqual([
      { n: 2 },
    ]);
  });
});

describe('PgliteStatements (one call into the engine, each text prepared once)', () => {
  let pglite: PGlite;
  let statements: PgliteStatements;
  beforeEach(async () => {
    pglite = await newInMemoryPglite();
    statements = new PgliteStatements(pglite);
    await pglite.exec('CREATE TABLE t (id int PRIMARY KEY, v text)');
  });
  afterEach(() => pglite.close());

  it('prepares a text once and reuses it; a text that fails to parse is not kept', async () => {
    for (let id = 0; id < 5; id += 1)
      await statements.query('INSERT INTO t VALUES ($1, $2)', [id, `v${id}`], false);
    expect(statements.preparedCount).toBe(1);
    const { rows } = await statements.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], false);
    expect(rows).toEqual([{ n: 5 }]);
    expect(statements.preparedCount).toBe(2);
    await expect(statements.query('SELEC nothing', [], false)).rejects.toMatchObject({ code: '42601' });
    expect(statements.preparedCount).toBe(2);
  });

  it('prepares a text again when its table changed under the plan (cached plan must not change result type)', async () => {
    const all = 'SELECT * FROM t ORDER BY id';
    await statements.query('INSERT INTO t VALUES (1, $1)', ['a'], false);
    expect((await statements.query(all, [], false)).rows).toEqual([{ id: 1, v: 'a' }]);
    await pglite.exec('ALTER TABLE t ADD COLUMN w text');
    expect((await statements.query(all, [], false)).rows).toEqual([{ id: 1, v: 'a', w: null }]);
  });

  it('inside a transaction, throws the invalidated plan’s own error (the transaction is aborted) and prepares the text again after', async () => {
    const all = 'SELECT * FROM t ORDER BY id';
    await statements.query('INSERT INTO t VALUES (1, $1)', ['a'], false);
    await statements.query(all, [], false);
    await pglite.exec('ALTER TABLE t ADD COLUMN w text');
    await expect(
      statements.transaction(async () => {
        await statements.query(all, [], true);
      }),
    ).rejects.toMatchObject({ code: '0A000', query: all });
    expect((await statements.query(all, [], false)).rows).toEqual([{ id: 1, v: 'a', w: null }]);
    // The error names the statement, never its parameters.
    const refused = await statements
      .query('INSERT INTO t VALUES (1, $1)', ['secret'], false)
      .catch((error) => error);
    expect(refused).toMatchObject({ code: '23505', query: 'INSERT INTO t VALUES (1, $1)' });
    expect(refused).not.toHaveProperty('params');
  });

  it('keeps at most preparedStatementsMax texts; the rest still run, parsed each time', async () => {
    for (let index = 0; index < preparedStatementsMax + 20; index += 1) {
      const { rows } = await statements.query<{ n: number }>(`SELECT $1::int + ${index} AS n`, [1], false);
      expect(rows).toEqual([{ n: index + 1 }]);
    }
    expect(statements.preparedCount).toBe(preparedStatementsMax);
  });

  it('waits for a transaction under way before a statement outside it', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inserted: () => void = () => undefined;
    const insertedOnce = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const transaction = statements.transaction(async () => {
      await statements.query('INSERT INTO t VALUES (1, $1)', ['inside'], true);
      inserted();
      await held;
      await statements.query('UPDATE t SET v = $1 WHERE id = 1', ['committed'], true);
    });
    await insertedOnce;
    const outside = statements.query<{ v: string }>('SELECT v FROM t WHERE id = 1', [], false);
    release();
    await transaction;
    // Run after the commit, never between the transaction's two statements.
    expect((await outside).rows).toEqual([{ v: 'committed' }]);
  });

  it('commits a transaction’s statements and scripts together; a failed one rolls all of it back and throws its own error', async () => {
    const count = async () =>
      (await statements.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], false)).rows[0]?.n;
    const answer = await statements.transaction(async () => {
      await statements.query('INSERT INTO t VALUES (1, $1)', ['a'], true);
      await statements.exec("INSERT INTO t VALUES (2, 'b'); INSERT INTO t VALUES (3, 'c')", true);
      return 'done';
    });
    expect(answer).toBe('done');
    expect(await count()).toBe(3);
    const failure = new Error('work failed');
    await expect(
      statements.transaction(async () => {
        await statements.query('DELETE FROM t WHERE id = $1', [1], true);
        await statements.exec("INSERT INTO t VALUES (4, 'd')", true);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await count()).toBe(3);
    // A statement refused by the engine aborts the transaction: nothing of it stays, and the session is usable after.
    await expect(
      statements.transaction(async () => {
        await statements.query('INSERT INTO t VALUES (5, $1)', ['e'], true);
        await statements.query('INSERT INTO t VALUES (1, $1)', ['duplicate'], true);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await count()).toBe(3);
    await expect(statements.exec('SELEC nothing', false)).rejects.toMatchObject({ code: '42601' });
    expect((await statements.query('SELECT v FROM t WHERE id = $1', [3], false)).rows).toEqual([{ v: 'c' }]);
  });

  it('refuses at COMMIT a transaction whose failed statement the work caught: nothing of it was kept (25P02)', async () => {
    await statements.query('INSERT INTO t VALUES (1, $1)', ['a'], false);
    await expect(
      statements.transaction(async () => {
        await statements.query('INSERT INTO t VALUES (2, $1)', ['b'], true);
        await statements.query('INSERT INTO t VALUES (1, $1)', ['duplicate'], true).catch(() => undefined);
        return 'ok';
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    expect((await statements.query('SELECT id FROM t ORDER BY id', [], false)).rows).toEqual([{ id: 1 }]);
    // The session is usable after.
    expect(await statements.transaction(async () => 'next')).toBe('next');
  });

  it('counts the rows a statement affected, as PGlite’s own query() does', async () => {
    const affected = async (text: string, params: unknown[] = []) =>
      (await statements.query(text, params, false)).affectedRows;
    expect(await affected("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")).toBe(3);
    expect(await affected('UPDATE t SET v = $1 WHERE id > 1', ['z'])).toBe(2);
    expect(await affected('DELETE FROM t WHERE id = $1', [3])).toBe(1);
    expect(await affected('SELECT * FROM t')).toBe(0);
    // The same statements through PGlite's own path count the same.
    for (const text of ["INSERT INTO t VALUES (7, 'g')", 'UPDATE t SET v = v'])
      expect(await affected(text), text).toBe((await pglite.query(text.replace('7', '8'))).affectedRows);
  });

  it('refuses a statement once the database is closed', async () => {
    const other = await newInMemoryPglite();
    const closing = new PgliteStatements(other);
    await other.close();
    await expect(closing.query('SELECT 1', [], false)).rejects.toThrow(/closed/);
  });
});
