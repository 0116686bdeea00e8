import { describe, expect, it } from 'vitest';
import type { ChaosSummary } from '../../cli/src/commands/chaos.ts';
import { chaosTargets } from '../../cli/src/commands/chaos-plan.ts';
import {
  backgroundWorkDeadlineMs,
  chaosRunDeadlineMs,
  paymentSettledDeadlineMs,
  platformStartDeadlineMs,
  processExitDeadlineMs,
  serviceStartDeadlineMs,
  testTimeoutMs,
  within,
} from '../support/deadlines.ts';
import { startMpay } from './platform-process.ts';

/**
 * The short chaos run of CI: `mpay chaos` with each service in its own process, 30 s of payments in two
 * lanes and six SIGKILLs (12 a minute) with a fixed seed, which hit every service it kills
 * (gateway, xbank, ybank, custody, log, witness) once. The command checks the money, `mpay audit` and
 * every completed payment's evidence itself and exits non-zero on any violation; this test reads its
 * JSON summary and checks that the run really did what it claims.
 */
const seed = 7;
const killsPlanned = 6;
const args = [
  'chaos',
  '--seconds',
  '30',
  '--kills-per-minute',
  '12',
  '--lanes',
  '2',
  '--seed',
  String(seed),
  '--json',
];
/**
 * The whole run. `mpay chaos` bounds each of its phases itself (the platform's start, a restart per
 * kill, the payments settling, the log proving them); their sum (`phasesDeadlineMs`, 40 min) is
 * above CI's whole budget of 30 minutes, so a run that hung would be cut off by CI without its
 * output. This deadline stops it first, in time to report it: the run took 67 s on a quiet machine
 * (6 December), and CI's two passes of the whole suite must fit in 30.
 */
const phasesDeadlineMs =
  platformStartDeadlineMs +
  killsPlanned * serviceStartDeadlineMs +
  paymentSettledDeadlineMs +
  backgroundWorkDeadlineMs;
const runDeadlineMs = Math.min(phasesDeadlineMs, chaosRunDeadlineMs);
/** `mpay chaos` told to stop (SIGINT): it stops its services one by one, each within a bounded time. */
const interruptDeadlineMs = 5 * processExitDeadlineMs;

describe('mpay chaos (CI: 30 s, 6 kills, seed 7)', () => {
  it(
    'kills every service at least once, and every payment ends right, audited and proved in the log',
    async () => {
      const chaos = startMpay(args);
      let code: number | null;
      try {
        code = await within(chaos.exited, {
          deadlineMs: runDeadlineMs,
          what: `mpay ${args.join(' ')} to finish`,
        });
      } catch (error) {
        // mpay chaos stops its services and removes its folder on SIGINT; the failure is reported with
        // the command's output rather than as vitest's timeout.
        await chaos.interrupt(interruptDeadlineMs);
        throw new Error(`${(error as Error).message}\n${chaos.stderr().slice(-8_000)}`);
      }
      const progress = chaos.stderr().slice(-8_000);
      expect(code, progress).toBe(0);
      const summary = JSON.parse(chaos.stdout()) as ChaosSummary;
      console.log(
        `mpay chaos (${summary.backend}, seed ${summary.seed}): kills ${JSON.stringify(summary.kills)} ` +
          `(${summary.killsDuringRequests} with a request on the wire), ` +
          `payments ${JSON.stringify(summary.payments)}, retries ${JSON.stringify(summary.retries)}, ` +
          `longest recovery ${Math.max(...Object.values(summary.recoveryMsMax))} ms, ${summary.elapsedSeconds} s`,
      );
      expect(summary.problems, progress).toEqual([]);
      expect(summary.ok).toBe(true);
      expect(summary.seed).toBe(seed);
      expect(summary.killsPlanned).toBe(killsPlanned);
      for (const target of chaosTargets) expect(summary.kills[target], target).toBeGreaterThanOrEqual(1);
      expect(Object.values(summary.kills).reduce((sum, count) => sum + count, 0)).toBe(killsPlanned);
      expect(summary.payments.completed).toBeGreaterThan(0);
      expect(summary.evidenceVerified).toBe(summary.payments.completed);
      expect(summary.audit.ok, summary.audit.output).toBe(true);
      // The kills must have cut requests short, or the run proves nothing: each kill waits for a merchant
      // request or a confirmation on the wire (a CI run of 6 December failed here with no retry at all:
      // every kill had landed between requests). Both sides of it: kills with a request on the wire, and
      // the requests they cut retried.
      expect(summary.killsDuringRequests, progress).toBeGreaterThan(0);
      expect(summary.killsDuringRequests).toBeLessThanOrEqual(killsPlanned);
      expect(summary.retries.merchantRequests + summary.retries.confirmations).toBeGreaterThan(0);
      expect(summary.unexpectedExits).toEqual([]);
    },
    testTimeoutMs + runDeadlineMs + interruptDeadlineMs,
  );
});
