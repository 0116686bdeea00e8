/**
 * `mpay simulate`: the study the seeds promised ("a simulation of mobile
 * transactions comparing protocols"). A platform in this process; for each
 * protocol × network profile a new customer, whose device reaches the
 * services through traffic-shaping proxies (shaper.ts) with the profile's
 * RTT, bandwidth and loss, pays N times one after the other; the merchant's
 * and the banks' legs are loopback, unshaped. Per payment: time to pay (per
 * protocol, see drivers.ts), bytes up and down on the device's wire, the
 * device's HTTP requests, wire exchanges and TCP connections, its CPU
 * (device-meter.ts). `--write-doc` writes docs/mobile-study.md and its charts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCaTrustAgent, tlsFetch } from '@mpay/pki';
import { loadAverage } from '../bench/bench-platform.ts';
import { type BenchTarget, inProcessTarget } from '../bench/e2e-target.ts';
import { type CommandIo, watchStopSignals } from '../io.ts';
import { DeviceMeter } from './device-meter.ts';
import {
  type DeviceUrls,
  type ProtocolDriver,
  type ProtocolId,
  prepareDriver,
  protocolIds,
} from './drivers.ts';
import { expandProfileName, type NetworkProfileId, networkProfileIds, networkProfiles } from './profiles.ts';
import { Shaper, type ShaperCounters } from './shaper.ts';

export const simulateUsage = `Usage: mpay simulate [--profiles 2g,3g,4g,wifi] [--protocols ims,ims-custody,macro,banking]
                     [--payments N] [--seed X] [--max-minutes M] [--tls] [--json] [--write-doc]

Payments over simulated mobile links: a platform in this process, the device's traffic through a
shaping proxy (RTT, bandwidth each way, loss as TCP feels it), the merchant's and banks' unshaped.
  --profiles    gprs, edge (2g = both), 3g, 4g, wifi (default: all)
  --protocols   ims (key on the device), ims-custody (key in custody's HSM, iMS §5),
                macro (seed 002), banking (SA2pMP, seed 003) (default: all)
  --payments    payments per protocol and profile, 1 to 200 (default 5)
  --seed        the loss draws' seed (default mpay)
  --max-minutes stop starting payments after M minutes, 1 to 600 (default 120)
  --tls         every port HTTPS as \`mpay up\` serves it (a deployment CA made in a temporary
                folder, removed at the end); the device's fetch offers HTTP/2 (the gateway and custody take it),
                so its bytes are TLS records, as a phone's are
  --json        the figures as JSON on stdout
  --write-doc   write docs/mobile-study.md and docs/mobile-study/*.svg
Ctrl-C or SIGTERM stops between payments, closes the shapers and the platform (its custody token
deleted, its folders removed), then exits 130 or 143.
`;

export interface SimulateArguments {
  readonly profiles: readonly NetworkProfileId[];
  readonly protocols: readonly ProtocolId[];
  readonly payments: number;
  readonly seed: string;
  readonly maxMinutes: number;
  readonly json: boolean;
  readonly writeDoc: boolean;
  readonly tls: boolean;
}

const valueFlags = ['profiles', 'protocols', 'payments', 'seed', 'max-minutes'] as const;

function integerIn(text: string, min: number, max: number): number | undefined {
  if (!/^[0-9]{1,6}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}

/** The flags, or undefined after a message on stderr (the caller exits 2). */
export function parseSimulateArguments(
  args: readonly string[],
  io: CommandIo,
): SimulateArguments | undefined {
  const refuse = (message: string) => {
    io.stderr(`mpay simulate: ${message}\n${simulateUsage}`);
    return undefined;
  };
  const values = new Map<string, string>();
  let json = false;
  let writeDoc = false;
  let tls = false;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === '--json') json = true;
    else if (arg === '--write-doc') writeDoc = true;
    else if (arg === '--tls') tls = true;
    else {
      const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
      const name = match?.[1];
      if (match === null || name === undefined || !(valueFlags as readonly string[]).includes(name))
        return refuse(`unknown argument ${JSON.stringify(arg)}`);
      const value = match[2] ?? args[++index];
      if (value === undefined || value === '' || value.startsWith('--'))
        return refuse(`--${name} needs a value`);
      if (values.has(name)) return refuse(`--${name} given twice`);
      values.set(name, value);
    }
  }
  const profiles: NetworkProfileId[] = [];
  for (const name of (values.get('profiles') ?? '2g,3g,4g,wifi').split(',')) {
    const expanded = expandProfileName(name.trim().toLowerCase());
    if (expanded === undefined)
      return refuse(
        `--profiles: no profile ${JSON.stringify(name)} (known: 2g, ${networkProfileIds.join(', ')})`,
      );
    for (const id of expanded) if (!profiles.includes(id)) profiles.push(id);
  }
  const protocols: ProtocolId[] = [];
  for (const name of (values.get('protocols') ?? protocolIds.join(',')).split(',')) {
    const id = name.trim().toLowerCase();
    if (!(protocolIds as readonly string[]).includes(id))
      return refuse(`--protocols: no protocol ${JSON.stringify(name)} (known: ${protocolIds.join(', ')})`);
    if (!protocols.includes(id as ProtocolId)) protocols.push(id as ProtocolId);
  }
  const payments = integerIn(values.get('payments') ?? '5', 1, 200);
  if (payments === undefined) return refuse('--payments must be a whole number from 1 to 200');
  const maxMinutes = integerIn(values.get('max-minutes') ?? '120', 1, 600);
  if (maxMinutes === undefined) return refuse('--max-minutes must be a whole number from 1 to 600');
  const seed = values.get('seed') ?? 'mpay';
  if (seed.length > 100 || !/^[\x21-\x7e]+$/.test(seed))
    return refuse('--seed must be 1 to 100 printable characters without spaces');
  return { profiles, protocols, payments, seed, maxMinutes, json, writeDoc, tls };
}

