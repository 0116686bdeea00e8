import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { ensureSoftHsmToken } from '@mpay/hsm';
import { sharedTestHsmDirectory, tokenLabelsWithPins } from '@mpay/hsm/test-support';
import { dropPostgresSchema, postgresSchemasStartingWith, testBackend } from '@mpay/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { thisProcessAsOwner } from './run-token.ts';
import { platformSchemas, startPlatform } from './start.ts';

const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
const schemaPrefix = `start_${randomBytes(4).toString('hex')}_`;

afterAll(async () => {
  if (databaseUrl !== undefined)
    for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
});

/** A server on a free loopback port, and that port. */
async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('assertion failed: a TCP address');
  return { server, port: address.port };
}

const closed = (server: Server) => new Promise<void>((done) => server.close(() => done()));

describe(`startPlatform failing half-way (${testBackend()})`, () => {
  it('closes what it started (the services listen no more) and deletes its run token; it swept the tokens of ended runs first', async () => {
    // A run token whose process ended without closing its platform (SIGKILL, a test runner stopped).
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const abandonedLabel = `mpay-test-ended-${randomBytes(4).toString('hex')}`;
    const owner = thisProcessAsOwner();
    if (owner === undefined) throw new Error('assertion failed: /proc tells this process apart');
    await ensureSoftHsmToken({
      directory: sharedTestHsmDirectory(),
      tokenLabel: abandonedLabel,
      owner: { pid: Number(ended.stdout), host: owner.host },
    });
    expect(tokenLabelsWithPins(sharedTestHsmDirectory())).toContain(abandonedLabel);
    // The shop listens near the end, after custody has its token: its port is taken.
    const taken = await listening();
    // Custody's port, free now: it must be free again once the failed start has closed custody.
    const custodyPort = await listening();
    await closed(custodyPort.server);
    const custodyTokenLabel = `mpay-test-start-${randomBytes(4).toString('hex')}`;
    try {
      const failure = await within(
        startPlatform({
          databaseUrl,
          schemaPrefix,
          custodyTokenLabel,
          ports: { custody: custodyPort.port, merchantShop: taken.port },
        }).then(
          async (platform) => {
            await platform.close();
            return undefined;
          },
          (error: unknown) => error as NodeJS.ErrnoException,
        ),
        { deadlineMs: platformStartDeadlineMs, what: 'startPlatform to fail on the taken port' },
      );
      expect(failure?.code).toBe('EADDRINUSE');
      expect(tokenLabelsWithPins(sharedTestHsmDirectory())).not.toContain(custodyTokenLabel);
      expect(tokenLabelsWithPins(sharedTestHsmDirectory())).not.toContain(abandonedLabel);
      // Custody had listened (its port was given): closed, its port can be taken again.
      const again = createServer();
      await new Promise<void>((done, fail) => {
        again.once('error', fail);
        again.listen(custodyPort.port, '127.0.0.1', done);
      });
      await closed(again);
      // The schemas stay (a data folder's would too): only what runs is stopped.
      if (databaseUrl !== undefined)
        expect((await postgresSchemasStartingWith(databaseUrl, schemaPrefix)).length).toBeGreaterThan(0);
    } finally {
      await closed(taken.server);
    }
  });
});
