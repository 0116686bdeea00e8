/**
 * What `mpay bench e2e` counts on the servers' side during its window: every
 * WebCrypto call (for the crypto-only ceiling, ./e2e-crypto.ts) and the SQL
 * statements per schema. The servers run either in the bench's own process
 * (`inProcessCounting`) or each in a process of its own (`--processes`: every
 * service process answers the bench's requests over its IPC channel,
 * `answerBenchRequests`, and `processesCounting` gathers their answers).
 */
import { httpRequestCounts } from '@mpay/http-server';
import { type StatementCount, statementCounts } from '@mpay/storage';
import { countCryptoCalls, type MixTiming, timeMix } from './e2e-crypto.ts';

/** The servers' counts over the window. */
export interface ServerWindowCounts {
  /** WebCrypto calls by kind. */
  readonly counts: Record<string, number>;
  /** Statements and transactions per schema. */
  readonly statements: Record<string, StatementCount>;
  /** HTTP requests answered per server name (@mpay/http-server's httpRequestCounts). */
  readonly requests: Record<string, number>;
}

export interface ServerCounting {
  /** The window opens: counting starts from zero. */
  windowStart(): void;
  /** The window closes: what was counted in it. */
  windowEnd(): Promise<ServerWindowCounts>;
  /**
   * The servers' crypto mix of one payment (the window's calls divided by `payments`), each
   * kind replayed alone. In this process only once the platform is closed (its background
   * work would be timed too): `timeMixBeforeClose` says when.
   */
  timeMix(payments: number, budgetMs: number): Promise<MixTiming>;
  readonly timeMixBeforeClose: boolean;
  /** Puts crypto.subtle back. */
  restore(): void;
}

/** What each schema sent between two readings of `statementCounts()`. */
export function statementsBetween(
  start: Record<string, StatementCount>,
  end: Record<string, StatementCount>,
): Record<string, StatementCount> {
  return Object.fromEntries(
    Object.entries(end).map(([schema, count]) => [
      schema,
      {
        statements: count.statements - (start[schema]?.statements ?? 0),
        transactions: count.transactions - (start[schema]?.transactions ?? 0),
        roundTrips: count.roundTrips - (start[schema]?.roundTrips ?? 0),
      },
    ]),
  );
}

/** What each server name answered between two readings of `httpRequestCounts()`. */
export function requestsBetween(
  start: Record<string, number>,
  end: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(Object.entries(end).map(([name, count]) => [name, count - (start[name] ?? 0)]));
}

/** Calls of each kind per payment, unrounded. */
function exactPerPayment(counts: Record<string, number>, payments: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts).map(([kind, count]) => [kind, payments === 0 ? 0 : count / payments]),
  );
}

/** Counting in this very process: the servers' and the counter's. */
export function inProcessCounting(): ServerCounting {
  const counter = countCryptoCalls();
  let statementsAtStart: Record<string, StatementCount> = {};
  let requestsAtStart: Record<string, number> = {};
  let last: ServerWindowCounts = { counts: {}, statements: {}, requests: {} };
  return {
    windowStart() {
      counter.reset();
      counter.active = true;
      statementsAtStart = statementCounts();
      requestsAtStart = httpRequestCounts();
    },
    windowEnd() {
      counter.active = false;
      last = {
        counts: counter.counts(),
        statements: statementsBetween(statementsAtStart, statementCounts()),
        requests: requestsBetween(requestsAtStart, httpRequestCounts()),
      };
      return Promise.resolve(last);
    },
    timeMix: (payments, budgetMs) =>
      timeMix(exactPerPayment(last.counts, payments), counter.samples, budgetMs),
    timeMixBeforeClose: false,
    restore: () => counter.restore(),
  };
}

/** A request of the bench to a service process, and its answer. */
export type BenchServiceRequest =
  | { readonly kind: 'window-start' }
  | { readonly kind: 'window-end' }
  | { readonly kind: 'time-mix'; readonly payments: number; readonly budgetMs: number };

export interface BenchServiceMessage {
  readonly type: 'bench';
  readonly id: number;
  readonly request: BenchServiceRequest;
}

export interface BenchServiceAnswer {
  readonly type: 'bench-answer';
  readonly id: number;
  readonly answer?: ServerWindowCounts | MixTiming | Record<string, never>;
  readonly error?: string;
}

