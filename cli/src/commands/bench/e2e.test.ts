import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropPostgresSchema, testBackend } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { platformProcessNames } from '../../platform/processes-service.ts';
import { type Platform, platformSchemas, startPlatform } from '../../platform/start.ts';
import type { CommandIo } from '../io.ts';
import { ensurePlatformPki } from '../pki-platform.ts';
import { writeDeployment } from '../up.ts';
import { benchGatewayLimits, benchPolicy, runBenchE2e } from './e2e.ts';

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

type Figures = Record<string, unknown> & {
  parties: Record<string, Record<string, number>>;
  crypto: Record<string, unknown> & { servers: Record<string, number>; driver: Record<string, number> };
};

/** A run with --json that completed: one line of figures, no failure, exit 0. */
async function completedRun(args: readonly string[], io = memoryIo()): Promise<Figures> {
  const code = await runBenchE2e([...args, '--json'], io);
  expect(io.out.trim().split('\n'), io.err).toHaveLength(1);
  const figures = JSON.parse(io.out) as Figures;
  expect(figures.failure_samples).toEqual([]);
  expect(code).toBe(0);
  return figures;
}

describe(`mpay bench e2e (${testBackend()})`, () => {
  it('--json --tls: payments end to end at concurrency 2 for 2 s over HTTPS, HTTP/2 offered (the window stays open to the first completion on a busy machine), every figure present, the audit holds', async () => {
    const io = memoryIo();
    const processFetch = globalThis.fetch;
    // --tls as a phone meets the platform (one run: CI's time; the plain HTTP runs are the profiles' below).
    const code = await runBenchE2e(
      ['--concurrency', '2', '--seconds', '2', '--warmup', '1', '--tls', '--statements', '--json'],
      io,
    );
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
      warmup_seconds: 1,
      database: testBackend(),
      transport: 'https, h2 offered',
      failures: 0,
      audit_ok: true,
    });
    // The fetch that trusted the bench's CA is gone with it.
    expect(globalThis.fetch).toBe(processFetch);
    expect(figures.payments as number).toBeGreaterThan(0);
    // The services share this process: no CPU per service process.
    expect(figures).not.toHaveProperty('server_cpu_ms_per_payment_by_process');
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
    // The window's halves: each half's CPU per payment, or null when a half of this short window saw no
    // payment complete (a busy machine).
    const halves = figures.server_cpu_ms_per_payment_halves as { first: number; second: number } | null;
    if (halves !== null) {
      expect(halves.first).toBeGreaterThan(0);
      expect(halves.second).toBeGreaterThan(0);
      // The whole window's figure is their mean weighted by payments: between them (each rounded to 0.1).
      const whole = figures.server_cpu_ms_per_payment as number;
      expect(whole).toBeGreaterThanOrEqual(Math.min(halves.first, halves.second) - 0.1);
      expect(whole).toBeLessThanOrEqual(Math.max(halves.first, halves.second) + 0.1);
    }
    expect(figures.still_warming).toBeTypeOf('boolean');
    // The part in the kernel of the servers' CPU, and of the PostgreSQL server's (PGlite: inside the servers').
    expect(figures.server_cpu_kernel_share as number).toBeGreaterThan(0);
    expect(figures.server_cpu_kernel_share as number).toBeLessThan(1);
    if (testBackend() === 'postgres')
      expect(figures.database_server_cpu_kernel_share as number).toBeGreaterThan(0);
    else expect(figures.database_server_cpu_kernel_share).toBeNull();
    // The platform runs in this process: every service's statements are counted, the gateway's and both banks' at least.
    const statements = figures.statements_per_payment as Record<string, { statements: number }>;
    for (const service of ['gateway', 'xbank', 'ybank'])
      expect(statements[service]?.statements, `${service} statements`).toBeGreaterThan(0);
    // The requests each service answered: three a payment at the gateway (the merchant's alias lookup
    // and request, the device's confirmation), one at each bank (the payment order, the funds transfer);
    // payments under way at the window's edges count in part, so only more than one and some.
    const requests = figures.http_requests_per_payment as Record<string, number>;
    expect(requests.gateway as number).toBeGreaterThan(1);
    for (const service of ['xbank', 'ybank'])
      expect(requests[service] as number, `${service} requests`).toBeGreaterThan(0);
    // --statements: each service's texts with their count per payment, most first, adding up to its statements.
    const texts = figures.statement_texts as Record<string, { per_payment: number; text: string }[]>;
    for (const service of ['gateway', 'xbank', 'ybank']) {
      const rows = texts[service] ?? [];
      expect(rows.length, `${service} texts`).toBeGreaterThan(0);
      expect(rows.map((row) => row.per_payment)).toEqual(
        rows.map((row) => row.per_payment).sort((a, b) => b - a),
      );
      const sum = rows.reduce((total, row) => total + row.per_payment, 0);
      // Both rounded per payment (one decimal for the count, two per text): within a rounding step per text.
      expect(Math.abs(sum - (statements[service]?.statements ?? 0))).toBeLessThanOrEqual(
        0.06 + rows.length * 0.005,
      );
    }
    expect(texts.gateway?.some((row) => row.text.startsWith('INSERT INTO seen_nonces'))).toBe(true);
    for (const party of ['device', 'merchant']) {
      for (const field of ['bytes_sent', 'bytes_received', 'round_trips'])
        expect(figures.parties[party]?.[field], `${party} ${field}`).toBeGreaterThan(0);
    }
    // The device's bytes on the wire: TLS records, through the counting proxy.
    for (const field of ['wire_bytes_sent', 'wire_bytes_received'])
      expect(figures.parties.device?.[field], field).toBeGreaterThan(0);
    // Both sides sign and verify: the counts name ECDSA on each (the servers' through node:crypto, the driver's
    // through WebCrypto, as a phone's), and the ceiling is a rate above zero.
    expect(
      Object.keys(figures.crypto.servers).some((kind) => kind.startsWith('node:crypto verify ES256')),
    ).toBe(true);
    expect(Object.keys(figures.crypto.driver).some((kind) => kind.startsWith('sign ECDSA'))).toBe(true);
    expect(figures.crypto.ceiling_payments_per_second as number).toBeGreaterThan(0);
    expect(figures.crypto.ratio as number).toBeGreaterThan(0);
  });

  it('--processes: each service in its own process; each counts its own crypto and statements, the temporary data folder is removed', async () => {
    // Plain HTTP (CI's time: seven processes start here); --data over HTTPS is the smoke runs' below.
    const io = memoryIo();
    const figures = await completedRun(
      ['--processes', '--concurrency', '1', '--seconds', '1', '--warmup', '0'],
      io,
    );
    expect(figures).toMatchObject({
      database: testBackend(),
      servers: '7 processes, one per service',
      transport: 'http',
      failures: 0,
      audit_ok: true,
    });
    expect(figures.payments as number).toBeGreaterThan(0);
    // Read from /proc: every service process and this one, the driver left out.
    expect(figures.server_cpu_ms_per_payment as number).toBeGreaterThan(0);
    // And each service process's apart, a part of that total (read a moment apart: not summed here).
    const byProcess = figures.server_cpu_ms_per_payment_by_process as Record<string, number | null>;
    expect(Object.keys(byProcess).sort()).toEqual([...platformProcessNames].sort());
    expect(byProcess.gateway as number).toBeGreaterThan(0);
    for (const [name, ms] of Object.entries(byProcess))
      expect(ms as number, name).toBeLessThan(figures.server_cpu_ms_per_payment as number);
    // Counted in the service processes and summed: the gateway's and both banks' statements, the servers' ECDSA.
    const statements = figures.statements_per_payment as Record<string, { statements: number }>;
    for (const service of ['gateway', 'xbank', 'ybank'])
      expect(statements[service]?.statements, `${service} statements`).toBeGreaterThan(0);
    // And their requests, counted in each process and summed.
    const requests = figures.http_requests_per_payment as Record<string, number>;
    for (const service of ['gateway', 'xbank', 'ybank'])
      expect(requests[service] as number, `${service} requests`).toBeGreaterThan(0);
    expect(
      Object.keys(figures.crypto.servers).some((kind) => kind.startsWith('node:crypto verify ES256')),
    ).toBe(true);
    expect(figures.crypto.ceiling_payments_per_second as number).toBeGreaterThan(0);
    // Its own folder, as its progress named it, is gone (another run's on this machine may come and go).
    const dataDir = /its data in (\S+) \(removed at the end\)/.exec(io.err)?.[1];
    expect(dataDir, io.err).toMatch(/mpay-bench-processes-/);
    await expect(stat(dataDir as string)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses wrong flags and a platform it cannot drive (exit 2) before starting anything', async () => {
    const emptyDir = await mkdtemp(join(tmpdir(), 'mpay-bench-empty-'));
    try {
      for (const [args, message] of [
        [['--profile', 'fast'], '--profile must be one of ims, ims-custody, macro, banking'],
        [['--concurrency', '0'], '--concurrency must be an integer in 1..64'],
        [['--seconds'], '--seconds must be an integer'],
        [['--warmup', '601'], '--warmup must be an integer in 0..600'],
        [['--warmup=-1'], '--warmup must be an integer in 0..600'],
        [['--warmup'], '--warmup must be an integer in 0..600'],
        [['--warmup', 'abc'], '--warmup must be an integer in 0..600'],
        [
          ['--profile', 'banking', '--warmup', '600', '--seconds', '901'],
          '--profile banking: --warmup and --seconds add up to at most 1500 s',
        ],
        [['--customers', '0'], '--customers must be an integer in 1..1024'],
        [['--customers', '1025'], '--customers must be an integer in 1..1024'],
        [
          ['--concurrency', '4', '--customers', '3'],
          '--customers (3) must be at least --concurrency (4): each lane pays for one customer at a time',
        ],
        [['--gateways', '9'], '--gateways must be an integer in 1..8'],
        [['--gateways', '2', '--data', emptyDir], '--gateways starts its own platform'],
        [['--tls', '--data', emptyDir], '--tls starts its own platform'],
        [
          ['--statements', '--data', emptyDir],
          '--statements reads the statements of the services in this process',
        ],
        [['--processes', '--data', emptyDir], '--processes starts its own platform'],
        [['--processes', '--gateways', '2'], 'leave out --gateways'],
        [['--processes', '--statements'], 'leave out --statements'],
        [['--fast'], 'unknown argument --fast'],
        [['e2e'], 'unknown argument e2e'],
        [['--data'], '--data needs a folder'],
        [['--url', 'http://192.0.2.7:4100'], 'is not on loopback'],
        [['--url', 'ftp://127.0.0.1/'], 'is not an http(s) URL'],
        [['--data', join(emptyDir, 'absent')], 'is not a folder'],
        [['--data', emptyDir], `no deployment.json in ${emptyDir}`],
      ] as const) {
        const io = memoryIo();
        expect(await runBenchE2e(args, io), args.join(' ')).toBe(2);
        expect(io.err).toContain(message);
        expect(io.out).toBe('');
      }
    } finally {
      await rm(emptyDir, { recursive: true, force: true });
    }
  });
});

