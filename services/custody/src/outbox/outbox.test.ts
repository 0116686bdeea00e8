import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deleteSoftHsmToken, ensureSoftHsmToken } from '@mpay/hsm';
import { moduleHoldersOf, sharedTestHsmDirectory } from '@mpay/hsm/test-support';
import { openTestDatabase, startOutboxLeases } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { createCustodyService } from '../service.ts';
import { custodyStartOptions } from '../start-options.test-helper.ts';
import { queueEffect, runOutboxRound } from './outbox.ts';

/** An FSP that holds every request until released: a delivery under way when custody is killed. */
async function heldFsp() {
  const held: ServerResponse<IncomingMessage>[] = [];
  const server = createServer((request, response) => {
    request.resume();
    held.push(response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    async close() {
      for (const response of held) response.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      server.close();
      await once(server, 'close');
    },
  };
}

describe("custody's outbox leases (a restarted instance takes back what its killed start was sending)", () => {
  it('stamps a named start on what it claims; its next start hands that row back at once', async () => {
    const token = {
      directory: sharedTestHsmDirectory(),
      tokenLabel: `custody-lease-${crypto.randomUUID().slice(0, 8)}`,
    };
    const hsm = await ensureSoftHsmToken(token);
    const database = await openTestDatabase('custody');
    const fsp = await heldFsp();
    const service = await createCustodyService({
      ...(await custodyStartOptions(fsp.url)),
      backgroundIntervalMs: 3_600_000,
      database,
      hsm,
      instanceName: 'custody',
    });
    try {
      const owner = service.context.outboxLeaseOwner;
      expect(owner).toMatch(/^[0-9a-f-]{36}$/);
      const now = service.context.clock();
      await queueEffect(database, 'fsp_registration', 'party-1', { binding: 'b', displayName: 'd' }, now);
      // Its round claims the registration and waits for the FSP's answer: killed there, it would hold it.
      const round = service.runBackgroundOnce();
      await waitFor(() => fsp.held.length === 1, { deadlineMs: requestDeadlineMs, what: 'the FSP asked' });
      const read = () =>
        database.query<{ lease_owner: string | null; due: boolean }>(
          'SELECT lease_owner::text AS lease_owner, next_attempt_at <= $1 AS due FROM outbox',
          [service.context.clock().toISOString()],
        );
      expect((await read()).rows).toEqual([{ lease_owner: owner, due: false }]);
      // The next start of `custody` (its registration, as createCustodyService does it) gives it back.
      const next = await startOutboxLeases(database, 'custody', service.context.clock());
      expect(next.released).toBe(1);
      expect((await read()).rows).toEqual([{ lease_owner: null, due: true }]);
      // The next start claims it and asks the FSP in turn (held too).
      const nextRound = runOutboxRound({ ...service.context, outboxLeaseOwner: next.bootId });
      await waitFor(() => fsp.held.length === 2, {
        deadlineMs: requestDeadlineMs,
        what: 'the FSP asked again',
      });
      expect((await read()).rows).toEqual([{ lease_owner: next.bootId, due: false }]);
      // The FSP answers the first start's request at last, with a failure: that start no longer holds
      // the row, so its failed attempt is not counted and the next start's lease stands.
      fsp.held
        .shift()
        ?.writeHead(503, { 'content-type': 'application/json' })
        .end('{"error":{"code":"SERVICE_UNAVAILABLE"}}');
      await round;
      expect((await read()).rows).toEqual([{ lease_owner: next.bootId, due: false }]);
      const attempts = () =>
        database.query<{ attempts: number; last_error: string | null }>(
          'SELECT attempts::int AS attempts, last_error FROM outbox',
        );
      expect((await attempts()).rows).toEqual([{ attempts: 0, last_error: null }]);
      await fsp.close();
      await nextRound;
    } finally {
      await service.close();
      await database.close();
      await deleteSoftHsmToken(token);
    }
  });

  it('refuses a bad instance name (CONFIGURATION_INVALID) and leaves its HSM closed, so a start after it opens it', async () => {
    const token = {
      directory: sharedTestHsmDirectory(),
      tokenLabel: `custody-name-${crypto.randomUUID().slice(0, 8)}`,
    };
    const hsm = await ensureSoftHsmToken(token);
    const database = await openTestDatabase('custody');
    try {
      const options = { ...(await custodyStartOptions()), backgroundIntervalMs: 3_600_000 };
      const holders = moduleHoldersOf(hsm.modulePath);
      await expect(
        createCustodyService({ ...options, database, hsm, instanceName: 'Custody One' }),
      ).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
      // The PKCS#11 library is one per process: a failed start that kept its session would hold it.
      expect(moduleHoldersOf(hsm.modulePath)).toBe(holders);
      const service = await createCustodyService({ ...options, database, hsm });
      expect(service.context.outboxLeaseOwner).toBeUndefined();
      await service.close();
    } finally {
      await database.close();
      await deleteSoftHsmToken(token);
    }
  });
});