/**
 * In a service process started for the bench (`benchCounting` in its layout):
 * counts as `inProcessCounting` does and answers the supervisor's requests
 * on the IPC channel. Returns what stops it.
 */
export function answerBenchRequests(): () => void {
  const counting = inProcessCounting();
  const onMessage = (message: unknown) => {
    const asked = message as Partial<BenchServiceMessage>;
    if (asked.type !== 'bench' || typeof asked.id !== 'number' || asked.request === undefined) return;
    const id = asked.id;
    const request = asked.request;
    const answer = async () => {
      switch (request.kind) {
        case 'window-start':
          counting.windowStart();
          return {};
        case 'window-end':
          return counting.windowEnd();
        case 'time-mix':
          return counting.timeMix(request.payments, request.budgetMs);
      }
    };
    answer().then(
      (value) => reply({ type: 'bench-answer', id, answer: value }),
      (error: unknown) => reply({ type: 'bench-answer', id, error: String(error) }),
    );
  };
  const reply = (message: BenchServiceAnswer) => {
    if (process.connected) process.send?.(message);
  };
  process.on('message', onMessage);
  return () => {
    process.off('message', onMessage);
    counting.restore();
  };
}

/** How the bench reaches each service process (ProcessPlatform.askService). */
export interface BenchServices {
  readonly names: readonly string[];
  ask(name: string, request: BenchServiceRequest): Promise<unknown>;
}

/** Sums counts of the same kind; merges statements per schema (each process has its own schemas). */
function mergeWindows(windows: readonly ServerWindowCounts[]): ServerWindowCounts {
  const counts: Record<string, number> = {};
  const statements: Record<string, StatementCount> = {};
  const requests: Record<string, number> = {};
  for (const window of windows) {
    for (const [name, count] of Object.entries(window.requests))
      requests[name] = (requests[name] ?? 0) + count;
    for (const [kind, count] of Object.entries(window.counts)) counts[kind] = (counts[kind] ?? 0) + count;
    for (const [schema, count] of Object.entries(window.statements)) {
      const before = statements[schema];
      statements[schema] = {
        statements: (before?.statements ?? 0) + count.statements,
        transactions: (before?.transactions ?? 0) + count.transactions,
        roundTrips: (before?.roundTrips ?? 0) + count.roundTrips,
      };
    }
  }
  return { counts, statements, requests };
}

/**
 * Counting in every service process of a platform started with
 * `benchCounting`. The window's start and end reach the processes a moment
 * apart (an IPC message each), which is small against a window of seconds.
 * The mix is timed in each process in turn, while the platform still runs
 * (its processes hold the calls' keys) but no payment does.
 */
export function processesCounting(services: BenchServices): ServerCounting {
  let started: Promise<unknown> = Promise.resolve();
  let last: { readonly name: string; readonly window: ServerWindowCounts }[] = [];
  return {
    windowStart() {
      started = Promise.all(services.names.map((name) => services.ask(name, { kind: 'window-start' })));
      // A failure surfaces at windowEnd, which waits for it.
      started.catch(() => undefined);
    },
    async windowEnd() {
      await started;
      last = await Promise.all(
        services.names.map(async (name) => ({
          name,
          window: (await services.ask(name, { kind: 'window-end' })) as ServerWindowCounts,
        })),
      );
      return mergeWindows(last.map((entry) => entry.window));
    },
    async timeMix(payments, budgetMs) {
      let msPerPayment = 0;
      const microsecondsPerCall: Record<string, number> = {};
      const weights: Record<string, number> = {};
      for (const { name, window } of last) {
        if (Object.keys(window.counts).length === 0) continue;
        const timing = (await services.ask(name, { kind: 'time-mix', payments, budgetMs })) as MixTiming;
        msPerPayment += timing.msPerPayment;
        // A kind several processes call: its median time in each, weighted by their calls.
        for (const [kind, microseconds] of Object.entries(timing.microsecondsPerCall)) {
          const calls = window.counts[kind] ?? 0;
          const before = weights[kind] ?? 0;
          const weighted = (microsecondsPerCall[kind] ?? 0) * before + microseconds * calls;
          weights[kind] = before + calls;
          microsecondsPerCall[kind] =
            weights[kind] === 0 ? microseconds : Math.round((weighted / weights[kind]) * 10) / 10;
        }
      }
      return { msPerPayment, microsecondsPerCall };
    },
    timeMixBeforeClose: true,
    restore: () => undefined,
  };
}
