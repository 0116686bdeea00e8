import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gate } from '../../../../test/support/gate.ts';
import { untilOneWaitsOn } from '../../../../test/support/lock-waits.ts';
import { openTestShop, type TestShop } from '../test-helpers.ts';
import { insertNotification } from './store.ts';

let test: TestShop;
beforeAll(async () => {
  test = await openTestShop();
});
afterAll(async () => {
  await test?.close();
});

function notificationOf(subject: string) {
  const jws = `test.${randomUUID()}.jws`;
  return {
    jws,
    jwsHash: randomUUID().replaceAll('-', ''),
    event: 'trade.claimed' as const,
    subject,
    status: 'claimed',
    object: { id: subject },
  };
}

describe('the bound of notifications per subject', () => {
  // Two transactions at once need two connections: PostgreSQL only (PGlite runs one transaction at a time).
  it.runIf(process.env.DATABASE_URL !== undefined)(
    "counts the other one's notification still uncommitted: the second waits for it and is over the bound",
    async () => {
      const subject = randomUUID();
      const now = new Date();
      const committing = gate();
      let firstStored: (pid: number) => void = () => undefined;
      const stored = new Promise<number>((done) => {
        firstStored = done;
      });
      const held = test.database.transaction(async (sql) => {
        const id = await insertNotification(sql, notificationOf(subject), now, 1);
        const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        firstStored(rows[0]!.pid);
        await committing.opened;
        return id;
      });
      let next: Promise<string | undefined> | undefined;
      try {
        // The first one's failure ends the test instead of leaving it waiting.
        const holder = await Promise.race([stored, held.then(() => -1)]);
        next = test.database.transaction((sql) => insertNotification(sql, notificationOf(subject), now, 1));
        // The second waits on the first before the first commits (else the test proves nothing).
        await untilOneWaitsOn(test.database, holder, 'the second notification to wait on the first');
        committing.open();
        expect(await held).toBeDefined();
        expect(await next).toBeUndefined();
      } finally {
        // Whatever failed, the first transaction ends (its connection and lock are not left held), then the second.
        committing.open();
        await held.catch(() => undefined);
        await next?.catch(() => undefined);
      }
    },
  );

  it('keeps other subjects apart: each has its own bound', async () => {
    const now = new Date();
    const [one, other] = [randomUUID(), randomUUID()];
    expect(await insertNotification(test.database, notificationOf(one), now, 1)).toBeDefined();
    expect(await insertNotification(test.database, notificationOf(one), now, 1)).toBeUndefined();
    expect(await insertNotification(test.database, notificationOf(other), now, 1)).toBeDefined();
  });
});
