/**
 * `mpay chaos`: payments under load while services are killed with SIGKILL.
 *
 * The platform runs with each service in a process of its own (ProcessPlatform)
 * in a fresh temporary data folder (or fresh PostgreSQL schemas under
 * DATABASE_URL). Customers are enrolled through the public APIs; payments run
 * in lanes, the merchant retrying with the same Idempotency-Key and the wallet
 * resending its signed confirmation; services die at seeded random moments and
 * are started again. At the end every payment must be final, each completed one
 * must have moved its amount exactly once and nothing else may have moved,
 * `mpay audit` must pass, and each completed payment's evidence must verify
 * under the log's and the witness's keys. Exit 0 only then.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultGatewayLimits } from '@mpay/gateway';
import { dropPostgresSchema } from '@mpay/storage';
import { ProcessPlatform } from '../platform/processes.ts';
import type { PlatformProcessName } from '../platform/processes-service.ts';
import { platformSchemas } from '../platform/start.ts';
import { runAudit } from './audit.ts';
import { type Customer, describeError, PaymentDriver, type PaymentDriverLimits } from './chaos-payments.ts';
import {
  type ChaosOptions,
  type ChaosTarget,
  chaosLimits,
  chaosTargets,
  chaosUsage,
  customersFor,
  nextCustomer,
  parseChaosOptions,
  planKills,
  seededRandom,
} from './chaos-plan.ts';
import { type CommandIo, watchStopSignals } from './io.ts';

/** One service process to say it is ready (a busy machine starts one in minutes rather than seconds). */
const serviceStartMs = 8 * 60_000;

/** Named deadlines: generous, since a busy machine starts a service in minutes rather than seconds. */
export const chaosDeadlines = Object.freeze({
  /** One service process to say it is ready. */
  serviceStartMs,
  /** Payments to make progress after a restart before the next kill. */
  progressMs: 5 * 60_000,
  /**
   * A kill waits for a merchant request or a confirmation to be on the wire, so that it cuts one short;
   * past this it lands anyway (the lanes paced by the customers' rate, a very slow machine).
   */
  inFlightWaitMs: 30_000,
  driver: {
    stepDeadlineMs: 5 * 60_000,
    requestTimeoutMs: 60_000,
    retryAfterMaxMs: 61_000,
    evidenceDeadlineMs: 3 * 60_000,
    restartsMax: chaosLimits.killsMax + 16,
    // A restart fails by itself after serviceStartMs; the minute more is the kill and the fork.
    platformDownMaxMs: serviceStartMs + 60_000,
  } satisfies PaymentDriverLimits,
  /** Ctrl-C (or SIGTERM): the cleanup's own steps are bounded; past this the command exits anyway. */
  interruptedCleanupMs: 3 * 60_000,
});

const openingMinor = 1_000_00n;
/**
 * The gateway's rate per customer as the chaos platform runs it (its defaults), with 5 s more
 * window: a lane marks a payment when it starts and moves the mark to when it ends, and the
 * gateway counts it from when it accepted it, in between; the margin covers clocks read apart.
 */
const customerRate = Object.freeze({
  perWindowMax: defaultGatewayLimits.paymentRequestsPerCustomerMax,
  windowMs: defaultGatewayLimits.rateWindowSeconds * 1000 + 5_000,
});
/** Longest a lane sleeps at once while every customer is at the rate (it then looks again). */
const paceWaitMaxMs = 1_000;
/** How often a progress line is printed. */
const progressIntervalMs = 10_000;

export interface ChaosSummary {
  readonly ok: boolean;
  readonly seed: number;
  readonly backend: string;
  readonly durationSeconds: number;
  readonly elapsedSeconds: number;
  readonly lanes: number;
  readonly customers: number;
  readonly killsPlanned: number;
  readonly kills: Record<ChaosTarget, number>;
  /** Kills that landed while a merchant request or a confirmation was on the wire. */
  readonly killsDuringRequests: number;
  /** Longest time from a kill to the service saying it is ready again, per service (ms). */
  readonly recoveryMsMax: Record<ChaosTarget, number>;
  readonly unexpectedExits: string[];
  readonly payments: {
    readonly started: number;
    readonly completed: number;
    readonly declined: number;
    readonly expired: number;
    readonly failed: number;
    readonly cancelled: number;
    readonly refusedRequests: number;
    readonly other: number;
  };
  readonly retries: { readonly merchantRequests: number; readonly confirmations: number };
  readonly evidenceVerified: number;
  readonly audit: { readonly ok: boolean; readonly output: string };
  readonly problems: string[];
}

