import { randomBytes } from 'node:crypto';
import { type BankLedger, createBankLedger, createBankLimits, migrateBank } from '@mpay/bank';
import { type Database, dropPostgresSchema, openDatabase } from '@mpay/storage';
import type { CommandIo } from '../io.ts';
import {
  type LedgerWorkload,
  openBenchAccounts,
  type PhaseFigures,
  runLedgerPhase,
} from './ledger-workload.ts';

export const benchLedgerUsage = `Usage: mpay bench ledger [--json] [--clients N] [--transfers N] [--accounts N]
  --clients N     concurrent clients, each with one request in flight (default 64, 1..1024)
  --transfers N   requests per phase (default 20000, 2..10000000)
  --accounts N    funded customer accounts paying each other at random (default 10000, 2..1000000)
  --json          one JSON object on stdout instead of text
Runs on DATABASE_URL (PostgreSQL, a fresh schema dropped at the end), else on an in-memory PGlite.
`;

interface BenchLedgerArguments {
  readonly json: boolean;
  readonly clients: number;
  readonly transfers: number;
  readonly accounts: number;
}

const integerFlags = {
  clients: { default: 64, min: 1, max: 1024 },
  transfers: { default: 20_000, min: 2, max: 10_000_000 },
  accounts: { default: 10_000, min: 2, max: 1_000_000 },
} as const;

/** The largest pool the baseline gets: one connection per client, up to this many. */
const baselinePoolSizeMax = 32;
/** Share of payments made as a hold and its post. */
const pendingShare = 0.2;

/** `--name value` or `--name=value`; undefined (with the reason on stderr) for anything else. */
export function parseBenchLedgerArguments(
  args: readonly string[],
  io: CommandIo,
): BenchLedgerArguments | undefined {
  const values: Partial<Record<keyof typeof integerFlags, number>> = {};
  let json = false;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--json') {
      json = true;
      continue;
    }
    const match = /^--(clients|transfers|accounts)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      io.stderr(`mpay bench ledger: unknown argument ${arg}\n${benchLedgerUsage}`);
      return undefined;
    }
    const name = match[1] as keyof typeof integerFlags;
    const text = match[2] ?? args[++index] ?? '';
    const { min, max } = integerFlags[name];
    if (!/^[0-9]{1,8}$/.test(text) || Number(text) < min || Number(text) > max) {
      io.stderr(`mpay bench ledger: --${name} must be an integer in ${min}..${max}\n`);
      return undefined;
    }
    values[name] = Number(text);
  }
  const pick = (name: keyof typeof integerFlags) => values[name] ?? integerFlags[name].default;
  return { json, clients: pick('clients'), transfers: pick('transfers'), accounts: pick('accounts') };
}

interface PhaseReport extends PhaseFigures {
  readonly auditOk: boolean;
}

async function runPhase(
  name: string,
  ledger: BankLedger,
  workload: LedgerWorkload,
  io: CommandIo,
): Promise<PhaseReport> {
  io.stderr(`${name}: running…\n`);
  const figures = await runLedgerPhase(ledger, workload, (done) =>
    io.stderr(`${name}: ${done}/${workload.transfers}\n`),
  );
  const audit = await ledger.audit();
  io.stderr(`${name}: audit ${audit.ok ? 'ok' : `FAILED ${JSON.stringify(audit.violations)}`}\n`);
  return { ...figures, auditOk: audit.ok };
}

