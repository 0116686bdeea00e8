/**
 * Where the time of an append goes, for `mpay bench log` and metrics:
 * hashing (leaf data, leaf and node hashes), signing (the checkpoint) and
 * checking (the log's own consistency check before it signs). Storage is the
 * rest: SQL statements, transactions and commits.
 */
export type Phase = 'hashing' | 'signing' | 'checking';

export interface PhaseMeter {
  add(phase: Phase, milliseconds: number): void;
}

/** Runs `work`, adding its wall time to `phase` when a meter is given. */
export async function timed<T>(
  meter: PhaseMeter | undefined,
  phase: Phase,
  work: () => Promise<T>,
): Promise<T> {
  if (meter === undefined) return work();
  const start = performance.now();
  try {
    return await work();
  } finally {
    meter.add(phase, performance.now() - start);
  }
}

/** A meter that sums milliseconds per phase. */
export function createPhaseMeter(): PhaseMeter & { readonly totals: Readonly<Record<Phase, number>> } {
  const totals: Record<Phase, number> = { hashing: 0, signing: 0, checking: 0 };
  return {
    totals,
    add(phase, milliseconds) {
      totals[phase] += milliseconds;
    },
  };
}
