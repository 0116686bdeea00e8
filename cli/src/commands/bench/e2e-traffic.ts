/**
 * What every driver of `mpay bench e2e` shares, whatever its profile: the
 * traffic counting per party (the child's `fetch` wrapped), the WebCrypto
 * counting, and the measured run itself (warm-up, window, drain) over the
 * profile's paying units. Each profile's driver (e2e-driver.ts for ims,
 * e2e-driver-custody.ts, e2e-driver-macro.ts, e2e-driver-banking.ts) builds
 * its units and hands them to `measure`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CurrencyCode } from '@mpay/protocol';
import { meterFetch, type PartyTraffic } from '../traffic.ts';
import { type CryptoCounter, countCryptoCalls, timeMix } from './e2e-crypto.ts';

export const benchProfiles = ['ims', 'ims-custody', 'macro', 'banking'] as const;
export type BenchProfile = (typeof benchProfiles)[number];

/** Who sends a request: the customer's device (or phone), or the merchant. */
export type Party = 'device' | 'merchant';

export type { PartyTraffic };

/** What every profile's driver is told besides its own parties. */
export interface DriverTiming {
  readonly warmupMs: number;
  readonly windowMs: number;
  /** How long each kind of crypto call is replayed for the ceiling (shorter for a short run). */
  readonly mixBudgetMs: number;
  /**
   * Payments under way at once (--concurrency): each lane pays for the customer that has waited
   * longest, then hands it back; there are at least as many customers as lanes.
   */
  readonly lanes: number;
}

/** A profile driver's timing and what each of its payments pays. */
export interface DriverPayment extends DriverTiming {
  readonly currency: CurrencyCode;
  readonly amountMinor: bigint;
  /**
   * The deployment's CA, PEM, when the platform serves HTTPS: the driver's
   * fetch trusts it and nothing else, and offers HTTP/2 (as a phone's does).
   */
  readonly caPem?: string | undefined;
  /** Serials the deployment's revocation lists refuse: a server presenting one is refused. */
  readonly revokedSerials?: readonly string[] | undefined;
}

export interface DriverReport {
  readonly payments: number;
  /**
   * Of `payments`, those completed in the window's first half (its first
   * windowMs / 2 as asked; an extended window's extension is the second's):
   * the parent reads the servers' CPU at the half too (`window-half`), so
   * that a window still warming up shows as a first half dearer than the second.
   */
  readonly paymentsFirstHalf: number;
  readonly windowMs: number;
  readonly latenciesMs: readonly number[];
  /** Payments that failed, in the warm-up, the window or the drain. */
  readonly failures: number;
  readonly failureSamples: readonly string[];
  /** Payments completed in all (warm-up and drain too): the money the audit should see moved. */
  readonly completedTotal: number;
  /** Customers that completed at least one payment (warm-up and drain too). */
  readonly customersPaid: number;
  readonly traffic: Record<Party, PartyTraffic>;
  /**
   * The device's bytes on the wire in the window (its connections crossed a
   * counting proxy: HTTP framing and compression as sent), when the profile
   * routes them through one.
   */
  readonly deviceWire?: WireBytes;
  readonly cpuMs: { readonly user: number; readonly system: number };
  readonly cryptoCounts: Record<string, number>;
  readonly cryptoMsPerPayment: number;
  readonly cryptoMicrosecondsPerCall: Record<string, number>;
}

export type DriverMessage =
  | { readonly type: 'window-start' }
  | { readonly type: 'window-half' }
  | { readonly type: 'window-end' }
  | { readonly type: 'progress'; readonly line: string }
  | { readonly type: 'report'; readonly report: DriverReport }
  | { readonly type: 'error'; readonly message: string };

export type SendToParent = (message: DriverMessage) => void;

const partyOf = new AsyncLocalStorage<Party>();

/** Runs `work` as `party`: every fetch it makes (and its streams) counts for that party. */
export function asParty<T>(party: Party, work: () => Promise<T>): Promise<T> {
  return partyOf.run(party, work);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  }
  return String(error);
}

/** Bytes on the wire each way, device side. */
export interface WireBytes {
  readonly sent: number;
  readonly received: number;
}

/** The driver's meters: installed before any party opens a connection (a stream's bytes in the window count). */
export interface Meter {
  readonly traffic: Record<Party, PartyTraffic>;
  readonly crypto: CryptoCounter;
  counting: boolean;
  /** The device's wire bytes so far, when its connections cross a counting proxy (set by the profile's driver). */
  deviceWire?: () => WireBytes;
}

