import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, requestDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import type { Database } from './database.ts';
import { openDatabase } from './open.ts';
import { dropPostgresSchema } from './postgres.ts';
import { openTestDatabase } from './testing.ts';

// One database for the file (an embedded one takes seconds to start); each test its own channels.
let database: Database;
beforeAll(async () => {
  database = await openTestDatabase('notify');
});
afterAll(async () => {
  await database?.close();
});

/** Collects what a channel hears, and waits for it with a named deadline. */
function collector() {
  const heard: string[] = [];
  return {
    heard,
    handler: (payload: string) => heard.push(payload),
    until: (count: number) =>
      waitFor(() => heard.length >= count, {
        deadlineMs: requestDeadlineMs,
        what: `${count} notification(s) (heard: ${heard.join(', ')})`,
      }),
  };
}

describe('notifications between the processes of one database (LISTEN/NOTIFY)', () => {
  it('delivers a notification sent inside a transaction at its commit, and never one rolled back', async () => {
    await database.exec('CREATE TABLE events (id text PRIMARY KEY)');
    const events = collector();
    await database.listen('party_events', events.handler);
    await database.transaction(async (sql) => {
      await sql.query("INSERT INTO events VALUES ('e1')");
      await database.notify('party_events', 'e1', sql);
      // Not yet: the transaction has not committed.
      expect(events.heard).toEqual([]);
    });
    await events.until(1);
    await expect(
      database.transaction(async (sql) => {
        await database.notify('party_events', 'rolled-back', sql);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await database.notify('party_events', 'e2');
    await events.until(2);
    expect(events.heard).toEqual(['e1', 'e2']);
  });

  it('with commitWithoutFlush, commits that transaction alone without waiting for its WAL flush', async () => {
    const quick = collector();
    await database.listen('quick_events', quick.handler);
    const setting = async (sql: Pick<Database, 'query'>) =>
      (await sql.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]
        ?.synchronous_commit;
    let inside: string | undefined;
    let after: string | undefined;
    await database.transaction(async (sql) => {
      // Whatever the server's default: on in this transaction until the notice's statement.
      await sql.query('SET LOCAL synchronous_commit = on');
      await database.notify('quick_events', 'q1', sql, { commitWithoutFlush: true });
      inside = await setting(sql);
    });
    await quick.until(1);
    expect(inside).toBe('off');
    // For that transaction only: the next one sees the session's setting, off only if the server says so.
    await database.transaction(async (sql) => {
      await sql.query('SET LOCAL synchronous_commit = on');
      await database.notify('quick_events', 'q2', sql);
      after = await setting(sql);
    });
    expect(after).toBe('on');
  });

  it('keeps channels apart, stops a listener on request and refuses payloads that are too large', async () => {
    const one = collector();
    const other = collector();
    const stopOne = await database.listen('one', one.handler);
    await database.listen('other', other.handler);
    await database.notify('one', 'a');
    await database.notify('other', 'b');
    await one.until(1);
    await other.until(1);
    await stopOne();
    await database.notify('one', 'not heard');
    await database.notify('other', 'c');
    await other.until(2);
    expect(one.heard).toEqual(['a']);
    expect(other.heard).toEqual(['b', 'c']);
    await expect(database.notify('one', 'x'.repeat(8_000))).rejects.toThrow(/at most 7900 bytes/);
    await expect(database.listen('Bad-Name', () => undefined)).rejects.toThrow(
      /invalid notification channel/,
    );
  });

  it.skipIf(!process.env.DATABASE_URL)(
    'PostgreSQL: reaches another handle on the same schema, not another schema, and listens again after the connection is lost',
    async () => {
      const url = process.env.DATABASE_URL as string;
      const a = database;
      // A second process's handle on the same schema (its own pool and listener).
      const b = await openDatabase({ url, schema: a.schema, poolSizeMax: 2 });
      const stranger = await openDatabase({ url, schema: `${a.schema}_x`, poolSizeMax: 2 });
      const heard = collector();
      const strangerHeard = collector();
      let resumed = 0;
      await b.listen('pushes', heard.handler, { onResume: () => (resumed += 1) });
      await stranger.listen('pushes', strangerHeard.handler);
      await a.notify('pushes', 'p1');
      await heard.until(1);
      // The server ends b's listening connection (a restart, a network cut): b connects and LISTENs again.
      await a.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query LIKE 'LISTEN ${a.schema}__pushes%' AND pid <> pg_backend_pid()`,
      );
      await waitFor(() => resumed > 0, {
        deadlineMs: backgroundWorkDeadlineMs,
        what: 'the listener to resume',
      });
      await a.notify('pushes', 'p2');
      await heard.until(2);
      expect(heard.heard).toEqual(['p1', 'p2']);
      expect(strangerHeard.heard).toEqual([]);
      await b.close();
      await stranger.close();
      await dropPostgresSchema(url, `${a.schema}_x`);
    },
  );
});
