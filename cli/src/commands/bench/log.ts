import { randomBytes } from 'node:crypto';
import { benchmarkLog, type LogBenchmarkOptions, type LogBenchmarkResult } from '@mpay/log-service';
import { type Database, dropPostgresSchema, openDatabase } from '@mpay/storage';
import type { CommandIo } from '../io.ts';

export const benchLogUsage = `Usage: mpay bench log [--json] [--entries N] [--batch N] [--proofs N] [--baseline N] [--http N] [--clients N]
  Appends N entries (default 1,000,000) through the log's storage path in batches (default 10,000 per
  transaction and signed checkpoint), then measures random inclusion and consistency proofs at that size,
  a baseline of one entry per transaction and checkpoint (default 500 entries), and signed HTTP appends
  (default 2,000 over 4 clients; 0 skips), then as many in signed batches of 64 (POST /entry-batches). DATABASE_URL selects PostgreSQL (a fresh schema, dropped
  afterwards); otherwise an in-memory PGlite. Progress on stderr; --json prints one JSON object.
`;

interface Flag {
  readonly name: keyof LogBenchmarkOptions;
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
}

const flags: Readonly<Record<string, Flag>> = {
  '--entries': { name: 'entries', min: 2, max: 10_000_000, fallback: 1_000_000 },
  '--batch': { name: 'batchSize', min: 1, max: 100_000, fallback: 10_000 },
  '--proofs': { name: 'proofs', min: 1, max: 1_000_000, fallback: 10_000 },
  '--baseline': { name: 'baselineEntries', min: 1, max: 100_000, fallback: 500 },
  '--http': { name: 'httpEntries', min: 0, max: 1_000_000, fallback: 2_000 },
  '--clients': { name: 'httpClients', min: 1, max: 64, fallback: 4 },
};

/** The options of the command line, or undefined for a wrong one. */
export function parseBenchLogArguments(
  args: readonly string[],
): { options: LogBenchmarkOptions; json: boolean } | undefined {
  const values = new Map(Object.values(flags).map((flag) => [flag.name, flag.fallback]));
  let json = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json') {
      json = true;
      continue;
    }
    const flag = flags[args[i]!];
    const text = args[++i];
    if (flag === undefined || text === undefined || !/^[0-9]{1,9}$/.test(text)) return undefined;
    const value = Number(text);
    if (value < flag.min || value > flag.max) return undefined;
    values.set(flag.name, value);
  }
  return { options: Object.fromEntries(values) as unknown as LogBenchmarkOptions, json };
}

async function openBenchDatabase(): Promise<{
  database: Database;
  backend: string;
  drop: () => Promise<void>;
}> {
  const url = process.env.DATABASE_URL;
  const schema = `bench_log_${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ url, schema, poolSizeMax: 4 });
  const drop =
    url === undefined || url === '' ? async () => undefined : () => dropPostgresSchema(url, schema);
  return { database, backend: database.backend, drop };
}

/** The one JSON object of --json: the figures the issue asks for first, then the details. */
export function benchLogReport(result: LogBenchmarkResult, database: string) {
  const { appends, baseline, inclusionProofs, consistencyProofs, http } = result;
  return {
    benchmark: 'log',
    database,
    entries: appends.entries,
    appends_per_second: appends.appendsPerSecond,
    proofs_per_second: inclusionProofs.perSecond,
    batch_size: appends.batchSize,
    checkpoints: appends.checkpoints,
    seconds: appends.seconds,
    append_microseconds: appends.microsecondsPerAppend,
    inclusion_proofs: snake(inclusionProofs),
    consistency_proofs: snake(consistencyProofs),
    baseline: {
      method: 'one entry per transaction, one signed checkpoint per entry',
      entries: baseline.entries,
      appends_per_second: baseline.appendsPerSecond,
      speedup:
        baseline.appendsPerSecond === 0
          ? null
          : Math.round((appends.appendsPerSecond / baseline.appendsPerSecond) * 10) / 10,
    },
    http:
      http === undefined
        ? null
        : {
            entries: http.entries,
            clients: http.clients,
            submissions_per_second: http.submissionsPerSecond,
            appends_per_second: http.appendsPerSecond,
            batched: {
              method: 'as many more entries in signed POST /entry-batches',
              entries_per_request: http.batched.entriesPerRequest,
              submissions_per_second: http.batched.submissionsPerSecond,
              speedup:
                http.submissionsPerSecond === 0
                  ? null
                  : Math.round((http.batched.submissionsPerSecond / http.submissionsPerSecond) * 10) / 10,
            },
          },
  };
}

function snake(figures: LogBenchmarkResult['inclusionProofs']) {
  return {
    count: figures.count,
    per_second: figures.perSecond,
    database_reads_per_proof: figures.databaseReadsPerProof,
    nodes_per_proof: figures.nodesPerProof,
    verified: figures.verified,
  };
}

function text(report: ReturnType<typeof benchLogReport>): string {
  const us = report.append_microseconds;
  const lines = [
    `mpay bench log (${report.database}): ${report.entries} entries in batches of ${report.batch_size}`,
    `  appends      ${report.appends_per_second}/s  (${report.checkpoints} signed checkpoints, ${report.seconds} s)`,
    `  per append   ${us.total} µs = hashing ${us.hashing} + storage ${us.storage} + signing ${us.signing} + checking ${us.checking}`,
    `  baseline     ${report.baseline.appends_per_second}/s  (${report.baseline.method}, ${report.baseline.entries} entries; ${report.baseline.speedup}x)`,
    `  inclusion    ${report.inclusion_proofs.per_second} proofs/s, ${report.inclusion_proofs.database_reads_per_proof} read and ${report.inclusion_proofs.nodes_per_proof} nodes per proof`,
    `  consistency  ${report.consistency_proofs.per_second} proofs/s, ${report.consistency_proofs.database_reads_per_proof} read and ${report.consistency_proofs.nodes_per_proof} nodes per proof`,
  ];
  if (report.http !== null) {
    lines.push(
      `  HTTP         ${report.http.submissions_per_second} signed submissions/s, ${report.http.appends_per_second} appends/s with integration (${report.http.clients} clients, ${report.http.entries} entries)`,
      `  HTTP batched ${report.http.batched.submissions_per_second} entries/s in signed batches of ${report.http.batched.entries_per_request} (${report.http.batched.speedup}x the single submissions)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `mpay bench log`: the log's append and proof rates against a baseline in the same run. */
export async function runBenchLog(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseBenchLogArguments(args);
  if (parsed === undefined) {
    io.stderr(benchLogUsage);
    return 2;
  }
  const { database, backend, drop } = await openBenchDatabase();
  try {
    let reported = -1;
    const result = await benchmarkLog(database, parsed.options, (stage, done, total) => {
      const tenth = done === undefined || total === undefined ? -1 : Math.floor((done * 10) / total);
      if (done !== undefined && tenth === reported) return;
      reported = tenth;
      io.stderr(done === undefined ? `bench log: ${stage}\n` : `bench log: ${stage} ${done}/${total}\n`);
    });
    const report = benchLogReport(result, backend);
    io.stdout(parsed.json ? `${JSON.stringify(report)}\n` : text(report));
    return 0;
  } finally {
    await database.close();
    await drop();
  }
}
