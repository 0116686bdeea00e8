import type { Database } from '@mpay/storage';
import { type CommandIo, type StopSignalWatch, watchStopSignals } from '../io.ts';
import { loadAverage, parseBenchFlags, startBenchPlatform } from './bench-platform.ts';

export const benchIdleUsage = `Usage: mpay bench idle [--seconds S] [--settle S] [--json]
  Starts the platform twice in this process, one after the other, and measures it doing nothing:
  first as it polled before (every background loop every 250 ms, the baseline), then as it runs
  (loops back off to their idle maximum while they find nothing, kicked when work arrives). For
  each: the process's CPU (every service and PGlite) as % of one core, and the statements the
  gateway, banks, custody and shop send to their databases (the log's are not counted), per second, over S seconds (default 20, 5..600) after a settle
  time (default 5 s, 1..120). DATABASE_URL selects PostgreSQL (fresh schemas, dropped after; the
  server's own CPU is not counted). --json prints one JSON object. Ctrl-C or SIGTERM closes the
  platform (its custody token deleted, its schemas dropped), then exits 130 or 143.
`;

interface IdleArguments {
  readonly seconds: number;
  readonly settleSeconds: number;
  readonly json: boolean;
}

export function parseBenchIdleArguments(args: readonly string[]): IdleArguments | undefined {
  const parsed = parseBenchFlags(args, {
    seconds: { min: 5, max: 600, fallback: 20 },
    settle: { min: 1, max: 120, fallback: 5 },
  });
  if (parsed === undefined) return undefined;
  return { seconds: parsed.values.seconds, settleSeconds: parsed.values.settle, json: parsed.json };
}

/** The background loops' busy interval in both runs: what `mpay up` uses. */
const busyIntervalMs = 250;

interface IdleRun {
  readonly mode: 'polling' | 'backoff';
  readonly cpuPercentOfOneCore: number;
  readonly statementsPerSecond: number;
}

/** Counts what the services send to their databases: each query, script and transaction is one statement. */
function countStatements(databases: readonly Database[]): { count(): number } {
  let statements = 0;
  for (const database of databases) {
    const { query, exec, transaction } = database;
    Object.assign(database, {
      query: (...args: Parameters<Database['query']>) => {
        statements += 1;
        return query.apply(database, args);
      },
      exec: (...args: Parameters<Database['exec']>) => {
        statements += 1;
        return exec.apply(database, args);
      },
      transaction: (...args: Parameters<Database['transaction']>) => {
        statements += 1;
        return transaction.apply(database, args);
      },
    });
  }
  return { count: () => statements };
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function measure(
  mode: IdleRun['mode'],
  parsed: IdleArguments,
  io: CommandIo,
  watch: StopSignalWatch,
): Promise<IdleRun> {
  const { platform, close } = await startBenchPlatform(
    'idle',
    io,
    watch,
    {
      backgroundIntervalMs: busyIntervalMs,
      ...(mode === 'polling' ? { backgroundIdleIntervalMaxMs: busyIntervalMs } : {}),
    },
    mode,
  );
  try {
    const counter = countStatements(platform.databases);
    io.stderr(`bench idle: settling ${parsed.settleSeconds} s, then measuring ${parsed.seconds} s\n`);
    await sleep(parsed.settleSeconds * 1000);
    const statementsBefore = counter.count();
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    await sleep(parsed.seconds * 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const elapsedMs = performance.now() - startedAt;
    return {
      mode,
      cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 10_000) / 100,
      statementsPerSecond: Math.round(((counter.count() - statementsBefore) / (elapsedMs / 1000)) * 10) / 10,
    };
  } finally {
    await close();
  }
}

/** `mpay bench idle`: the platform's cost doing nothing, polling (the baseline) against backing off, in one run. */
export async function runBenchIdle(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseBenchIdleArguments(args);
  if (parsed === undefined) {
    io.stderr(benchIdleUsage);
    return 2;
  }
  const watch = watchStopSignals({ io, command: 'bench idle', cleanUpMsMax: benchIdleCleanUpMsMax });
  return watch.finish(() => benchIdle(parsed, io, watch));
}

/** A stop signal's clean-up: the platform closed once started (its token deleted, its PostgreSQL schemas dropped). */
export const benchIdleCleanUpMsMax = 10 * 60_000;

async function benchIdle(parsed: IdleArguments, io: CommandIo, watch: StopSignalWatch): Promise<number> {
  const loadBefore = await loadAverage();
  const polling = await measure('polling', parsed, io, watch);
  // Stopped during the first: the second is not begun (the clean-up exits the process).
  if (watch.stoppedStatus() !== undefined) return 1;
  const backoff = await measure('backoff', parsed, io, watch);
  const loadAfter = await loadAverage();
  const figures = {
    database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
    seconds: parsed.seconds,
    runs: [polling, backoff],
    cpu_ratio:
      polling.cpuPercentOfOneCore === 0 ? null : backoff.cpuPercentOfOneCore / polling.cpuPercentOfOneCore,
    load_average: { before: loadBefore, after: loadAfter },
  };
  if (parsed.json) {
    io.stdout(`${JSON.stringify(figures)}\n`);
    return 0;
  }
  io.stdout(
    [
      `mpay bench idle (${figures.database}): ${parsed.seconds} s idle after ${parsed.settleSeconds} s settling, each run`,
      ...[polling, backoff].map(
        (run) =>
          `  ${run.mode === 'polling' ? 'polling (baseline)' : 'backoff (mpay)    '}  CPU ${run.cpuPercentOfOneCore.toFixed(2)} % of one core, ${run.statementsPerSecond} statements/s`,
      ),
      `  backoff / polling  CPU ×${figures.cpu_ratio === null ? '–' : figures.cpu_ratio.toFixed(2)}`,
      `  load average       ${loadBefore} before, ${loadAfter} after`,
      '',
    ].join('\n'),
  );
  return 0;
}