function zeroPerTarget(): Record<ChaosTarget, number> {
  return Object.fromEntries(chaosTargets.map((target) => [target, 0])) as Record<ChaosTarget, number>;
}

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** `mpay chaos ARGS`. */
export async function runChaos(args: readonly string[], io: CommandIo): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseChaosOptions(args, () => randomBytes(4).readUInt32BE(0));
  } catch (error) {
    io.stderr(`mpay chaos: ${(error as Error).message}\n${chaosUsage}`);
    return 2;
  }
  // With --json the summary alone goes to stdout; progress goes to stderr.
  const say = (line: string) => (options.json ? io.stderr : io.stdout)(`${line}\n`);
  const run = new ChaosRun(options, say);
  // Ctrl-C or SIGTERM: the services stopped one by one (each bounded), the run's folder removed.
  // The services also exit by themselves once this process is gone (their IPC channel closes).
  const watch = watchStopSignals({
    io: options.json ? io : { stdout: io.stdout, stderr: io.stdout },
    command: 'mpay chaos',
    cleanUpMsMax: chaosDeadlines.interruptedCleanupMs,
  });
  watch.onStop(() => run.cleanup());
  return watch.finish(async () => {
    try {
      const summary = await run.execute();
      if (options.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
      else printSummary(summary, say);
      return summary.ok ? 0 : 1;
    } catch (error) {
      say(`mpay chaos: FAILED: ${describeError(error)}`);
      if (error instanceof Error && error.stack) say(error.stack);
      say(run.diagnostics());
      return 1;
    } finally {
      await run.cleanup();
    }
  });
}

function printSummary(summary: ChaosSummary, say: (line: string) => void): void {
  const p = summary.payments;
  say('');
  say(`chaos summary (seed ${summary.seed}, ${summary.backend}, ${summary.elapsedSeconds} s):`);
  say(
    `  kills       ${chaosTargets.map((target) => `${target} ${summary.kills[target]}`).join(', ')} (${Object.values(summary.kills).reduce((a, b) => a + b, 0)} of ${summary.killsPlanned}, ${summary.killsDuringRequests} with a request on the wire)`,
  );
  say(
    `  recovery    longest kill → ready: ${chaosTargets.map((target) => `${target} ${(summary.recoveryMsMax[target] / 1000).toFixed(1)} s`).join(', ')}`,
  );
  say(
    `  payments    ${p.started} started: ${p.completed} completed, ${p.declined} declined, ${p.expired} expired, ${p.failed} failed, ${p.cancelled} cancelled, ${p.refusedRequests} requests refused, ${p.other} other`,
  );
  say(
    `  retries     ${summary.retries.merchantRequests} merchant requests, ${summary.retries.confirmations} confirmations`,
  );
  say(
    `  evidence    ${summary.evidenceVerified} of ${p.completed} completed payments verified (log + witness keys)`,
  );
  say(`  audit       ${summary.audit.ok ? 'passed' : 'FAILED'}`);
  if (summary.unexpectedExits.length > 0) say(`  exits       ${summary.unexpectedExits.join('; ')}`);
  say(`  result      ${summary.ok ? 'ok: no violation' : `${summary.problems.length} violation(s)`}`);
  for (const problem of summary.problems.slice(0, 50)) say(`    ${problem}`);
  if (!summary.audit.ok) say(summary.audit.output);
}

class ChaosRun {
  private folder: string | undefined;
  private schemaPrefix: string | undefined;
  private platform: ProcessPlatform | undefined;
  private driver: PaymentDriver | undefined;
  private cleaned: Promise<void> | undefined;
  private readonly kills = zeroPerTarget();
  private killsDuringRequests = 0;
  private readonly recoveryMsMax = zeroPerTarget();
  private readonly unexpectedExits: string[] = [];
  private began = Date.now();

  constructor(
    private readonly options: ChaosOptions,
    private readonly say: (line: string) => void,
  ) {}

  private get seconds(): string {
    return `${Math.round((Date.now() - this.began) / 1000)} s`;
  }