async function serverVersion(database: Database): Promise<string> {
  const { rows } = await database.query<{ version: string }>(
    "SELECT current_setting('server_version') AS version",
  );
  return rows[0]?.version.split(' ')[0] ?? 'unknown';
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

interface BenchResult {
  readonly options: BenchLedgerArguments;
  readonly database: Database;
  readonly version: string;
  readonly poolSize: number;
  readonly baseline: PhaseReport;
  readonly batched: PhaseReport;
  readonly batches: number;
}

function jsonOf(result: BenchResult): Record<string, unknown> {
  const { options, baseline, batched } = result;
  return {
    transfers_per_second: Math.round(batched.transfersPerSecond),
    baseline_transfers_per_second: Math.round(baseline.transfersPerSecond),
    ratio: round(batched.transfersPerSecond / baseline.transfersPerSecond, 2),
    p50_ms: round(batched.p50Ms, 2),
    p99_ms: round(batched.p99Ms, 2),
    baseline_p50_ms: round(baseline.p50Ms, 2),
    baseline_p99_ms: round(baseline.p99Ms, 2),
    clients: options.clients,
    transfers: options.transfers,
    accounts: options.accounts,
    database: result.database.backend,
    database_version: result.version,
    pool_size: result.database.backend === 'postgres' ? result.poolSize : 1,
    batches: result.batches,
    refused: batched.refused,
    baseline_refused: baseline.refused,
    audit_ok: baseline.auditOk && batched.auditOk,
  };
}

function connections(result: BenchResult): string {
  return result.database.backend === 'postgres' ? `pool of ${result.poolSize}` : 'one connection';
}

function textOf(result: BenchResult): string {
  const { options, baseline, batched } = result;
  const rate = (figures: PhaseFigures) => Math.round(figures.transfersPerSecond).toLocaleString('en');
  const line = (name: string, figures: PhaseReport, how: string) =>
    `${name.padEnd(9)} ${rate(figures).padStart(7)} transfers/s  p50 ${figures.p50Ms.toFixed(1)} ms  ` +
    `p99 ${figures.p99Ms.toFixed(1)} ms  audit ${figures.auditOk ? 'ok' : 'FAILED'}  (${how})\n`;
  const database =
    result.database.backend === 'postgres'
      ? `PostgreSQL ${result.version}`
      : `PGlite (PostgreSQL ${result.version}) in memory`;
  return (
    `database  ${database}\n` +
    `workload  ${options.clients} clients, ${options.transfers} requests per phase ` +
    `(${pendingShare * 100}% of payments as a hold and its post), ${options.accounts} accounts\n` +
    line(
      'baseline',
      baseline,
      `one transaction per transfer, SELECT … FOR UPDATE in id order, ${connections(result)}`,
    ) +
    line(
      'batched',
      batched,
      `${result.batches} batches, ${(options.transfers / Math.max(1, result.batches)).toFixed(1)} transfers per batch`,
    ) +
    `ratio     ${(batched.transfersPerSecond / baseline.transfersPerSecond).toFixed(2)}× the baseline\n`
  );
}

async function bench(database: Database, options: BenchLedgerArguments, poolSize: number, io: CommandIo) {
  await migrateBank(database);
  const version = await serverVersion(database);
  io.stderr(
    `mpay bench ledger: ${database.backend} ${version}, ${options.clients} clients, ${options.transfers} requests per phase, ${options.accounts} accounts\n`,
  );
  const limits = createBankLimits({ auditAccountsMax: options.accounts + 1 });
  const baselineLedger = createBankLedger(database, { bankName: 'xbank', limits, batching: false });
  const batchedLedger = createBankLedger(database, { bankName: 'xbank', limits });
  io.stderr('opening and funding the accounts…\n');
  const accountIds = await openBenchAccounts(batchedLedger, options.accounts, poolSize);
  const batchesBefore = batchedLedger.batchStatistics()?.batches ?? 0;
  const workload = { accountIds, clients: options.clients, transfers: options.transfers, pendingShare };
  const baseline = await runPhase('baseline', baselineLedger, workload, io);
  const batched = await runPhase('batched', batchedLedger, workload, io);
  const batches = (batchedLedger.batchStatistics()?.batches ?? 0) - batchesBefore;
  return { options, database, version, poolSize, baseline, batched, batches };
}

/**
 * `mpay bench ledger`: the same workload on the textbook path (one
 * transaction per transfer, both accounts locked FOR UPDATE in id order) and
 * on the batched path, in the same run on the same database; after each
 * phase the audit must hold (exit 1 if not).
 */
export async function runBenchLedger(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseBenchLedgerArguments(args, io);
  if (options === undefined) return 2;
  const url = process.env.DATABASE_URL || undefined;
  const schema = `bench_ledger_${randomBytes(5).toString('hex')}`;
  const poolSize = Math.min(options.clients, baselinePoolSizeMax);
  const database = await openDatabase({ url, schema, poolSizeMax: poolSize });
  let result: BenchResult;
  try {
    result = await bench(database, options, poolSize, io);
  } finally {
    await database.close();
    if (url !== undefined) await dropPostgresSchema(url, schema);
  }
  io.stdout(options.json ? `${JSON.stringify(jsonOf(result))}\n` : textOf(result));
  return result.baseline.auditOk && result.batched.auditOk ? 0 : 1;
}