/** One payment's figures. */
interface PaymentSample {
  readonly ms: number;
  readonly up: number;
  readonly down: number;
  readonly requests: number;
  readonly exchanges: number;
  readonly connections: number;
  readonly lostSegments: number;
  readonly jsCpuMs: number;
  readonly cryptoCalls: Map<string, number>;
}

export interface CellFigures {
  readonly protocol: ProtocolId;
  readonly profile: NetworkProfileId;
  readonly payments: number;
  readonly failures: number;
  readonly failureSamples: readonly string[];
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  /** Medians per payment. */
  readonly bytesUp: number | null;
  readonly bytesDown: number | null;
  readonly httpRequests: number | null;
  readonly exchanges: number | null;
  /** Sums over the cell's payments. */
  readonly tcpConnections: number;
  readonly lostSegments: number;
  /** Medians per payment: JS-thread CPU, WebCrypto (timed alone), their sum. */
  readonly deviceJsCpuMs: number | null;
  readonly deviceCryptoMs: number | null;
  readonly deviceCpuMs: number | null;
  /** Device requests that did not cross a shaper (should be 0). */
  readonly unshapedRequests: number;
}

export interface SimulateFigures {
  readonly command: string;
  readonly date: string;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly seed: string;
  readonly paymentsPerCell: number;
  /** Whether the device's leg was HTTPS (HTTP/2 offered) rather than plain HTTP/1.1. */
  readonly tls: boolean;
  readonly stoppedEarly: boolean;
  readonly cells: readonly CellFigures[];
  readonly unshapedSamples: readonly string[];
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const round1 = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);

function difference(after: ShaperCounters, before: ShaperCounters): ShaperCounters {
  return {
    up: after.up - before.up,
    down: after.down - before.down,
    connections: after.connections - before.connections,
    exchanges: after.exchanges - before.exchanges,
    lostSegments: after.lostSegments - before.lostSegments,
  };
}

/** How long one payment may take before it counts as failed (GPRS with losses is slow, not stuck). */
const paymentDeadlineMs = 5 * 60_000;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  }
  return String(error);
}

interface Shapers {
  readonly gateway: Shaper;
  readonly custody: Shaper;
  readonly bank: Shaper;
}

function shaperList(shapers: Shapers): Shaper[] {
  return [shapers.gateway, shapers.custody, shapers.bank];
}