  async execute(): Promise<ChaosSummary> {
    const { options, say } = this;
    const databaseUrl = process.env.DATABASE_URL || undefined;
    const plan = planKills(options);
    this.folder = await mkdtemp(join(tmpdir(), 'mpay-chaos-'));
    if (databaseUrl !== undefined) this.schemaPrefix = `chaos_${randomBytes(4).toString('hex')}_`;
    const backend = databaseUrl === undefined ? 'PGlite' : `PostgreSQL, schemas ${this.schemaPrefix}*`;
    say(
      `mpay chaos: seed ${options.seed} (repeat with --seed ${options.seed}); ${options.durationSeconds} s, ${plan.length} kills, ${options.lanes} lanes; ${backend} in ${this.folder}`,
    );
    say('mpay chaos: starting each service in its own process …');
    const platform = await ProcessPlatform.start({
      dataDir: this.folder,
      databaseUrl,
      schemaPrefix: this.schemaPrefix,
      limits: { serviceStartDeadlineMs: chaosDeadlines.serviceStartMs },
      onUnexpectedExit: (service, how) => this.onUnexpectedExit(service, how),
    });
    this.platform = platform;
    say(
      `mpay chaos: platform up after ${this.seconds}; enrolling ${customersFor(options.lanes)} customers …`,
    );
    const driver = await PaymentDriver.open(this.folder, platform, chaosDeadlines.driver);
    this.driver = driver;
    const customerCount = customersFor(options.lanes);
    for (let index = 0; index < customerCount; index += 1)
      await driver.enrolCustomer(`chaos.payer${index}@person.xbank`, `chaos-phone-${index}`, openingMinor);
    const before = await driver.balances();
    driver.startDevices();
    say(`mpay chaos: payments start (${this.seconds})`);
    this.began = Date.now();
    const random = seededRandom(options.seed ^ 0x5eed);
    let lanesDone = false;
    let killsDone = false;
    const runEnd = this.began + options.durationSeconds * 1000;
    const more = () =>
      (Date.now() < runEnd || !killsDone) && driver.payments.length < chaosLimits.paymentsMax;
    // Each customer's payments in the window (marked at start, moved to the end), to keep within its rate.
    const started: number[][] = driver.customers.map(() => []);
    let nextFrom = 0;
    const lane = async () => {
      while (more()) {
        const next = nextCustomer(started, nextFrom, customerRate, Date.now());
        if ('waitMs' in next) {
          await new Promise((done) => setTimeout(done, Math.min(next.waitMs, paceWaitMaxMs)));
          continue;
        }
        nextFrom = next.customer + 1;
        const marks = started[next.customer] ?? [];
        const startedAt = Date.now();
        marks.push(startedAt);
        const customer = driver.customers[next.customer] as Customer;
        const amountMinor = BigInt(100 + Math.floor(random() * 200));
        await driver.pay(driver.newPayment(customer, amountMinor, 'chaos'));
        // Accepted at the latest now (after a gateway restart, long after it started); the
        // marks past the window are dropped, so a long run's lists stay short.
        const now = Date.now();
        const kept = marks
          .map((at) => (at === startedAt ? now : at))
          .filter((at) => at > now - customerRate.windowMs);
        marks.splice(0, marks.length, ...kept);
      }
    };
    const ticker = setInterval(() => this.progressLine(plan.length), progressIntervalMs);
    try {
      const lanes = Promise.all(Array.from({ length: options.lanes }, lane)).finally(() => {
        lanesDone = true;
      });
      const killing = this.killAll(plan, () => lanesDone).finally(() => {
        killsDone = true;
      });
      await Promise.all([lanes, killing]);
    } finally {
      clearInterval(ticker);
    }
    say(`mpay chaos: payments stopped (${this.seconds}); waiting for every payment to be final …`);
    await driver.settle();
    await driver.stopDevices();
    const problems = await driver.checkMoney(before);
    say('mpay chaos: money checked; running mpay audit …');
    const audit = await this.audit();
    if (!audit.ok) problems.push('mpay audit failed');
    say('mpay chaos: checking the evidence of every completed payment …');
    const evidence = await driver.checkEvidence();
    problems.push(...evidence.problems);
    for (const exit of this.unexpectedExits) problems.push(`a service exited by itself: ${exit}`);
    const killed = Object.values(this.kills).reduce((sum, count) => sum + count, 0);
    if (killed !== plan.length) problems.push(`${killed} kills done of ${plan.length} planned`);
    const tally = driver.tally();
    const count = (status: string) => tally.byStatus[status] ?? 0;
    const completed = count('completed');
    if (completed === 0) problems.push('no payment completed: the run proves nothing');
    const known = ['completed', 'declined', 'expired', 'failed', 'cancelled'].reduce(
      (sum, s) => sum + count(s),
      0,
    );
    return {
      ok: problems.length === 0,
      seed: options.seed,
      backend,
      durationSeconds: options.durationSeconds,
      elapsedSeconds: Math.round((Date.now() - this.began) / 1000),
      lanes: options.lanes,
      customers: driver.customers.length,
      killsPlanned: plan.length,
      kills: { ...this.kills },
      killsDuringRequests: this.killsDuringRequests,
      recoveryMsMax: { ...this.recoveryMsMax },
      unexpectedExits: [...this.unexpectedExits],
      payments: {
        started: tally.started,
        completed,
        declined: count('declined'),
        expired: count('expired'),
        failed: count('failed'),
        cancelled: count('cancelled'),
        refusedRequests: tally.merchantRefusals,
        other: tally.started - known - tally.merchantRefusals,
      },
      retries: { merchantRequests: tally.merchantRetries, confirmations: tally.confirmationRetries },
      evidenceVerified: evidence.verified,
      audit,
      problems,
    };
  }

