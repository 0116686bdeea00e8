import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaymentDriver } from '../../cli/src/commands/chaos-payments.ts';
import {
  backgroundWorkDeadlineMs,
  paymentSettledDeadlineMs,
  platformStartDeadlineMs,
  requestDeadlineMs,
  serviceStartDeadlineMs,
  testTimeoutMs,
  waitFor,
} from '../support/deadlines.ts';
import {
  freePlatformPorts,
  type PlatformDatabase,
  PlatformProcess,
  platformDatabase,
  runMpay,
} from './platform-process.ts';

/**
 * The whole platform (`mpay up`: gateway, banks xbank and ybank, merchant shop, log, witness in one
 * process) is killed with SIGKILL at random moments while a stream of payments runs against it over
 * HTTP, and started again on the same data folder and ports. The merchant retries its request with
 * the same Idempotency-Key and the same bytes, the customer's wallet resends its signed confirmation,
 * until each gets a final answer. Then every payment must be final at the gateway, every completed
 * one must have moved its amount exactly once from the customer (xbank) to the merchant (ybank) and
 * nothing else may have moved, `mpay audit` must pass, and every completed payment's evidence must
 * verify under the log's and the witness's keys. The payments and the checks are `mpay chaos`'s
 * (cli/src/commands/chaos-payments.ts), which kills one service process at a time instead.
 */
const serverUrl = process.env.DATABASE_URL || undefined;
/**
 * Three kills of the whole platform. Each costs a full restart (up to a minute on a busy 2-core
 * machine); `mpay chaos` (docs/reliability.md) runs the long version, one service at a time.
 */
const killsPlanned = 3;
/** Payments started at least, and at most (more only while kills are still due). */
const paymentsMin = 12;
const paymentsMax = 30;
/** Payments in flight at once. */
const lanes = 3;
/**
 * Customers paying, round robin: the demo customer and customers this test enrols at xbank. The gateway
 * lets a customer receive 10 payment requests a minute by default (the test runs `mpay up` as an
 * operator would, without a <data>/gateway-limits.json), so one customer alone would turn most of the
 * run into waiting out 429s.
 */
const customerCount = 4;
const openingMinor = 1_000_00n;
/** Longest pause of the crash after a step was answered: the kill lands inside the next requests. */
const killJitterMaxMs = 400;
/**
 * vitest's backstop for this one test, which waits for the platform to start eleven times, each wait
 * with its own named deadline: the suite's backstop plus one start deadline per kill, so that a slow
 * but progressing run on a loaded machine is decided by the named deadlines, never by vitest.
 */
const runBackstopMs = testTimeoutMs + killsPlanned * platformStartDeadlineMs;

let folder: string;
let database: PlatformDatabase | undefined;
let platform: PlatformProcess;
let driver: PaymentDriver;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-platform-crash-'));
  if (serverUrl !== undefined) database = await platformDatabase(serverUrl);
  platform = new PlatformProcess(folder, await freePlatformPorts(), database?.url);
  await platform.start();
  driver = await PaymentDriver.open(folder, platform, {
    stepDeadlineMs: paymentSettledDeadlineMs,
    requestTimeoutMs: requestDeadlineMs,
    retryAfterMaxMs: 61_000,
    evidenceDeadlineMs: backgroundWorkDeadlineMs,
    restartsMax: killsPlanned + 1,
    platformDownMaxMs: platformStartDeadlineMs + requestDeadlineMs,
  });
  await driver.addDemoCustomer();
  for (let index = 1; index < customerCount; index += 1)
    await driver.enrolCustomer(`crash.payer${index}@person.xbank`, `crash-phone-${index}`, openingMinor);
});

