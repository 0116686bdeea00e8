import type { CommandIo } from '../io.ts';

export const benchUsage = `Usage:
  mpay bench ledger [--json] [--clients N] [--transfers N]   batched ledger against the FOR UPDATE baseline
  mpay bench log [--json] [--entries N]                      log appends and proofs at N entries (default 1,000,000)
  mpay bench e2e [--profile ims|ims-custody|macro|banking] [--concurrency N] [--customers M] [--seconds S]
                 [--warmup W] [--processes] [--gateways G] [--tls] [--statements] [--data DIR | --url DIR_OR_URL] [--json]
                                                             payments end to end over HTTP (a platform it starts, or one
                                                             running here), against the crypto-only ceiling
  mpay bench idle [--seconds S] [--json]                    the platform doing nothing: backing off against polling
  mpay bench scrape [--payments N] [--scrapes K] [--json]    the gateway's GET /metrics against its history
  mpay bench e2e --help                                      every flag of one benchmark (ledger, log, e2e, idle, scrape)
`;

/** `mpay bench …`: each benchmark prints its figures and the baseline measured in the same run. */
export async function runBench(args: readonly string[], io: CommandIo): Promise<number> {
  const [which, ...rest] = args;
  if (rest.includes('--help') || rest.includes('-h')) {
    const usage = await usageOf(which);
    if (usage !== undefined) {
      io.stdout(usage);
      return 0;
    }
  }
  switch (which) {
    case 'ledger': {
      const { runBenchLedger } = await import('./ledger.ts');
      return runBenchLedger(rest, io);
    }
    case 'log': {
      const { runBenchLog } = await import('./log.ts');
      return runBenchLog(rest, io);
    }
    case 'e2e': {
      const { runBenchE2e } = await import('./e2e.ts');
      return runBenchE2e(rest, io);
    }
    case 'idle': {
      const { runBenchIdle } = await import('./idle.ts');
      return runBenchIdle(rest, io);
    }
    case 'scrape': {
      const { runBenchScrape } = await import('./scrape.ts');
      return runBenchScrape(rest, io);
    }
    case 'help':
    case '--help':
    case '-h':
      io.stdout(benchUsage);
      return 0;
    default:
      io.stderr(benchUsage);
      return 2;
  }
}

/** One benchmark's own usage (every flag), for `mpay bench NAME --help`. */
async function usageOf(which: string | undefined): Promise<string | undefined> {
  switch (which) {
    case 'ledger':
      return (await import('./ledger.ts')).benchLedgerUsage;
    case 'log':
      return (await import('./log.ts')).benchLogUsage;
    case 'e2e':
      return (await import('./e2e.ts')).benchE2eUsage;
    case 'idle':
      return (await import('./idle.ts')).benchIdleUsage;
    case 'scrape':
      return (await import('./scrape.ts')).benchScrapeUsage;
    default:
      return undefined;
  }
}
