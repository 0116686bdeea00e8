import { testBackend } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../io.ts';
import { parseBenchLedgerArguments, runBenchLedger } from './ledger.ts';

function memoryIo(): CommandIo & { out: string; err: string } {
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

describe(`mpay bench ledger (${testBackend()})`, () => {
  it('--json prints one object with both phases, on the database it names, and the audit holds', async () => {
    const io = memoryIo();
    const code = await runBenchLedger(
      ['--transfers', '200', '--clients', '4', '--accounts=20', '--json'],
      io,
    );
    expect(code).toBe(0);
    expect(io.out.trim().split('\n')).toHaveLength(1);
    const figures = JSON.parse(io.out) as Record<string, unknown>;
    expect(figures).toMatchObject({
      clients: 4,
      transfers: 200,
      accounts: 20,
      database: testBackend(),
      audit_ok: true,
    });
    for (const field of [
      'transfers_per_second',
      'baseline_transfers_per_second',
      'ratio',
      'p50_ms',
      'p99_ms',
      'baseline_p50_ms',
      'baseline_p99_ms',
    ]) {
      expect(figures[field], field).toBeTypeOf('number');
      expect(figures[field] as number, field).toBeGreaterThan(0);
    }
    expect(figures.p99_ms as number).toBeGreaterThanOrEqual(figures.p50_ms as number);
    expect(io.err).toContain('baseline: audit ok');
    expect(io.err).toContain('batched: audit ok');
  });

  it('refuses unknown arguments and out-of-range numbers (exit 2) before touching a database', async () => {
    for (const args of [['--clients', '0'], ['--transfers'], ['--accounts', '1e3'], ['--fast'], ['ledger']]) {
      const io = memoryIo();
      expect(await runBenchLedger(args, io), args.join(' ')).toBe(2);
      expect(io.err).toMatch(/mpay bench ledger: /);
      expect(io.out).toBe('');
    }
  });

  it('takes --name value and --name=value, with defaults for the rest', () => {
    const io = memoryIo();
    expect(parseBenchLedgerArguments(['--clients=8', '--transfers', '500'], io)).toEqual({
      json: false,
      clients: 8,
      transfers: 500,
      accounts: 10_000,
    });
  });
});
