import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  platformStartDeadlineMs,
  processExitDeadlineMs,
  requestDeadlineMs,
  serviceStartDeadlineMs,
  testTimeoutMs,
  waitFor,
  within,
} from '../../../test/support/deadlines.ts';
import { type Customer, PaymentDriver, type PaymentDriverLimits } from '../commands/chaos-payments.ts';
import { ProcessPlatform } from './processes.ts';
import { platformSchemas } from './start.ts';

/**
 * A service that does not start again must end every wait on the platform (`whenUp`, a payment
 * step, a device's event stream) with its reason, never leave it waiting for ever: a CI run of
 * `mpay chaos` once hung for 55 minutes, its cleanup waiting on a device that waited for the
 * platform to come back. A service is made unable to start again by holding its port.
 */
const databaseUrl = process.env.DATABASE_URL || undefined;
const schemaPrefix = databaseUrl === undefined ? undefined : `restart_${randomBytes(4).toString('hex')}_`;

let folder: string;
let platform: ProcessPlatform | undefined;
let driver: PaymentDriver;
const driverLimits: PaymentDriverLimits = {
  stepDeadlineMs: requestDeadlineMs,
  requestTimeoutMs: requestDeadlineMs,
  retryAfterMaxMs: 1_000,
  evidenceDeadlineMs: requestDeadlineMs,
  restartsMax: 8,
  platformDownMaxMs: serviceStartDeadlineMs + requestDeadlineMs,
};

function listenOn(port: number): Promise<Server> {
  const server = createServer();
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done(server));
  });
}

const closeServer = (server: Server) => new Promise<void>((done) => server.close(() => done()));

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-restart-'));
  platform = await within(
    ProcessPlatform.start({
      dataDir: folder,
      databaseUrl,
      schemaPrefix,
      limits: { serviceStartDeadlineMs },
    }),
    { deadlineMs: platformStartDeadlineMs, what: 'every service process to be ready' },
  );
  driver = await PaymentDriver.open(folder, platform, driverLimits);
  await driver.addDemoCustomer();
}, testTimeoutMs + platformStartDeadlineMs);

afterAll(async () => {
  await platform?.close();
  if (databaseUrl !== undefined && schemaPrefix !== undefined)
    for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  if (folder) await rm(folder, { recursive: true, force: true });
}, testTimeoutMs);

/** Whether `promise` is still pending now (it has had every chance to settle that is already due). */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const still = Symbol('pending');
  const outcome = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise((done) => setImmediate(() => done(still))),
  ]);
  return outcome === still;
}

describe('ProcessPlatform when a service does not start again', () => {
  it(
    'takes a kill during a start for no failure: the waits go on, and the next start ends them',
    async () => {
      const up = platform as ProcessPlatform;
      await up.whenUp();
      await up.kill('witness');
      const waiting = up.whenUp();
      const restarting = up.restart('witness');
      await waitFor(() => up.pidOf('witness') !== undefined, {
        deadlineMs: serviceStartDeadlineMs,
        what: 'the witness to be forked again',
      });
      await up.kill('witness');
      await expect(restarting).rejects.toThrow(/witness exited \(.*\) before it was ready/);
      expect(await pending(waiting)).toBe(true);
      expect(await pending(up.whenUp())).toBe(true);
      await up.restart('witness');
      await expect(waiting).resolves.toBeUndefined();
      expect(up.isUp).toBe(true);
    },
    testTimeoutMs + 2 * serviceStartDeadlineMs,
  );

  it(
    'ends a device waiting for it and a step after platformDownMaxMs; a failed start fails every wait with its reason',
    async () => {
      const up = platform as ProcessPlatform;
      await up.whenUp();
      driver.startDevices();
      const device = (driver.customers[0] as Customer).device;
      const gatewayPort = up.layout.ports.gateway;

      // Opened while the gateway answers (it asks for the FSP's keys): a driver that waits for 1 s at most.
      const impatient = await PaymentDriver.open(folder, up, { ...driverLimits, platformDownMaxMs: 1_000 });
      // The device's event stream ends with the gateway; it then waits for the platform, which nothing restarts.
      await up.kill('gateway');
      await waitFor(() => device.waitingForPlatform, {
        deadlineMs: requestDeadlineMs,
        what: "the customer's device to wait for the platform",
      });
      await expect(
        impatient.untilDone('a step while the gateway is down', async () => false),
      ).rejects.toThrow(/the platform stayed down for more than 1 s/);
      await within(driver.stopDevices(), {
        deadlineMs: processExitDeadlineMs,
        what: "the customer's device to stop while it waits for the platform",
      });

      // Waiting before the restart: the failed start must reach this wait too.
      const waiting = up.whenUp();
      const step = driver.untilDone('a step that needs the whole platform', async () => false);
      const blocker = await listenOn(gatewayPort);
      try {
        await expect(up.restart('gateway')).rejects.toThrow(/gateway exited \(.*\) before it was ready/);
        await expect(waiting).rejects.toThrow(/gateway exited/);
        await expect(up.whenUp()).rejects.toThrow(/gateway exited/);
        await expect(step).rejects.toThrow(/the platform will not come back \(.*gateway exited/);
      } finally {
        await closeServer(blocker);
      }

      await up.restart('gateway');
      expect(up.isUp).toBe(true);
      await expect(up.whenUp()).resolves.toBeUndefined();
      await expect(
        driver.untilDone('a step that is done at once', async () => true),
      ).resolves.toBeUndefined();

      await up.close();
      await expect(up.whenUp()).rejects.toThrow('the platform is closed');
    },
    testTimeoutMs + 2 * serviceStartDeadlineMs,
  );
});
