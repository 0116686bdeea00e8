import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dropPostgresSchema } from '@mpay/storage';
import { type Platform, type PlatformOptions, platformSchemas, startPlatform } from '../../platform/start.ts';
import type { CommandIo, StopSignalWatch } from '../io.ts';

/** The machine's load average (1, 5 and 15 minutes) as /proc/loadavg gives it; empty where there is none. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
}

export interface BenchPlatform {
  readonly platform: Platform;
  /** Closes the platform and drops its PostgreSQL schemas; once, whoever calls first (the run, a stop signal). */
  close(): Promise<void>;
}

/**
 * Starts the platform a benchmark measures, in this process: PGlite in
 * memory, or DATABASE_URL's PostgreSQL in fresh schemas named
 * `<name>_<random>_<service>`, dropped when it closes. A stop signal
 * (Ctrl-C, SIGTERM) closes it too, and a start that fails leaves no schema
 * behind. `what` says which run it is on stderr ("polling").
 */
export async function startBenchPlatform(
  name: string,
  io: CommandIo,
  watch: StopSignalWatch,
  options: Omit<PlatformOptions, 'databaseUrl' | 'schemaPrefix'> = {},
  what?: string,
): Promise<BenchPlatform> {
  const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const schemaPrefix = `bench_${name}_${randomBytes(4).toString('hex')}_`;
  const where =
    databaseUrl === undefined
      ? 'PGlite in memory'
      : `PostgreSQL, schemas ${schemaPrefix}*, dropped at the end`;
  io.stderr(`bench ${name}: starting the platform (${what === undefined ? '' : `${what}, `}${where})\n`);
  const starting = startPlatform({ ...options, databaseUrl, schemaPrefix });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      try {
        await (await starting).close();
      } finally {
        if (databaseUrl !== undefined)
          for (const schema of platformSchemas)
            await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
      }
    })();
    return closing;
  };
  watch.onStop(close);
  const platform = await starting.catch(async (error: unknown) => {
    await close().catch(() => undefined);
    throw error;
  });
  return { platform, close };
}

/** An integer flag of a benchmark: `--name N`, N within min..max, `fallback` when absent. */
export interface IntegerFlag {
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
}

/**
 * A benchmark's arguments: its integer flags (`--name N`, decimal digits
 * only, within bounds) and `--json`; undefined for anything else, a missing
 * or malformed value, or one out of bounds (the caller prints its usage).
 */
export function parseBenchFlags<Name extends string>(
  args: readonly string[],
  flags: Readonly<Record<Name, IntegerFlag>>,
): { readonly values: Record<Name, number>; readonly json: boolean } | undefined {
  const names = Object.keys(flags) as Name[];
  const values = Object.fromEntries(names.map((name) => [name, flags[name].fallback])) as Record<
    Name,
    number
  >;
  let json = false;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--json') {
      json = true;
      continue;
    }
    const name = names.find((candidate) => arg === `--${candidate}`);
    const text = args[index + 1];
    if (name === undefined || text === undefined || !/^[0-9]{1,9}$/.test(text)) return undefined;
    index += 1;
    const value = Number(text);
    if (value < flags[name].min || value > flags[name].max) return undefined;
    values[name] = value;
  }
  return { values, json };
}