/**
 * Wraps the global fetch (../traffic.ts's meter, as `mpay demo` counts): per
 * party, the calls made and the bytes of each request (path and query,
 * headers, body) and answer (headers, body as it streams) while counting.
 * HTTP framing (request and status lines, chunk sizes) and TCP/TLS overhead
 * are not counted (loopback, no TLS). A call made outside `asParty` is not
 * counted.
 */
export function startMeter(): Meter {
  const fetchMeter = meterFetch<Party>(['device', 'merchant'], {
    countQuery: true,
    keepCalls: false,
    counting: false,
    partyOf,
  });
  return {
    traffic: fetchMeter.traffic,
    crypto: countCryptoCalls(),
    get counting() {
      return fetchMeter.counting;
    },
    set counting(value: boolean) {
      fetchMeter.counting = value;
    },
  };
}

/** One customer paying serially: `pay` is one payment, resolving to its latency in ms. */
export interface PayingUnit {
  pay(): Promise<number>;
  close(): Promise<void>;
}

/** How long the window stays open past its length, waiting for its first completed payment. */
const windowExtensionMaxMs = 60_000;

/** How long a unit waits, after a failure, before it pays again: a failing platform is not hammered. */
const afterFailureMs = 100;

/** What `measure` waits for: the warm-up, the window, a lane's pause after a failed payment. */
export type MeasurePause = 'warm-up' | 'window' | 'after-failure';

/** Waits `ms` for `what` (a test passes its own, to end a pause when what it waits for has happened). */
export type Pause = (ms: number, what: MeasurePause) => Promise<void>;

/** The real pause: `ms` on the timer. */
export const timerPause: Pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The measured run: `timing.lanes` payments under way at once, each lane
 * paying for the customer that has waited longest (so each pays serially,
 * and in turn when there are more customers than lanes); after the
 * warm-up the window opens (the parent told, to read the servers' CPU and
 * crypto; told again at its half, to read the CPU again), the payments that
 * complete inside it count, with their latency;
 * a window in which no payment both started and completed stays open until
 * one has (so that the traffic counted is at least one whole payment's; at most
 * `windowExtensionMaxMs` more: the report says how long it was). Then the
 * drain, and the driver's share of the crypto mix timed alone. Every wait
 * but the window's extension goes through `pause`.
 */