afterAll(async () => {
  await driver?.stopDevices();
  await platform?.stop();
  await database?.drop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('the whole platform survives SIGKILL in the middle of payments', () => {
  it(
    'ends every payment final, moves each completed amount exactly once, and proves it in the log',
    async () => {
      const began = Date.now();
      const before = await driver.balances();
      driver.startDevices();
      let kills = 0;
      let lanesDone = false;

      let started = 0;
      const more = () => started < paymentsMin || (kills < killsPlanned && started < paymentsMax);
      async function lane(): Promise<void> {
        while (more()) {
          const index = started;
          started += 1;
          const customer = driver.customers[index % driver.customers.length]!;
          await driver.pay(
            driver.newPayment(customer, BigInt(100 + ((index * 7919) % 200)), 'crash-payment'),
          );
        }
      }

      async function crashes(): Promise<void> {
        while (kills < killsPlanned && !lanesDone) {
          const target = driver.progress + randomInt(1, 5);
          await waitFor(() => driver.progress >= target || lanesDone, {
            deadlineMs: paymentSettledDeadlineMs,
            what: `payments to make progress before kill ${kills + 1}`,
            intervalMs: 20,
            detail: () => driver.openPayments(),
          });
          if (lanesDone) return;
          // Not a wait for anything: the moment of the crash, somewhere inside the requests now in flight.
          await new Promise((done) => setTimeout(done, randomInt(killJitterMaxMs + 1)));
          await platform.kill();
          kills += 1;
          await platform.start();
        }
      }

      const lanesRun = Promise.all(Array.from({ length: lanes }, lane)).finally(() => {
        lanesDone = true;
      });
      await Promise.all([lanesRun, crashes()]);
      await driver.stopDevices();
      expect(kills).toBe(killsPlanned);

      await driver.settle();
      const problems = await driver.checkMoney(before);
      const audit = await runMpay(['audit', '--data', folder], platform.env, serviceStartDeadlineMs);
      if (audit.code !== 0) problems.push(`mpay audit exited ${audit.code}:\n${audit.output}`);
      const evidence = await driver.checkEvidence();
      problems.push(...evidence.problems);

      const tally = driver.tally();
      const completed = tally.byStatus.completed ?? 0;
      const otherText =
        Object.entries(tally.byStatus)
          .filter(([status]) => status !== 'completed')
          .map(([status, count]) => `${count} ${status}`)
          .join(', ') || '0 other';
      const backend = database ? `PostgreSQL, ${database.description}` : 'PGlite';
      console.log(
        `platform crash test (${backend}): ${kills} kills, ${platform.starts} starts, ${tally.started} payments: ` +
          `${completed} completed, ${otherText}; retried ${tally.merchantRetries} merchant requests and ` +
          `${tally.confirmationRetries} confirmations; ${driver.violations.length} violations; ${Math.round((Date.now() - began) / 1000)} s`,
      );
      // The kills must have cut requests short, or this test proves nothing.
      expect(tally.merchantRetries + tally.confirmationRetries).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(completed).toBeGreaterThan(0);
      expect(evidence.verified).toBe(completed);
    },
    runBackstopMs,
  );

  it('reloads <data>/gateway-limits.json on SIGHUP without a restart, and keeps its limits when the file is wrong', async () => {
    await platform.whenUp();
    const starts = platform.starts;
    const file = join(folder, 'gateway-limits.json');
    await writeFile(file, '{"paymentRequestsPerCustomerMax": 30, "bodyLimitBytes": 2048}');
    await platform.signalAndAwait(
      'SIGHUP',
      'gateway limits reloaded from gateway-limits.json: changed paymentRequestsPerCustomerMax; bodyLimitBytes only at the next start',
    );
    await writeFile(file, '{"paymentRequestsPerCustomerMax": -1}');
    await platform.signalAndAwait(
      'SIGHUP',
      'gateway limits reload refused, the old limits stay in use: CONFIGURATION_INVALID',
    );
    // Neither reload restarted anything: the same start still answers.
    expect(platform.starts).toBe(starts);
    expect((await fetch(`${platform.gatewayUrl}/health`)).status).toBe(200);
    await rm(file);
  });
});
