import { generateNoteKey, parseSignerKey } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import { migrateLog } from '../migrations.ts';
import { type AppendFigures, benchmarkAppends, benchmarkUnbatchedAppends } from './append.ts';
import { benchmarkHttpAppends, type HttpFigures } from './http.ts';
import { benchmarkConsistencyProofs, benchmarkInclusionProofs, type ProofFigures } from './proofs.ts';

export interface LogBenchmarkOptions {
  /** Entries appended through the batched storage path (the tree size proofs are measured at). */
  readonly entries: number;
  readonly batchSize: number;
  readonly proofs: number;
  /** Entries appended one per transaction and checkpoint, after the main run: the baseline. */
  readonly baselineEntries: number;
  /** Entries submitted over HTTP after the baseline; 0 skips it. */
  readonly httpEntries: number;
  readonly httpClients: number;
}

export interface LogBenchmarkResult {
  readonly appends: AppendFigures;
  readonly baseline: { readonly entries: number; readonly appendsPerSecond: number };
  readonly inclusionProofs: ProofFigures;
  readonly consistencyProofs: ProofFigures;
  readonly http?: HttpFigures | undefined;
}

export type BenchmarkProgress = (stage: string, done?: number, total?: number) => void;

/** Every figure of `mpay bench log`, on a fresh, migrated, empty database. */
export async function benchmarkLog(
  database: Database,
  options: LogBenchmarkOptions,
  progress: BenchmarkProgress,
): Promise<LogBenchmarkResult> {
  await migrateLog(database);
  const signer = await parseSignerKey(
    (await generateNoteKey('bench.log.mpay.example/transactions')).signerKey,
  );
  progress('appends', 0, options.entries);
  const appends = await benchmarkAppends(database, signer, {
    entries: options.entries,
    batchSize: options.batchSize,
    progress: (done) => progress('appends', done, options.entries),
  });
  progress('inclusion proofs');
  const inclusionProofs = await benchmarkInclusionProofs(database, options.entries, options.proofs, 100);
  progress('consistency proofs');
  const consistencyProofs = await benchmarkConsistencyProofs(database, options.entries, options.proofs, 20);
  progress('baseline: one entry per transaction and checkpoint');
  const baseline = await benchmarkUnbatchedAppends(database, signer, {
    first: options.entries,
    entries: options.baselineEntries,
  });
  if (options.httpEntries === 0) return { appends, baseline, inclusionProofs, consistencyProofs };
  progress('HTTP appends');
  const http = await benchmarkHttpAppends(database, signer, {
    first: options.entries + options.baselineEntries,
    entries: options.httpEntries,
    clients: options.httpClients,
    batchSizeMax: options.batchSize,
  });
  return { appends, baseline, inclusionProofs, consistencyProofs, http };
}
