import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  defaultSecurityPolicy,
  parseSecurityPolicy,
  type SecurityPolicy,
  securityPolicyToJson,
} from '@mpay/protocol';
import { createKeystore, enrolDevice, registerWithFsp } from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { generatePartyKeys } from '../../platform/identities.ts';
import { demoParties } from '../../platform/seed.ts';
import { type Platform, platformSchemas, startPlatform } from '../../platform/start.ts';
import { reconcileBanks } from '../banks-report.ts';
import { bankOperator } from '../deployment.ts';
import type { CommandIo } from '../io.ts';
import { countSubtleCalls, timeMix } from './e2e-crypto.ts';
import type { DriverConfig, DriverDevice, DriverMessage, DriverReport, PartyTraffic } from './e2e-driver.ts';

export const benchE2eUsage = `Usage: mpay bench e2e [--profile ims] [--concurrency N] [--seconds S] [--json]
  Starts a platform in this process (PGlite in memory, or DATABASE_URL: PostgreSQL, fresh schemas
  dropped at the end), registers N customers through the public APIs (account, enrolment code,
  device enrolment, FSP registration, phone alias) and drives iMS payments over HTTP from a child
  process: N devices in parallel, each paying serially, for S seconds after a warm-up. Prints
  payments/s, p50/p95/p99 latency (merchant request to receipt), server and driver CPU per payment,
  bytes and round trips per party, the crypto-only ceiling measured in the same run, then the audit.
  --profile P       ims (the customer's device holds its key; default). ims-custody, macro and
                    banking are not built yet.
  --concurrency N   devices paying at once (default 4, 1..64)
  --seconds S       measured window (default 20, 1..3600), after a warm-up of min(3, S/2) s
  --json            one JSON object on stdout instead of text
  Exit 0 when every payment completed and the audit holds; 1 otherwise; 2 for wrong arguments.
`;

const profiles = ['ims', 'ims-custody', 'macro', 'banking'] as const;
type Profile = (typeof profiles)[number];

interface BenchE2eArguments {
  readonly json: boolean;
  readonly profile: 'ims';
  readonly concurrency: number;
  readonly seconds: number;
}

const integerFlags = {
  concurrency: { default: 4, min: 1, max: 64 },
  seconds: { default: 20, min: 1, max: 3600 },
} as const;

/** The arguments, or undefined with the reason on stderr (the caller exits 2). */
export function parseBenchE2eArguments(
  args: readonly string[],
  io: CommandIo,
): BenchE2eArguments | undefined {
  const values: Partial<Record<keyof typeof integerFlags, number>> = {};
  let json = false;
  let profile: Profile = 'ims';
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--json') {
      json = true;
      continue;
    }
    const profileMatch = /^--profile(?:=(.*))?$/.exec(arg);
    if (profileMatch !== null) {
      const text = profileMatch[1] ?? args[++index] ?? '';
      if (!(profiles as readonly string[]).includes(text)) {
        io.stderr(`mpay bench e2e: --profile must be one of ${profiles.join(', ')}\n`);
        return undefined;
      }
      profile = text as Profile;
      continue;
    }
    const match = /^--(concurrency|seconds)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      io.stderr(`mpay bench e2e: unknown argument ${arg}\n${benchE2eUsage}`);
      return undefined;
    }
    const name = match[1] as keyof typeof integerFlags;
    const text = match[2] ?? args[++index] ?? '';
    const { min, max } = integerFlags[name];
    if (!/^[0-9]{1,8}$/.test(text) || Number(text) < min || Number(text) > max) {
      io.stderr(`mpay bench e2e: --${name} must be an integer in ${min}..${max}\n`);
      return undefined;
    }
    values[name] = Number(text);
  }
  if (profile !== 'ims') {
    io.stderr(`mpay bench e2e: profile ${profile} is not built yet; only ims is (issue 15)\n`);
    return undefined;
  }
  const pick = (name: keyof typeof integerFlags) => values[name] ?? integerFlags[name].default;
  return { json, profile, concurrency: pick('concurrency'), seconds: pick('seconds') };
}

/**
 * The bench pays many times a minute from each customer: the default policy with the medium
 * level's sum lifted (as the end-to-end suites do), so that no payment steps up to large (which
 * takes a second factor a benchmark device does not type). Small and medium still alternate as
 * the defaults say (five small payments, then one with the PIN checked).
 */
const benchPolicy: SecurityPolicy = parseSecurityPolicy({
  ...securityPolicyToJson(defaultSecurityPolicy),
  currencies: Object.fromEntries(
    Object.entries(
      securityPolicyToJson(defaultSecurityPolicy).currencies as Record<string, PolicyCurrency>,
    ).map(([currency, rules]) => [
      currency,
      { ...rules, medium: { ...rules.medium, cumulativeMaxMinor: '100000000000' } },
    ]),
  ),
});
type PolicyCurrency = { medium: Record<string, unknown> } & Record<string, unknown>;

