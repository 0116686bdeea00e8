import type { NoteSigner } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import { integrateBatch } from '../integrate/integrate.ts';
import { createPhaseMeter } from '../meter.ts';
import { submitEntries } from '../store/submit.ts';
import { perSecond, syntheticSubmissions } from './workload.ts';

export interface AppendFigures {
  readonly entries: number;
  readonly batchSize: number;
  readonly checkpoints: number;
  readonly seconds: number;
  readonly appendsPerSecond: number;
  /** Microseconds per append: hashing, signing, checking measured; storage is the rest (SQL, transactions). */
  readonly microsecondsPerAppend: {
    readonly hashing: number;
    readonly storage: number;
    readonly signing: number;
    readonly checking: number;
    readonly total: number;
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;

/**
 * The log's real storage path, in-process (the workload's own generation is
 * not timed): each batch is one submitEntries
 * transaction (multi-row insert of the entries) and one integrateBatch
 * transaction (tree nodes, consistency self-check, signed checkpoint).
 */
export async function benchmarkAppends(
  database: Database,
  signer: NoteSigner,
  options: { entries: number; batchSize: number; progress: (done: number) => void },
): Promise<AppendFigures> {
  const meter = createPhaseMeter();
  const log = { origin: signer.name, signer };
  const now = () => new Date();
  let checkpoints = 0;
  const start = performance.now();
  for (let done = 0; done < options.entries; ) {
    const count = Math.min(options.batchSize, options.entries - done);
    const batch = syntheticSubmissions(done, count);
    await submitEntries(database, batch, 'bench', { now: now(), pendingEntriesMax: count, meter });
    const result = await integrateBatch(database, log, { batchSizeMax: count, now, publish: true, meter });
    if (result.appended !== count)
      throw new Error(`assertion failed: integrated ${result.appended} of ${count}`);
    checkpoints++;
    done += count;
    options.progress(done);
  }
  const elapsed = performance.now() - start;
  const { hashing, signing, checking } = meter.totals;
  const perAppend = (ms: number) => round2((ms * 1000) / options.entries);
  return {
    entries: options.entries,
    batchSize: options.batchSize,
    checkpoints,
    seconds: round2(elapsed / 1000),
    appendsPerSecond: perSecond(options.entries, elapsed),
    microsecondsPerAppend: {
      hashing: perAppend(hashing),
      storage: perAppend(elapsed - hashing - signing - checking),
      signing: perAppend(signing),
      checking: perAppend(checking),
      total: perAppend(elapsed),
    },
  };
}

/**
 * The baseline: what an unbatched log does, one entry per submission
 * transaction and one integration (with its own signed checkpoint) per entry.
 */
export async function benchmarkUnbatchedAppends(
  database: Database,
  signer: NoteSigner,
  options: { first: number; entries: number },
): Promise<{ entries: number; appendsPerSecond: number }> {
  const log = { origin: signer.name, signer };
  const now = () => new Date();
  const submissions = syntheticSubmissions(options.first, options.entries, 'baseline');
  const start = performance.now();
  for (const submission of submissions) {
    await submitEntries(database, [submission], 'bench', { now: now(), pendingEntriesMax: 1 });
    await integrateBatch(database, log, { batchSizeMax: 1, now, publish: true });
  }
  return {
    entries: options.entries,
    appendsPerSecond: perSecond(options.entries, performance.now() - start),
  };
}