function totals(shapers: Shapers): ShaperCounters {
  const sum: ShaperCounters = { up: 0, down: 0, connections: 0, exchanges: 0, lostSegments: 0 };
  for (const shaper of shaperList(shapers)) {
    const counters = shaper.snapshot();
    for (const key of Object.keys(sum) as (keyof ShaperCounters)[]) sum[key] += counters[key];
  }
  return sum;
}

async function startShaper(url: string, seed: string, name: string): Promise<Shaper> {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  return Shaper.start({
    upstream: { host: parsed.hostname.replace(/^\[|\]$/g, ''), port },
    seed: `${seed}/${name}`,
  });
}

/** Runs every cell; the figures. `isStopped` ends the run between payments (SIGINT, the time bound). */
async function runCells(
  parsed: SimulateArguments,
  target: BenchTarget,
  shapers: Shapers,
  meter: DeviceMeter,
  io: CommandIo,
  deadline: number,
  isStopped: () => boolean,
): Promise<{ cells: CellFigures[]; stoppedEarly: boolean }> {
  const urls: DeviceUrls = {
    gateway: shapers.gateway.urlFor(target.gatewayUrl),
    custody: shapers.custody.urlFor(target.custody.url),
    bank: shapers.bank.urlFor(target.banks.find((bank) => bank.id === 'xbank')?.url ?? target.banks[0]!.url),
  };
  const samplesByCell: {
    protocol: ProtocolId;
    profile: NetworkProfileId;
    samples: PaymentSample[];
    failures: string[];
    unshaped: number;
  }[] = [];
  let stoppedEarly = false;
  const setProfile = (id: NetworkProfileId | undefined) => {
    for (const shaper of shaperList(shapers))
      shaper.profile = id === undefined ? undefined : networkProfiles[id];
  };
  outer: for (const protocol of parsed.protocols) {
    for (const profile of parsed.profiles) {
      if (isStopped() || Date.now() > deadline) {
        stoppedEarly = true;
        break outer;
      }
      const cell = {
        protocol,
        profile,
        samples: [] as PaymentSample[],
        failures: [] as string[],
        unshaped: 0,
      };
      samplesByCell.push(cell);
      io.stderr(`simulate: ${protocol} on ${networkProfiles[profile].label}: registering a customer\n`);
      setProfile(undefined);
      let driver: ProtocolDriver | undefined;
      try {
        driver = await withDeadline(prepareDriver(protocol, target, urls), paymentDeadlineMs, 'registration');
        // One payment unshaped first: connections open and code warm, as on a phone already in use.
        await withDeadline(driver.pay(), paymentDeadlineMs, 'the warm-up payment');
        setProfile(profile);
        for (let index = 0; index < parsed.payments; index += 1) {
          if (isStopped() || Date.now() > deadline) {
            stoppedEarly = true;
            break;
          }
          meter.take();
          const before = totals(shapers);
          const started = performance.now();
          try {
            await withDeadline(driver.pay(), paymentDeadlineMs, 'the payment');
          } catch (error) {
            cell.failures.push(describe(error));
            continue;
          }
          const ms = performance.now() - started;
          const wire = difference(totals(shapers), before);
          const counted = meter.take();
          cell.unshaped += counted.unshapedRequests;
          cell.samples.push({
            ms,
            up: wire.up,
            down: wire.down,
            requests: counted.requests,
            exchanges: wire.exchanges,
            connections: wire.connections,
            lostSegments: wire.lostSegments,
            jsCpuMs: counted.jsCpuMicros / 1000,
            cryptoCalls: counted.cryptoCalls,
          });
          io.stderr(
            `simulate: ${protocol} ${profile} payment ${index + 1}/${parsed.payments}: ${Math.round(ms)} ms\n`,
          );
        }
      } catch (error) {
        cell.failures.push(describe(error));
      } finally {
        setProfile(undefined);
        await driver?.close().catch(() => undefined);
      }
    }
  }
  io.stderr('simulate: timing the device’s WebCrypto calls alone\n');
  const cryptoMicros = await meter.timeCryptoKinds();
  const cells = samplesByCell.map(({ protocol, profile, samples, failures, unshaped }): CellFigures => {
    const times = samples.map((sample) => sample.ms).sort((a, b) => a - b);
    const cryptoMs = samples.map(
      (sample) =>
        [...sample.cryptoCalls].reduce(
          (sum, [kind, count]) => sum + count * (cryptoMicros.get(kind) ?? 0),
          0,
        ) / 1000,
    );
    return {
      protocol,
      profile,
      payments: samples.length,
      failures: failures.length,
      failureSamples: failures.slice(0, 3),
      p50Ms: round1(percentile(times, 0.5)),
      p95Ms: round1(percentile(times, 0.95)),
      bytesUp: median(samples.map((sample) => sample.up)),
      bytesDown: median(samples.map((sample) => sample.down)),
      httpRequests: median(samples.map((sample) => sample.requests)),
      exchanges: median(samples.map((sample) => sample.exchanges)),
      tcpConnections: samples.reduce((sum, sample) => sum + sample.connections, 0),
      lostSegments: samples.reduce((sum, sample) => sum + sample.lostSegments, 0),
      deviceJsCpuMs: round1(median(samples.map((sample) => sample.jsCpuMs))),
      deviceCryptoMs: round1(median(cryptoMs)),
      deviceCpuMs: round1(median(samples.map((sample, index) => sample.jsCpuMs + cryptoMs[index]!))),
      unshapedRequests: unshaped,
    };
  });
  return { cells, stoppedEarly };
}