/**
 * The other profiles, each for a second at concurrency 1 (a smoke run: that
 * payments complete and every figure is there), against ONE platform started
 * here on HTTPS with a data folder and a deployment.json, driven as a running one
 * (--data, --url): the server CPU read from /proc, the platform's crypto
 * counted (it runs in this process).
 */
describe(`mpay bench e2e against a running platform: ims-custody, macro, banking (${testBackend()})`, () => {
  const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const schemaPrefix = `bench_e2e_url_${randomBytes(4).toString('hex')}_`;
  let dataDir: string;
  let platform: Platform | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-bench-e2e-'));
    // HTTPS as `mpay up` serves by default: the bench must trust the deployment's CA to drive it.
    await ensurePlatformPki(dataDir);
    // Ready when startPlatform resolves; the deadline names a hang.
    platform = await within(
      startPlatform({
        dataDir,
        databaseUrl,
        schemaPrefix,
        securityPolicy: benchPolicy,
        gatewayLimits: benchGatewayLimits,
        tls: { dataDir },
      }),
      { deadlineMs: platformStartDeadlineMs, what: 'the platform (startPlatform) to start' },
    );
    await writeDeployment(dataDir, platform);
  });

  afterAll(async () => {
    await platform?.close();
    if (databaseUrl !== undefined)
      for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
    await rm(dataDir, { recursive: true, force: true });
  });

  async function smokeRun(
    profile: string,
    where: readonly string[],
    more: readonly string[] = [],
  ): Promise<Figures> {
    const figures = await completedRun([
      '--profile',
      profile,
      ...where,
      '--seconds',
      '1',
      '--warmup',
      '0',
      '--concurrency',
      '1',
      ...more,
    ]);
    expect(figures).toMatchObject({
      profile,
      database: 'running',
      // Its ports serve HTTPS: the driver trusted the deployment's CA (deployment.json's tls.ca).
      transport: 'https, h2 offered',
      concurrency: 1,
      failures: 0,
      audit_ok: true,
    });
    expect(figures.payments as number).toBeGreaterThan(0);
    for (const field of [
      'payments_per_second',
      'p50_ms',
      'p99_ms',
      'server_cpu_ms_per_payment',
      'driver_cpu_ms_per_payment',
    ]) {
      expect(figures[field], field).toBeTypeOf('number');
      expect(figures[field] as number, field).toBeGreaterThan(0);
    }
    for (const field of ['bytes_sent', 'bytes_received', 'round_trips'])
      expect(figures.parties.device?.[field], `device ${field}`).toBeGreaterThan(0);
    expect(figures.crypto.ceiling_payments_per_second as number).toBeGreaterThan(0);
    expect(figures.crypto.ratio as number).toBeGreaterThan(0);
    return figures;
  }

  it('ims-custody (--url DIR): the phone confirms through custody, which signs in the HSM', async () => {
    const figures = await smokeRun('ims-custody', ['--url', dataDir]);
    // Custody signs its forwards to the phone (node:crypto; the customer's own signature is the HSM's).
    expect(
      Object.keys(figures.crypto.servers).some((kind) => kind.startsWith('node:crypto sign ES256')),
    ).toBe(true);
  });

  it('macro (--data DIR): client ids and mPINs read from the embedded mail; the merchant sends nothing', async () => {
    const figures = await smokeRun('macro', ['--data', dataDir]);
    expect(figures.parties.merchant).toEqual({ bytes_sent: 0, bytes_received: 0, round_trips: 0 });
  });

  it('banking (--url GATEWAY --data DIR, --customers 3): one sealed transfer request per payment, the customers paying in turn', async () => {
    const figures = await smokeRun(
      'banking',
      ['--url', platform!.urls.gateway, '--data', dataDir],
      ['--customers', '3'],
    );
    // One lane over three customers: the k-th payment is the (k mod 3)-th customer's, so as many paid as payments
    // completed, up to all three (a lane that kept one customer would show 1).
    expect(figures).toMatchObject({ concurrency: 1, customers: 3 });
    expect(figures.customers_paid).toBe(Math.min(3, figures.completed_total as number));
    expect(figures.parties.merchant).toEqual({ bytes_sent: 0, bytes_received: 0, round_trips: 0 });
    expect(Object.keys(figures.crypto.driver).some((kind) => kind.startsWith('sign ECDSA'))).toBe(true);
  });
});
