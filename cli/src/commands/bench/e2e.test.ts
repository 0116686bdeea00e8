import { testBackend } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../io.ts';
import { runBenchE2e } from './e2e.ts';

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

describe(`mpay bench e2e (${testBackend()})`, () => {
  it('--json: payments end to end at concurrency 2 for 5 s (long enough for a busy machine to finish some), every figure present, the audit holds', async () => {
    const io = memoryIo();
    const code = await runBenchE2e(['--concurrency', '2', '--seconds', '5', '--json'], io);
    expect(io.out.trim().split('\n')).toHaveLength(1);
    const figures = JSON.parse(io.out) as Record<string, unknown> & {
      parties: Record<string, Record<string, number>>;
      crypto: Record<string, unknown> & { servers: Record<string, number>; driver: Record<string, number> };
    };
    expect(figures.failure_samples).toEqual([]);
    expect(code).toBe(0);
    expect(figures).toMatchObject({
      benchmark: 'e2e',
      profile: 'ims',
      concurrency: 2,
      database: testBackend(),
      failures: 0,
      audit_ok: true,
    });
    expect(figures.payments as number).toBeGreaterThan(0);
    for (const field of [
      'payments_per_second',
      'p50_ms',
      'p95_ms',
      'p99_ms',
      'server_cpu_ms_per_payment',
      'driver_cpu_ms_per_payment',
    ]) {
      expect(figures[field], field).toBeTypeOf('number');
      expect(figures[field] as number, field).toBeGreaterThan(0);
    }
    expect(figures.p99_ms as number).toBeGreaterThanOrEqual(figures.p50_ms as number);
    for (const party of ['device', 'merchant']) {
      for (const field of ['bytes_sent', 'bytes_received', 'round_trips'])
        expect(figures.parties[party]?.[field], `${party} ${field}`).toBeGreaterThan(0);
    }
    // Both sides sign and verify: the counts name ECDSA on each, and the ceiling is a rate above zero.
    expect(Object.keys(figures.crypto.servers).some((kind) => kind.startsWith('verify ECDSA'))).toBe(true);
    expect(Object.keys(figures.crypto.driver).some((kind) => kind.startsWith('sign ECDSA'))).toBe(true);
    expect(figures.crypto.ceiling_payments_per_second as number).toBeGreaterThan(0);
    expect(figures.crypto.ratio as number).toBeGreaterThan(0);
  });

  it('refuses the profiles not built yet and wrong flags (exit 2) before starting anything', async () => {
    for (const profile of ['ims-custody', 'macro', 'banking']) {
      const io = memoryIo();
      expect(await runBenchE2e(['--profile', profile], io), profile).toBe(2);
      expect(io.err).toContain(`profile ${profile} is not built yet`);
      expect(io.out).toBe('');
    }
    for (const args of [
      ['--profile', 'fast'],
      ['--concurrency', '0'],
      ['--seconds'],
      ['--gateways', '2'],
      ['e2e'],
    ]) {
      const io = memoryIo();
      expect(await runBenchE2e(args, io), args.join(' ')).toBe(2);
      expect(io.err).toMatch(/mpay bench e2e: /);
      expect(io.out).toBe('');
    }
  });
});
