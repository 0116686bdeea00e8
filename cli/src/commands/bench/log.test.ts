import { describe, expect, it } from 'vitest';
import { parseBenchLogArguments, runBenchLog } from './log.ts';

function memoryIo() {
  const io = {
    out: '',
    err: '',
    stdout: (text: string) => {
      io.out += text;
    },
    stderr: (text: string) => {
      io.err += text;
    },
  };
  return io;
}

describe('mpay bench log', () => {
  it('prints exactly one JSON object with the figures, the breakdown, the baseline and the database', async () => {
    const io = memoryIo();
    const args = [
      '--json',
      '--entries',
      '50',
      '--batch',
      '16',
      '--proofs',
      '20',
      '--baseline',
      '5',
      '--http',
      '10',
      '--clients',
      '2',
    ];
    expect(await runBenchLog(args, io)).toBe(0);
    expect(io.out.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(io.out);
    expect(report).toMatchObject({
      benchmark: 'log',
      database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
      entries: 50,
      batch_size: 16,
      checkpoints: 4,
      inclusion_proofs: { count: 20, database_reads_per_proof: 1, verified: 20 },
      consistency_proofs: { count: 20, database_reads_per_proof: 1, verified: 20 },
      baseline: { entries: 5 },
      http: { entries: 10, clients: 2, batched: { entries_per_request: 10 } },
    });
    for (const figure of [
      report.appends_per_second,
      report.proofs_per_second,
      report.baseline.appends_per_second,
      report.http.batched.submissions_per_second,
    ]) {
      expect(Number.isSafeInteger(figure) && figure > 0).toBe(true);
    }
    // O(log n): at most 2 * log2(50) stored hashes for any proof in a tree of 50 leaves.
    expect(report.inclusion_proofs.nodes_per_proof).toBeLessThanOrEqual(2 * Math.log2(50));
    const parts = report.append_microseconds;
    expect(parts.hashing + parts.storage + parts.signing + parts.checking).toBeCloseTo(parts.total, 0);
    expect(io.err).toMatch(/bench log: appends 50\/50\n/);
  });

  it('refuses a wrong command line with the usage and exit status 2', async () => {
    for (const args of [
      ['--entries'],
      ['--entries', '1'],
      ['--entries', 'ten'],
      ['--batch', '0'],
      ['--frobnicate', '1'],
      ['--clients', '65'],
    ]) {
      const io = memoryIo();
      expect(await runBenchLog(args, io), args.join(' ')).toBe(2);
      expect(io.err).toMatch(/^Usage: mpay bench log/);
    }
    expect(parseBenchLogArguments([])?.options).toMatchObject({ entries: 1_000_000, batchSize: 10_000 });
  });
});
