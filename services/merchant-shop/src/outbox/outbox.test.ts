import { startOutboxLeases } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestShop, type TestShop } from '../test-helpers.ts';
import { claimDue, enqueue, markFailed } from './outbox.ts';

let test: TestShop;
beforeAll(async () => {
  test = await openTestShop({ instanceName: 'shop' });
});
afterAll(async () => {
  await test?.close();
});

async function rowNow(id: string) {
  const { rows } = await test.database.query<{ lease_owner: string | null; due: boolean }>(
    'SELECT lease_owner::text AS lease_owner, next_attempt_at <= $2 AS due FROM outbox WHERE id = $1',
    [id, test.shop.context.clock().toISOString()],
  );
  return rows[0];
}

async function attemptsOf(id: string) {
  const { rows } = await test.database.query<{
    attempts: number;
    last_error: string | null;
    next_attempt_at: string;
    abandoned: boolean;
  }>(
    `SELECT attempts::int AS attempts, last_error, next_attempt_at::text AS next_attempt_at,
       abandoned_at IS NOT NULL AS abandoned FROM outbox WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`outbox row ${id} is gone`);
  return row;
}

describe("the shop's outbox leases (a restarted instance takes back what its killed start held)", () => {
  it('registers a named start as the owner of what it claims', async () => {
    const owner = test.shop.context.outboxLeaseOwner;
    expect(owner).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await test.database.query<{ boot_id: string }>(
      "SELECT boot_id::text AS boot_id FROM outbox_instances WHERE name = 'shop'",
    );
    expect(rows).toEqual([{ boot_id: owner }]);
  });

  it('hands back at once the rows a killed start queued for itself or claimed; not another instance’s', async () => {
    const now = test.shop.context.clock();
    const lease = { forMs: test.shop.context.limits.outboxLeaseMs };
    const killed = await startOutboxLeases(test.database, 'shop', now);
    const other = await startOutboxLeases(test.database, 'shop-2', now);
    // The killed start's checkout queued a payment request for itself, and its round claimed a hook's row.
    const owned = await enqueue(test.database, 'payment_request', 'order-killed', now, {
      ...lease,
      owner: killed.bootId,
    });
    const claimedId = await enqueue(test.database, 'trade_claimed', 'notification-killed', now);
    const claimed = await claimDue({ ...test.shop.context, outboxLeaseOwner: killed.bootId }, now);
    expect(claimed.map((row) => row.id)).toEqual([claimedId]);
    const othersRow = await enqueue(test.database, 'payment_request', 'order-other', now, {
      ...lease,
      owner: other.bootId,
    });
    for (const id of [owned, claimedId, othersRow]) expect((await rowNow(id))?.due).toBe(false);
    expect((await rowNow(owned))?.lease_owner).toBe(killed.bootId);
    expect((await rowNow(claimedId))?.lease_owner).toBe(killed.bootId);

    const restarted = await startOutboxLeases(test.database, 'shop', now);
    expect(restarted.released).toBe(2);
    expect(await rowNow(owned)).toEqual({ lease_owner: null, due: true });
    expect(await rowNow(claimedId)).toEqual({ lease_owner: null, due: true });
    expect(await rowNow(othersRow)).toEqual({ lease_owner: other.bootId, due: false });

    // A failed attempt gives the row back with its owner cleared, only when the owner is the one failing.
    const again = await claimDue({ ...test.shop.context, outboxLeaseOwner: restarted.bootId }, now);
    expect(again.map((row) => row.id).sort()).toEqual([owned, claimedId].sort());
    const [first] = again;
    if (first === undefined) throw new Error('claimed');
    const held = await attemptsOf(first.id);
    await markFailed({ ...test.shop.context, outboxLeaseOwner: other.bootId }, first, 'not mine', now);
    expect((await rowNow(first.id))?.lease_owner).toBe(restarted.bootId);
    // Nor is the attempt counted, the row rescheduled or abandoned by a start that does not hold it.
    expect(await attemptsOf(first.id)).toEqual(held);
    await markFailed({ ...test.shop.context, outboxLeaseOwner: other.bootId }, first, 'not mine', now, 1);
    expect(await attemptsOf(first.id)).toEqual(held);
    await markFailed({ ...test.shop.context, outboxLeaseOwner: restarted.bootId }, first, 'mine', now);
    expect((await rowNow(first.id))?.lease_owner).toBeNull();
    expect(await attemptsOf(first.id)).toMatchObject({ attempts: held.attempts + 1, last_error: 'mine' });
    // Leave nothing for the other tests' rounds: these rows name orders and notifications that do not exist.
    await test.database.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [
      [owned, claimedId, othersRow],
    ]);
  });

  it('refuses a start under a name that is not a plain lowercase name (CONFIGURATION_INVALID)', async () => {
    await expect(test.restart({ instanceName: 'Shop One' })).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    });
  });
});
