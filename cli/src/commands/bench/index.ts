import type { CommandIo } from '../io.ts';

export const benchUsage = `Usage:
  mpay bench ledger [--json] [--clients N] [--transfers N]   batched ledger against the FOR UPDATE baseline
  mpay bench log [--json] [--entries N]                      log appends and proofs at N entries (default 1,000,000)
`;

/** `mpay bench …`: each benchmark prints its figures and the baseline measured in the same run. */
export async function runBench(args: readonly string[], io: CommandIo): Promise<number> {
  const [which, ...rest] = args;
  switch (which) {
    case 'ledger': {
      const { runBenchLedger } = await import('./ledger.ts');
      return runBenchLedger(rest, io);
    }
    case 'log': {
      const { runBenchLog } = await import('./log.ts');
      return runBenchLog(rest, io);
    }
    default:
      io.stderr(benchUsage);
      return 2;
  }
}
