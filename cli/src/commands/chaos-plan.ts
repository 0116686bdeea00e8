/**
 * The plan of a chaos run, pure: its options from the command line (named,
 * validated limits), a seeded pseudo-random generator, and which service is
 * killed when. The same seed gives the same kills in the same order at the
 * same offsets; what the payments do in between depends on the machine.
 */
import type { PlatformProcessName } from '../platform/processes-service.ts';

/** The services a chaos run kills: every institution of a payment (the shop is not on its path). */
export const chaosTargets = [
  'gateway',
  'xbank',
  'ybank',
  'custody',
  'log',
  'witness',
] as const satisfies readonly PlatformProcessName[];
export type ChaosTarget = (typeof chaosTargets)[number];

export const chaosLimits = Object.freeze({
  durationSecondsMin: 10,
  durationSecondsMax: 24 * 60 * 60,
  killsPerMinuteMax: 30,
  killsMax: 2_000,
  lanesMax: 16,
  /** Payments started in one run at most. */
  paymentsMax: 100_000,
  /**
   * Customers enrolled per lane. The gateway lets one customer receive 10 payment requests a
   * minute (its default), and a lane on a quiet machine pays about one a second: with 3 a lane,
   * a 30 s run asked too often and stood still for 30 s on 429s. The lanes also pace each customer
   * (nextCustomer), so a faster machine waits instead of asking too often.
   */
  customersPerLane: 6,
  customersMin: 6,
});

export interface ChaosOptions {
  readonly durationSeconds: number;
  readonly killsPerMinute: number;
  readonly lanes: number;
  readonly seed: number;
  readonly json: boolean;
}

export const chaosDefaults = Object.freeze({ durationSeconds: 60, killsPerMinute: 2, lanes: 3 });

export const chaosUsage =
  'usage: mpay chaos [--minutes N | --seconds S] [--kills-per-minute K] [--lanes L] [--seed X] [--json]\n';

function wholeNumber(name: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) throw new Error(`--${name} needs a whole number`);
  const value = Number(text);
  if (value < min || value > max) throw new Error(`--${name} must be in ${min}..${max}, not ${value}`);
  return value;
}

/** The options of `mpay chaos ARGS`; throws with the reason on anything it does not know or accept. */
export function parseChaosOptions(args: readonly string[], randomSeed: () => number): ChaosOptions {
  const values = new Map<string, string | undefined>();
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new Error(`unexpected argument ${arg}`);
    const name = match[1]!;
    if (values.has(name)) throw new Error(`--${name} given twice`);
    if (name === 'json') {
      values.set(name, undefined);
      continue;
    }
    if (!['minutes', 'seconds', 'kills-per-minute', 'lanes', 'seed'].includes(name))
      throw new Error(`unknown option --${name}`);
    const value = match[2] ?? args[index + 1];
    if (match[2] === undefined) index += 1;
    values.set(name, value);
  }
  if (values.has('minutes') && values.has('seconds')) throw new Error('--minutes or --seconds, not both');
  const { durationSecondsMin: min, durationSecondsMax: max } = chaosLimits;
  const durationSeconds = values.has('minutes')
    ? wholeNumber('minutes', values.get('minutes'), 1, max / 60) * 60
    : values.has('seconds')
      ? wholeNumber('seconds', values.get('seconds'), min, max)
      : chaosDefaults.durationSeconds;
  const killsPerMinute = values.has('kills-per-minute')
    ? wholeNumber('kills-per-minute', values.get('kills-per-minute'), 0, chaosLimits.killsPerMinuteMax)
    : chaosDefaults.killsPerMinute;
  const lanes = values.has('lanes')
    ? wholeNumber('lanes', values.get('lanes'), 1, chaosLimits.lanesMax)
    : chaosDefaults.lanes;
  const seed = values.has('seed') ? wholeNumber('seed', values.get('seed'), 0, 0xffff_ffff) : randomSeed();
  return { durationSeconds, killsPerMinute, lanes, seed, json: values.has('json') };
}

/** mulberry32: a small seeded generator of numbers in [0, 1); not for secrets, only for a repeatable plan. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface PlannedKill {
  readonly target: ChaosTarget;
  /** When, from the start of the payments: the kill waits for this moment (and for progress since the last one). */
  readonly atMs: number;
  /** A further pause, so that the kill lands somewhere inside the requests in flight. */
  readonly jitterMs: number;
}

/** Longest jitter before a kill. */
const killJitterMaxMs = 400;

/**
 * The kills of a run: `round(killsPerMinute × minutes)` of them, spread over
 * the run with seeded jitter; the targets in rounds, each round every target
 * once in a seeded order, so a run of six kills or more hits every service.
 */
export function planKills(options: ChaosOptions): PlannedKill[] {
  const random = seededRandom(options.seed);
  const count = Math.min(
    chaosLimits.killsMax,
    Math.round((options.killsPerMinute * options.durationSeconds) / 60),
  );
  const targets: ChaosTarget[] = [];
  while (targets.length < count) {
    const round = [...chaosTargets];
    for (let index = round.length - 1; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      [round[index], round[other]] = [round[other]!, round[index]!];
    }
    targets.push(...round);
  }
  const spacingMs = (options.durationSeconds * 1000) / (count + 1);
  return targets.slice(0, count).map((target, index) => ({
    target,
    atMs: Math.round(spacingMs * (index + 0.5 + random())),
    jitterMs: Math.floor(random() * (killJitterMaxMs + 1)),
  }));
}

/** Customers to enrol for `lanes` lanes. */
export function customersFor(lanes: number): number {
  return Math.max(chaosLimits.customersMin, lanes * chaosLimits.customersPerLane);
}

/** The requests the gateway lets one customer receive in its window (its defaults, which a chaos platform runs with). */
export interface CustomerRate {
  readonly perWindowMax: number;
  readonly windowMs: number;
}

/**
 * The customer a lane pays next: the first, from `from` on round the list, whose payments in the
 * last window (`started[i]`, times in ms, in any order) leave room for one more; else how long
 * until the earliest one has room again. The gateway counts a payment from when it accepts the
 * request; a lane marks it when it starts and again when it ends, the later of the two.
 */
export function nextCustomer(
  started: readonly (readonly number[])[],
  from: number,
  rate: CustomerRate,
  nowMs: number,
): { readonly customer: number } | { readonly waitMs: number } {
  let waitMs = Number.POSITIVE_INFINITY;
  for (let step = 0; step < started.length; step += 1) {
    const customer = (from + step) % started.length;
    const times = started[customer] ?? [];
    const inWindow = times.filter((at) => at > nowMs - rate.windowMs).sort((a, b) => a - b);
    if (inWindow.length < rate.perWindowMax) return { customer };
    const oldest = inWindow[inWindow.length - rate.perWindowMax] ?? nowMs;
    waitMs = Math.min(waitMs, oldest + rate.windowMs - nowMs + 1);
  }
  return { waitMs: Number.isFinite(waitMs) ? Math.max(1, waitMs) : rate.windowMs };
}