const paymentMinor = 1_00n;
const openingBalanceMinor = 10_000_000_00n;
const customerPin = '1357';

/** A customer as a new one would be: the bank's operator opens and funds the account, the device enrols and registers. */
async function registerCustomer(platform: Platform, index: number): Promise<DriverDevice> {
  const bank = platform.banks.find((candidate) => candidate.id === demoParties.bank.id);
  if (bank === undefined) throw new Error(`assertion failed: ${demoParties.bank.id} runs`);
  const operator = bankOperator(bank, bank.operatorKey);
  const suffix = `${index}-${randomBytes(3).toString('hex')}`;
  const partyId = `bench.customer${suffix}@person.${bank.id}`;
  const account = randomUUID();
  const currency = demoParties.bank.currency;
  await operator.post('/accounts', { id: account, owner: partyId, currency, kind: 'customer' });
  await operator.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: openingBalanceMinor.toString(),
    currency,
    reference: 'bench opening balance',
  });
  const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice(
    { bankUrl: bank.url, bankId: bank.id, partyId, code },
    `bench-phone-${suffix}`,
    keys,
  );
  const keystore = await createKeystore({
    partyId,
    pin: customerPin,
    keys,
    binding: enrolment.binding,
    bankEncryptionJwk: enrolment.bankEncryptionJwk,
    pinServer: { url: platform.urls.custody, custodyId: 'custody.mpay' },
  });
  await registerWithFsp(platform.urls.gateway, enrolment, `Bench Customer ${index}`);
  const msisdn = `+3897${String(2_000_000 + index).padStart(7, '0')}`;
  const response = await fetch(`${platform.urls.gateway}/admin/aliases`, {
    method: 'POST',
    body: JSON.stringify({ alias: msisdn, partyId }),
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${platform.operatorToken}`,
      'idempotency-key': `bench-alias-${msisdn}`,
    },
  });
  if (!response.ok) throw new Error(`alias ${msisdn}: HTTP ${response.status} ${await response.text()}`);
  return { keystore, pin: customerPin, msisdn };
}

/** The audit as `mpay audit` runs it: each bank's own books, then the banks' positions pair by pair. */
async function audit(platform: Platform): Promise<{ ok: boolean; lines: string[] }> {
  const clients = platform.banks.map((bank) => bankOperator(bank, bank.operatorKey));
  const lines: string[] = [];
  let ok = true;
  for (const client of clients) {
    const report = await client.get<{
      ok: boolean;
      accountsChecked: number;
      transfersChecked: number;
      violations: unknown[];
      mismatches: unknown[];
    }>('/audit');
    ok &&= report.ok;
    lines.push(
      `${report.ok ? 'ok' : 'FAILED'}  ${client.id}: ${report.accountsChecked} accounts, ${report.transfersChecked} transfers` +
        (report.ok
          ? ''
          : ` ${JSON.stringify({ violations: report.violations, mismatches: report.mismatches })}`),
    );
  }
  // Read a few times: a payment completing between two banks' reads looks like a disagreement.
  let pairs = await reconcileBanks(clients);
  for (let attempt = 1; attempt < 6 && pairs.some((pair) => !pair.consistent); attempt += 1) {
    await new Promise((done) => setTimeout(done, 250 * attempt));
    pairs = await reconcileBanks(clients);
  }
  for (const pair of pairs) {
    ok &&= pair.consistent;
    lines.push(`${pair.consistent ? 'ok' : 'FAILED'}  ${pair.banks.join(' ⇄ ')} ${pair.currency}`);
  }
  return { ok, lines };
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)]! * 10) / 10;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const round2 = (value: number) => Math.round(value * 100) / 100;

function perPaymentTraffic(traffic: PartyTraffic, payments: number) {
  const per = (value: number) => (payments === 0 ? 0 : round1(value / payments));
  return {
    bytes_sent: per(traffic.sent),
    bytes_received: per(traffic.received),
    round_trips: per(traffic.roundTrips),
  };
}

function driverPath(): string {
  return fileURLToPath(new URL('./e2e-driver.ts', import.meta.url));
}

/** The driver in a child process (its own CPU), with tsx to load TypeScript as bin/mpay.js does. */
function startDriver(): ChildProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return fork(driverPath(), [], {
    execArgv: ['--import', tsx],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

interface ServerWindow {
  cpuMs: number;
  counts: Record<string, number>;
}

/** Runs the driver to its report; the servers' CPU and crypto are measured between its window marks. */
async function runDriver(
  config: DriverConfig,
  io: CommandIo,
  counter: ReturnType<typeof countSubtleCalls>,
): Promise<{ report: DriverReport; server: ServerWindow }> {
  const child = startDriver();
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  const server: ServerWindow = { cpuMs: 0, counts: {} };
  try {
    const report = await new Promise<DriverReport>((resolve, reject) => {
      child.on('message', (message: DriverMessage) => {
        switch (message.type) {
          case 'progress':
            io.stderr(`bench e2e: ${message.line}\n`);
            break;
          case 'window-start':
            counter.reset();
            counter.active = true;
            cpuAtStart = process.cpuUsage();
            break;
          case 'window-end': {
            counter.active = false;
            const cpu = process.cpuUsage(cpuAtStart);
            server.cpuMs = (cpu.user + cpu.system) / 1000;
            server.counts = counter.counts();
            break;
          }
          case 'report':
            resolve(message.report);
            break;
          case 'error':
            reject(new Error(`the driver failed: ${message.message}`));
            break;
        }
      });
      child.once('exit', (code) => reject(new Error(`the driver exited (${code}) before its report`)));
      child.once('error', reject);
      child.send(config);
    });
    return { report, server };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}

/** `mpay bench e2e`: payments end to end over HTTP against a platform it starts, with the crypto-only ceiling of the same run. */
export async function runBenchE2e(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseBenchE2eArguments(args, io);
  if (parsed === undefined) return 2;
  const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const schemaPrefix = `bench_e2e_${randomBytes(4).toString('hex')}_`;
  const loadBefore = await loadAverage();
  io.stderr(`bench e2e: starting the platform (${databaseUrl === undefined ? 'PGlite' : 'PostgreSQL'})\n`);
  const platform = await startPlatform({
    databaseUrl,
    schemaPrefix,
    securityPolicy: benchPolicy,
    gatewayLimits: {
      paymentRequestsPerCustomerMax: 100_000,
      paymentRequestsPerMerchantMax: 10_000_000,
      aliasLookupsPerMerchantMax: 1_000_000,
    },
  });
  const counter = countSubtleCalls();
  let closed = false;
  const closePlatform = async () => {
    await platform.close();
    if (databaseUrl !== undefined)
      for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  };
  try {
    io.stderr(`bench e2e: registering ${parsed.concurrency} customer(s) through the public APIs\n`);
    const devices: DriverDevice[] = [];
    for (let index = 0; index < parsed.concurrency; index += 1)
      devices.push(await registerCustomer(platform, index));
    const warmupMs = Math.min(3_000, (parsed.seconds * 1000) / 2);
    const { report, server } = await runDriver(
      {
        gatewayUrl: platform.urls.gateway,
        bankUrls: platform.banks.map((bank) => bank.url),
        merchant: {
          id: demoParties.merchant.id,
          signingJwk: platform.credentials.merchantKeys.signing.privateJwk,
        },
        devices,
        warmupMs,
        windowMs: parsed.seconds * 1000,
        currency: demoParties.bank.currency,
        amountMinor: paymentMinor,
      },
      io,
      counter,
    );
    const payments = report.payments;
    const serverExact = Object.fromEntries(
      Object.entries(server.counts).map(([kind, count]) => [kind, payments === 0 ? 0 : count / payments]),
    );
    io.stderr('bench e2e: audit\n');
    const audited = await audit(platform);
    // The servers' mix is timed with the platform closed: its background work would be timed too.
    closed = true;
    await closePlatform();
    io.stderr('bench e2e: timing the servers’ crypto mix alone\n');
    const serverMix = await timeMix(serverExact, counter.samples);
    const loadAfter = await loadAverage();
    const sorted = [...report.latenciesMs].sort((a, b) => a - b);
    const seconds = report.windowMs / 1000;
    const perSecond = seconds === 0 ? 0 : payments / seconds;
    const cryptoMs = serverMix.msPerPayment + report.cryptoMsPerPayment;
    const ceiling = cryptoMs === 0 ? 0 : 1000 / cryptoMs;
    const per = (value: number) => (payments === 0 ? null : round1(value / payments));
    const perKind = (counts: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(counts).map(([kind, count]) => [kind, payments === 0 ? 0 : round2(count / payments)]),
      );
    const callsPerPayment = (counts: Record<string, number>) =>
      payments === 0 ? 0 : round1(Object.values(counts).reduce((sum, count) => sum + count, 0) / payments);
    const figures = {
      benchmark: 'e2e',
      profile: parsed.profile,
      database: databaseUrl === undefined ? 'pglite' : 'postgres',
      concurrency: parsed.concurrency,
      seconds: round1(seconds),
      warmup_seconds: warmupMs / 1000,
      payments,
      payments_per_second: round2(perSecond),
      failures: report.failures,
      failure_samples: report.failureSamples,
      completed_total: report.completedTotal,
      p50_ms: percentile(sorted, 0.5),
      p95_ms: percentile(sorted, 0.95),
      p99_ms: percentile(sorted, 0.99),
      server_cpu_ms_per_payment: per(server.cpuMs),
      driver_cpu_ms_per_payment: per(report.cpuMs.user + report.cpuMs.system),
      parties: {
        device: perPaymentTraffic(report.traffic.device, payments),
        merchant: perPaymentTraffic(report.traffic.merchant, payments),
      },
      crypto: {
        method:
          'every crypto.subtle call counted in both processes during the window, by method and algorithm; ' +
          'the first call of each kind replayed alone, one at a time, weighted by calls per payment',
        calls_per_payment: {
          servers: callsPerPayment(server.counts),
          driver: callsPerPayment(report.cryptoCounts),
        },
        ms_per_payment: {
          servers: round2(serverMix.msPerPayment),
          driver: round2(report.cryptoMsPerPayment),
        },
        ceiling_payments_per_second: round1(ceiling),
        ratio: ceiling === 0 ? null : Math.round((perSecond / ceiling) * 1000) / 1000,
        servers: perKind(server.counts),
        driver: perKind(report.cryptoCounts),
        microseconds_per_call: {
          servers: serverMix.microsecondsPerCall,
          driver: report.cryptoMicrosecondsPerCall,
        },
      },
      audit_ok: audited.ok,
      audit: audited.lines,
      load_before: loadBefore,
      load_after: loadAfter,
    };
    io.stdout(parsed.json ? `${JSON.stringify(figures)}\n` : text(figures));
    if (!parsed.json) for (const line of audited.lines) io.stderr(`  audit ${line}\n`);
    if (report.failures > 0)
      io.stderr(`bench e2e: ${report.failures} payment(s) failed: ${report.failureSamples.join('; ')}\n`);
    if (!audited.ok) io.stderr('bench e2e: the audit FAILED\n');
    return report.failures === 0 && audited.ok && payments > 0 ? 0 : 1;
  } finally {
    counter.restore();
    if (!closed) await closePlatform();
  }
}

async function loadAverage(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile('/proc/loadavg', 'utf8').catch(() => '')).split(' ').slice(0, 3).join(' ');
}

interface TextFigures {
  profile: string;
  database: string;
  concurrency: number;
  seconds: number;
  payments: number;
  payments_per_second: number;
  failures: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  server_cpu_ms_per_payment: number | null;
  driver_cpu_ms_per_payment: number | null;
  parties: Record<'device' | 'merchant', { bytes_sent: number; bytes_received: number; round_trips: number }>;
  crypto: {
    calls_per_payment: { servers: number; driver: number };
    ms_per_payment: { servers: number; driver: number };
    ceiling_payments_per_second: number;
    ratio: number | null;
  };
  audit_ok: boolean;
  load_before: string;
  load_after: string;
}

function text(figures: TextFigures): string {
  const { crypto, parties } = figures;
  const party = (name: 'device' | 'merchant') =>
    `${parties[name].bytes_sent} B sent, ${parties[name].bytes_received} B received, ${parties[name].round_trips} round trips`;
  return `${[
    `mpay bench e2e (${figures.profile}, ${figures.database}): concurrency ${figures.concurrency}, ${figures.seconds} s measured`,
    `  payments      ${figures.payments_per_second}/s  (${figures.payments} payments, ${figures.failures} failed)`,
    `  latency       p50 ${figures.p50_ms} ms, p95 ${figures.p95_ms} ms, p99 ${figures.p99_ms} ms (merchant request to receipt)`,
    `  CPU/payment   servers ${figures.server_cpu_ms_per_payment} ms, driver ${figures.driver_cpu_ms_per_payment} ms`,
    `  device        ${party('device')} per payment`,
    `  merchant      ${party('merchant')} per payment`,
    `  crypto        ${crypto.calls_per_payment.servers} calls servers + ${crypto.calls_per_payment.driver} driver per payment; ${crypto.ms_per_payment.servers} + ${crypto.ms_per_payment.driver} ms alone`,
    `  ceiling       ${crypto.ceiling_payments_per_second} payments/s crypto only (one core); measured/ceiling ${crypto.ratio}`,
    `  audit         ${figures.audit_ok ? 'holds' : 'FAILED'}`,
    `  load average  ${figures.load_before} before, ${figures.load_after} after`,
  ].join('\n')}\n`;
}