const formatMs = (ms: number | null) =>
  ms === null ? '—' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
const formatNumber = (value: number | null) => (value === null ? '—' : value.toLocaleString('en-US'));

/** The figures as a fixed-width text table. */
export function figuresTable(cells: readonly CellFigures[]): string {
  const header = [
    'protocol',
    'profile',
    'ok/failed',
    'p50',
    'p95',
    'bytes up',
    'bytes down',
    'HTTP req',
    'exchanges',
    'device CPU ms',
  ];
  const rows = cells.map((cell) => [
    cell.protocol,
    networkProfiles[cell.profile].label,
    `${cell.payments}/${cell.failures}`,
    formatMs(cell.p50Ms),
    formatMs(cell.p95Ms),
    formatNumber(cell.bytesUp),
    formatNumber(cell.bytesDown),
    formatNumber(cell.httpRequests),
    formatNumber(cell.exchanges),
    cell.deviceCpuMs === null
      ? '—'
      : `${cell.deviceCpuMs} (JS ${cell.deviceJsCpuMs}, WebCrypto ${cell.deviceCryptoMs})`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((text, column) => text.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/**
 * A stop signal's clean-up (the shapers, the platform once started, the folders); past this the
 * command exits anyway.
 */
export const simulateCleanUpMsMax = 10 * 60_000;

/** `mpay simulate` (see the file's comment and simulateUsage). */
export async function runSimulate(args: readonly string[], io: CommandIo): Promise<number> {
  if (args.includes('--help') || args.includes('help')) {
    io.stdout(simulateUsage);
    return 0;
  }
  const parsed = parseSimulateArguments(args, io);
  if (parsed === undefined) return 2;
  const date = new Date().toISOString();
  const loadBefore = await loadAverage();
  const deadline = Date.now() + parsed.maxMinutes * 60_000;
  let stopped = false;
  const cleanups: (() => Promise<void> | void)[] = [];
  // Once, last added first, from the end of the run or a stop signal: whoever comes second waits for it.
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop())
        await Promise.resolve()
          .then(cleanup)
          .catch(() => undefined);
    })();
    return cleaning;
  };
  // Ctrl-C or SIGTERM: the run stops between payments; the shapers, the platform (its token) and the folders go.
  const watch = watchStopSignals({ io, command: 'simulate', cleanUpMsMax: simulateCleanUpMsMax });
  watch.onStop(cleanUp);
  watch.onStop(() => {
    stopped = true;
  });
  return watch.finish(async () => {
    try {
      io.stderr(
        `simulate: starting the platform in this process (PGlite, in memory${parsed.tls ? ', every port HTTPS' : ''})\n`,
      );
      // Loaded here, not at the top: the flags' refusals need none of the platform.
      const { startPlatform } = await import('../../platform/start.ts');
      const { benchGatewayLimits, benchPolicy } = await import('../bench/e2e.ts');
      let pkiDir: string | undefined;
      if (parsed.tls) {
        // The deployment's CA and certificates for this run only.
        const folder = await mkdtemp(join(tmpdir(), 'mpay-simulate-tls-'));
        pkiDir = folder;
        cleanups.push(() => rm(folder, { recursive: true, force: true }));
        const { ensurePlatformPki } = await import('../pki-platform.ts');
        await ensurePlatformPki(folder);
      }
      const starting = startPlatform({
        databaseUrl: undefined,
        securityPolicy: benchPolicy,
        gatewayLimits: benchGatewayLimits,
        ...(pkiDir === undefined ? {} : { tls: { dataDir: pkiDir } }),
      });
      // Closed once started, should a stop signal come while it starts.
      cleanups.push(async () => (await starting).close());
      const platform = await starting;
      if (platform.tls !== undefined) {
        // The device's calls (asDevice runs them with the process's global fetch): the CA trusted, HTTP/2
        // offered; set before the device meter wraps the global fetch.
        const agent = createCaTrustAgent(
          platform.tls.caPem,
          {},
          {
            http2: true,
            revokedSerials: platform.tls.revokedSerials,
          },
        );
        const processFetch = globalThis.fetch;
        globalThis.fetch = tlsFetch(agent) as typeof fetch;
        cleanups.push(async () => {
          globalThis.fetch = processFetch;
          await agent.close();
        });
      }
      const target = inProcessTarget(platform, 'pglite');
      const bankUrl = target.banks.find((bank) => bank.id === 'xbank')?.url ?? target.banks[0]!.url;
      const shapers: Shapers = {
        gateway: await startShaper(target.gatewayUrl, parsed.seed, 'gateway'),
        custody: await startShaper(target.custody.url, parsed.seed, 'custody'),
        bank: await startShaper(bankUrl, parsed.seed, 'bank'),
      };
      for (const shaper of shaperList(shapers)) cleanups.push(() => shaper.close());
      const meter = new DeviceMeter(
        shaperList(shapers).map((shaper) => new URL(shaper.urlFor(target.gatewayUrl)).origin),
      );
      cleanups.push(() => meter.restore());
      const { cells, stoppedEarly } = await runCells(
        parsed,
        target,
        shapers,
        meter,
        io,
        deadline,
        () => stopped,
      );
      await cleanUp();
      const figures: SimulateFigures = {
        command: `mpay simulate ${args.join(' ')}`.trim(),
        date,
        loadBefore,
        loadAfter: await loadAverage(),
        seed: parsed.seed,
        paymentsPerCell: parsed.payments,
        tls: parsed.tls,
        stoppedEarly,
        cells,
        unshapedSamples: meter.unshapedSamples,
      };
      if (parsed.json) io.stdout(`${JSON.stringify(figures, null, 2)}\n`);
      else {
        io.stdout(figuresTable(cells));
        io.stdout(
          `load average ${loadBefore} before, ${figures.loadAfter} after; time to pay p50/p95 over ${parsed.payments} payment(s) per cell; bytes, requests, exchanges and CPU are medians per payment\n`,
        );
      }
      for (const cell of cells)
        for (const failure of cell.failureSamples)
          io.stderr(`simulate: ${cell.protocol} ${cell.profile} failed: ${failure}\n`);
      if (meter.unshapedSamples.length > 0)
        io.stderr(
          `simulate: device requests that bypassed the shaper: ${meter.unshapedSamples.join(', ')}\n`,
        );
      if (parsed.writeDoc) {
        const { writeStudy } = await import('./study-doc.ts');
        const written = await writeStudy(figures);
        io.stderr(`simulate: wrote ${written.join(', ')}\n`);
      }
      return cells.every((cell) => cell.failures === 0 && cell.unshapedRequests === 0) && !stoppedEarly
        ? 0
        : 1;
    } finally {
      await cleanUp();
    }
  });
}