  private onUnexpectedExit(service: PlatformProcessName, how: string): void {
    this.unexpectedExits.push(`${service} (${how})`);
    this.say(`mpay chaos: ${service} exited by itself (${how}); starting it again`);
    this.platform?.restart(service).catch((error: unknown) => {
      this.say(`mpay chaos: ${service} did not start again: ${describeError(error)}`);
    });
  }

  private progressLine(killsPlanned: number): void {
    const driver = this.driver;
    if (driver === undefined) return;
    const payments = driver.payments;
    const completed = payments.filter((payment) => payment.receipt !== undefined).length;
    const closed = payments.filter(
      (p) =>
        p.merchantRefusal !== undefined || p.customerRefusal !== undefined || p.closedUnseen !== undefined,
    ).length;
    const killed = Object.values(this.kills).reduce((sum, count) => sum + count, 0);
    this.say(
      `  ${this.seconds}: ${payments.length} payments, ${completed} completed, ${closed} closed otherwise, ${payments.length - completed - closed} in flight; kills ${killed}/${killsPlanned}`,
    );
  }

  /**
   * Each planned kill at its moment, once payments progressed since the last restart and while a request
   * is on the wire (so that the kill cuts it short, as a crash in production does); then the restart.
   */
  private async killAll(plan: ReturnType<typeof planKills>, lanesDone: () => boolean): Promise<void> {
    const platform = this.platform;
    const driver = this.driver;
    if (platform === undefined || driver === undefined)
      throw new Error('assertion failed: the run has started');
    let progressAtRestart = driver.progress;
    for (const [index, kill] of plan.entries()) {
      const due = this.began + kill.atMs;
      const progressDeadline = Date.now() + chaosDeadlines.progressMs;
      // The schedule (not a wait for readiness), and progress since the last restart (a liveness check).
      while (Date.now() < due || driver.progress <= progressAtRestart) {
        if (lanesDone()) throw new Error(`the payments stopped before kill ${index + 1} of ${plan.length}`);
        if (Date.now() > Math.max(due, progressDeadline))
          throw new Error(
            `no payment progressed within ${chaosDeadlines.progressMs / 1000} s before kill ${index + 1}\n${driver.openPayments()}`,
          );
        await pause(50);
      }
      await pause(kill.jitterMs);
      const onTheWire = Date.now() + chaosDeadlines.inFlightWaitMs;
      while (driver.attemptsInFlight === 0 && Date.now() < onTheWire && !lanesDone()) await pause(2);
      if (driver.attemptsInFlight > 0) this.killsDuringRequests += 1;
      const pid = platform.pidOf(kill.target);
      const killedAt = Date.now();
      await platform.kill(kill.target);
      this.kills[kill.target] += 1;
      this.say(
        `  ${this.seconds}: kill ${index + 1}/${plan.length}: SIGKILL ${kill.target} (pid ${pid ?? '-'})`,
      );
      await platform.restart(kill.target);
      const recoveryMs = Date.now() - killedAt;
      this.recoveryMsMax[kill.target] = Math.max(this.recoveryMsMax[kill.target], recoveryMs);
      this.say(
        `  ${this.seconds}: ${kill.target} ready again after ${(recoveryMs / 1000).toFixed(1)} s (pid ${platform.pidOf(kill.target) ?? '-'})`,
      );
      progressAtRestart = driver.progress;
    }
  }

  private async audit(): Promise<{ ok: boolean; output: string }> {
    let output = '';
    const capture: CommandIo = {
      stdout: (text) => {
        output += text;
      },
      stderr: (text) => {
        output += text;
      },
    };
    const code = await runAudit(new Map([['data', this.folder ?? '']]), capture);
    return { ok: code === 0, output };
  }

  /** The last output of every service process, for a failed run. */
  diagnostics(): string {
    const platform = this.platform;
    if (platform === undefined) return '';
    return chaosTargets
      .map((target) => `--- ${target} (last output)\n${platform.outputOf(target).slice(-2_000)}`)
      .join('\n');
  }

  /** Stops every service process, removes the data folder and drops the schemas; once, even on Ctrl-C. */
  cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      await this.driver?.stopDevices().catch(() => undefined);
      await this.platform?.close().catch(() => undefined);
      const databaseUrl = process.env.DATABASE_URL || undefined;
      if (databaseUrl !== undefined && this.schemaPrefix !== undefined)
        for (const schema of platformSchemas)
          await dropPostgresSchema(databaseUrl, `${this.schemaPrefix}${schema}`).catch(() => undefined);
      if (this.folder !== undefined) await rm(this.folder, { recursive: true, force: true });
    })();
    return this.cleaned;
  }
}