export async function measure(
  meter: Meter,
  units: readonly PayingUnit[],
  timing: DriverTiming,
  send: SendToParent,
  pause: Pause = timerPause,
): Promise<DriverReport> {
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let completedTotal = 0;
  let inWindow = false;
  let stopping = false;
  let firstInWindow: (() => void) | undefined;
  /** Payments that started and completed inside the window: all their traffic is the window's. */
  let wholeInWindow = 0;
  if (!Number.isSafeInteger(timing.lanes) || timing.lanes < 1 || timing.lanes > units.length)
    throw new Error(`bench e2e: ${timing.lanes} lanes for ${units.length} customers`);
  // The customers in the order they last finished paying: a lane takes the first, and puts it back last.
  const waiting = [...units];
  const paid = new Set<PayingUnit>();
  const loops = Array.from({ length: timing.lanes }, async () => {
    while (!stopping) {
      const startedInWindow = inWindow;
      // Never empty: a lane holds one customer at a time, and there are at least as many as lanes.
      const unit = waiting.shift() as PayingUnit;
      try {
        const ms = await unit.pay();
        completedTotal += 1;
        paid.add(unit);
        // A payment is the window's when it completed inside it (its latency too).
        if (inWindow) {
          latencies.push(ms);
          if (startedInWindow) {
            wholeInWindow += 1;
            firstInWindow?.();
          }
        }
      } catch (error) {
        failures += 1;
        if (failureSamples.length < 5) failureSamples.push(describeError(error));
        await pause(afterFailureMs, 'after-failure');
      } finally {
        waiting.push(unit);
      }
    }
  });
  // A pause that fails (a test's deadline) stops the lanes before the error goes on: none is left paying.
  const pauseOrStop = async (ms: number, what: MeasurePause) => {
    try {
      await pause(ms, what);
    } catch (error) {
      stopping = true;
      await Promise.allSettled(loops);
      throw error;
    }
  };
  send({ type: 'progress', line: `warm-up ${timing.warmupMs / 1000} s` });
  await pauseOrStop(timing.warmupMs, 'warm-up');
  const cpuAtStart = process.cpuUsage();
  const wireAtStart = meter.deviceWire?.();
  meter.counting = true;
  meter.crypto.active = true;
  inWindow = true;
  const windowStarted = performance.now();
  send({ type: 'window-start' });
  send({ type: 'progress', line: `measuring ${timing.windowMs / 1000} s` });
  const firstHalfMs = Math.floor(timing.windowMs / 2);
  await pauseOrStop(firstHalfMs, 'window');
  const paymentsFirstHalf = latencies.length;
  send({ type: 'window-half' });
  await pauseOrStop(timing.windowMs - firstHalfMs, 'window');
  if (wholeInWindow === 0) {
    // No payment both started and completed in it (a short window on a busy machine): it stays open until one has.
    send({
      type: 'progress',
      line: `no payment has started and completed in the window yet: it stays open until one has (${windowExtensionMaxMs / 1000} s at most)`,
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, windowExtensionMaxMs);
      firstInWindow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  inWindow = false;
  meter.counting = false;
  const wireAtEnd = meter.deviceWire?.();
  meter.crypto.active = false;
  const windowMs = performance.now() - windowStarted;
  const cpu = process.cpuUsage(cpuAtStart);
  send({ type: 'window-end' });
  stopping = true;
  send({ type: 'progress', line: 'draining the payments under way' });
  await Promise.all(loops);
  await Promise.all(units.map((unit) => unit.close()));
  const payments = latencies.length;
  const counts = meter.crypto.counts();
  const exact = Object.fromEntries(
    Object.entries(counts).map(([kind, count]) => [kind, payments === 0 ? 0 : count / payments]),
  );
  send({ type: 'progress', line: 'timing the driver’s crypto mix alone' });
  const mix = await timeMix(exact, meter.crypto.samples, timing.mixBudgetMs);
  meter.crypto.restore();
  return {
    payments,
    paymentsFirstHalf,
    windowMs,
    latenciesMs: latencies,
    failures,
    failureSamples,
    completedTotal,
    customersPaid: paid.size,
    traffic: meter.traffic,
    ...(wireAtStart === undefined || wireAtEnd === undefined
      ? {}
      : {
          deviceWire: {
            sent: wireAtEnd.sent - wireAtStart.sent,
            received: wireAtEnd.received - wireAtStart.received,
          },
        }),
    cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
    cryptoCounts: counts,
    cryptoMsPerPayment: mix.msPerPayment,
    cryptoMicrosecondsPerCall: mix.microsecondsPerCall,
  };
}

/** Sessions opened at once: a phone's login costs custody an OPAQUE exchange, and hundreds at once are refused. */
const sessionsOpenedAtOnce = 8;

/** Items between two progress lines of `inBatches`. */
export const itemsPerProgressLine = 32;

/**
 * `work` on each of `items`, `atOnce` at a time (a batch ends before the next
 * starts), the results in the items' order; when there are more than
 * `itemsPerProgressLine` items, `progress(done)` after every
 * `itemsPerProgressLine` and at the end.
 */
export async function inBatches<T, R>(
  items: readonly T[],
  atOnce: number,
  work: (item: T, index: number) => Promise<R>,
  progress: (done: number) => void,
): Promise<R[]> {
  if (!Number.isSafeInteger(atOnce) || atOnce < 1)
    throw new RangeError(`inBatches: atOnce must be a positive integer, not ${atOnce}`);
  const results: R[] = [];
  for (let first = 0; first < items.length; first += atOnce) {
    const batch = items.slice(first, first + atOnce);
    results.push(...(await Promise.all(batch.map((item, at) => work(item, first + at)))));
    const done = results.length;
    if (items.length > itemsPerProgressLine && (done % itemsPerProgressLine === 0 || done === items.length))
      progress(done);
  }
  return results;
}

/** Opens each of `items` (a device's session and event stream) a few at a time, as phones coming online would. */
export async function openInTurn<T>(
  items: readonly T[],
  open: (item: T) => Promise<void>,
  send: SendToParent,
): Promise<void> {
  await inBatches(items, sessionsOpenedAtOnce, open, (done) =>
    send({ type: 'progress', line: `opened ${done} of ${items.length} sessions` }),
  );
}

/** Polls `read` every `intervalMs` until it gives a value, at most `deadlineMs` (then the error names `what`). */
export async function pollUntil<T>(
  what: string,
  deadlineMs: number,
  intervalMs: number,
  read: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
