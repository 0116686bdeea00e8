import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCaTrustAgent, tlsFetch } from '@mpay/pki';
import {
  defaultBankingLimits,
  defaultSecurityPolicy,
  parseSecurityPolicy,
  type SecurityPolicy,
  securityPolicyToJson,
} from '@mpay/protocol';
import { fetchFspTrust } from '@mpay/sdk';
import { dropPostgresSchema, type StatementCount, statementTexts, traceStatementTexts } from '@mpay/storage';
import { gatewayLimitsFileName } from '../../platform/gateway-limits-file.ts';
import type { ProcessPlatform } from '../../platform/processes.ts';
import { demoParties } from '../../platform/seed.ts';
import { type Platform, platformSchemas, startPlatform } from '../../platform/start.ts';
import { reconcileBanks } from '../banks-report.ts';
import { dataDirOf } from '../deployment.ts';
import { type CommandIo, type StopSignalWatch, watchStopSignals } from '../io.ts';
import { ensurePlatformPki } from '../pki-platform.ts';
import { loadAverage } from './bench-platform.ts';
import type {
  AnyDriverConfig,
  DriverDevice,
  DriverMessage,
  DriverReport,
  PartyTraffic,
} from './e2e-driver.ts';
import { openBankingPayee, registerBankingCustomer } from './e2e-driver-banking.ts';
import { registerCustodyCustomer } from './e2e-driver-custody.ts';
import { registerMacroCustomer } from './e2e-driver-macro.ts';
import { type MachineBound, machineBound, machineBoundText } from './e2e-machine-bound.ts';
import { registerImsCustomer } from './e2e-registration.ts';
import {
  inProcessCounting,
  processesCounting,
  type ServerCounting,
  type ServerWindowCounts,
} from './e2e-server-counting.ts';
import {
  type BenchTarget,
  bankOf,
  type CpuReading,
  inProcessTarget,
  isDirectory,
  isLoopbackUrl,
  localPostgresServerPid,
  type NamedProcessCpu,
  namedProcessesCpuBetween,
  namedProcessesCpuMs,
  processTreeCpu,
  runningTarget,
} from './e2e-target.ts';
import { type BenchProfile, benchProfiles, type DriverTiming, inBatches } from './e2e-traffic.ts';
import { cpuPerPaymentByHalf, stillWarming, stillWarmingLine, type WindowHalves } from './e2e-warmup.ts';

/**
 * The longest warm-up and window of a banking run together: its customers'
 * sessions open as they register and last defaultBankingLimits' lifetime
 * (1,800 s); registering them and draining take the rest.
 */
export const bankingRunSecondsMax = defaultBankingLimits.sessionLifetimeSeconds - 300;

export const benchE2eUsage = `Usage: mpay bench e2e [--profile P] [--concurrency N] [--customers M] [--seconds S] [--warmup W]
                      [--gateways G] [--processes] [--tls] [--statements] [--data DIR | --url DIR_OR_URL] [--json]
  Starts a platform in this process (PGlite in memory, or DATABASE_URL: PostgreSQL, fresh schemas
  dropped at the end), or drives one already running on this machine (--data, --url); registers N
  customers of the profile through the public APIs and drives their payments over HTTP from a child
  process: N customers in parallel, each paying serially, for S seconds after a warm-up. Prints
  payments/s, p50/p95/p99 latency, server and driver CPU per payment, bytes and round trips per
  party (for ims also the device's bytes on the wire: its connections cross a counting proxy in
  the driver, so compression and HTTP framing count as sent), SQL statements, transactions and
  (PostgreSQL) round trips to the database per service per payment, the HTTP requests each
  service answered per payment (the platform this command starts), the crypto-only ceiling
  measured in the same run, then the audit.
  --profile P       what one payment is (default ims):
                    ims          the merchant asks, the device (holding its key) confirms; to the receipt
                    ims-custody  the same, the key in custody's HSM: the phone confirms with its PIN
                                 through custody (iMS §5)
                    macro        the macro-payment protocol, steps 1 to 11: the client asks the MPASP,
                                 opens the challenge with its mPIN, answers; its bank asks it to
                                 approve; to Pay_Confirm (money at the merchant bank)
                    banking      one SA2pMP transfer request (signed, sealed in a session) to a payee
                                 at the same bank, to the bank's signed answer
  --concurrency N   customers paying at once (default 4, 1..64)
  --customers M     customers registered (default N, N..1024): the N lanes take them in turn, so each
                    pays once every M payments and what the servers keep per customer (its key
                    binding, its alias, its recent history) is as cold as M makes it; with M = N
                    every customer pays again as soon as its payment ends, which no real platform sees
  --seconds S       measured window (default 20, 1..3600), after the warm-up
  --warmup W        seconds of payments before the window opens (default 30, 0..600): the servers'
                    JavaScript is compiled by V8's optimising compiler, their caches and the
                    database's connections fill while they run, so that the window measures a
                    platform that has been running, as a deployed one has (over their first
                    20 s of payments the servers took 12-29 % more CPU per payment than from
                    30 s on in two runs: docs/benchmarks.md, "The warm-up measured"). The
                    report gives the servers' CPU per payment in each half of the window too,
                    and says so when the first half cost a fifth more than the second: the
                    window was still part of the warm-up. For banking, W + S is at most
                    ${bankingRunSecondsMax} (a customer's session ends after ${defaultBankingLimits.sessionLifetimeSeconds} s)
  --gateways G      gateway instances behind one address (default 1, 1..8); more than one needs
                    DATABASE_URL (they share one PostgreSQL schema; a device's pushes reach it from
                    any instance through LISTEN/NOTIFY) and a platform this command starts
  --processes       start the platform as \`mpay up --processes\` does, each service in a process of its own
                    (PGlite in a temporary folder, removed at the end, or DATABASE_URL), with the bench's
                    policy and limits; each process counts its own crypto and statements for the bench.
                    Server CPU is all of them (and this process), read from /proc, and each
                    service process's apart ("by process"; its children's included)
  --tls             start the platform as \`mpay up\` does, every port HTTPS (its deployment CA made
                    in a temporary folder, removed at the end) and the gateway offering HTTP/2: the
                    devices' and the merchant's fetch offers h2 and trusts that CA only, so the
                    device's bytes on the wire are TLS records of HTTP/2 frames, as a phone's are
  --statements      also list, per service, each SQL statement's text with how often it was sent per
                    payment in the window (most first): where a service's statements per payment
                    go. Only for a platform this command starts (its services run in this process)
  --data DIR        drive the platform running from DIR (its deployment.json, keys and mail, as
                    \`mpay up --data DIR\` wrote them) instead of starting one; loopback only. Its
                    own limits and security policy apply. Server CPU is read from /proc for its
                    process and children ("not measured" elsewhere); the servers' crypto is not
                    counted, so there is no ceiling
  --url DIR_OR_URL  the same: a data folder, or the gateway's URL (then the data folder is
                    MPAY_DATA_DIR or .mpay, whose deployment must be at that URL)
  --json            one JSON object on stdout instead of text
  Exit 0 when every payment completed and the audit holds; 1 otherwise; 2 for wrong arguments
  (and for a platform that cannot be driven: not running, not on loopback, no secrets in DIR).
  Ctrl-C or SIGTERM stops the driver and closes a platform this command started (its custody
  token deleted, its schemas dropped, its folders removed), then exits 130 or 143; a second
  signal (past 2 s: one Ctrl-C through npx arrives twice), or a clean-up longer than 10 minutes,
  exits at once.
`;

interface BenchE2eArguments {
  readonly json: boolean;
  readonly profile: BenchProfile;
  readonly concurrency: number;
  /** Customers registered, taken in turn by the `concurrency` lanes (at least as many as lanes). */
  readonly customers: number;
  readonly seconds: number;
  /** Payments before the window, in seconds (integerFlags.warmup's default, 30, unless given). */
  readonly warmupSeconds: number;
  /** Gateway instances of the platform this command starts (more than one: PostgreSQL only). */
  readonly gateways: number;
  /** Set: drive the platform running from this data folder. */
  readonly dataDir: string | undefined;
  /** The gateway's URL given with --url (checked against the deployment's). */
  readonly url: string | undefined;
  /** --tls: the platform it starts serves HTTPS (HTTP/2 offered on the gateway). */
  readonly tls: boolean;
  /** --statements: each statement's text with its count per payment, per service. */
  readonly statementTexts: boolean;
  /** --processes: the platform it starts runs each service in a process of its own. */
  readonly processes: boolean;
}

const integerFlags = {
  concurrency: { default: 4, min: 1, max: 64 },
  /** Its default is --concurrency's value (one customer per lane). */
  customers: { default: 0, min: 1, max: 1024 },
  seconds: { default: 20, min: 1, max: 3600 },
  warmup: { default: 30, min: 0, max: 600 },
  gateways: { default: 1, min: 1, max: 8 },
} as const;

/** The arguments, or undefined with the reason on stderr (the caller exits 2). */
export function parseBenchE2eArguments(
  args: readonly string[],
  io: CommandIo,
): BenchE2eArguments | undefined {
  const values: Partial<Record<keyof typeof integerFlags, number>> = {};
  let json = false;
  let tls = false;
  let processes = false;
  let statementTextsAsked = false;
  let profile: BenchProfile = 'ims';
  let dataDir: string | undefined;
  let url: string | undefined;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--json') {
      json = true;
      continue;
    }
    if (arg === '--tls') {
      tls = true;
      continue;
    }
    if (arg === '--processes') {
      processes = true;
      continue;
    }
    if (arg === '--statements') {
      statementTextsAsked = true;
      continue;
    }
    const profileMatch = /^--profile(?:=(.*))?$/.exec(arg);
    if (profileMatch !== null) {
      const text = profileMatch[1] ?? args[++index] ?? '';
      if (!(benchProfiles as readonly string[]).includes(text)) {
        io.stderr(`mpay bench e2e: --profile must be one of ${benchProfiles.join(', ')}\n`);
        return undefined;
      }
      profile = text as BenchProfile;
      continue;
    }
    const whereMatch = /^--(data|url)(?:=(.*))?$/.exec(arg);
    if (whereMatch !== null) {
      const text = whereMatch[2] ?? args[++index] ?? '';
      if (text === '' || text.startsWith('--')) {
        io.stderr(
          `mpay bench e2e: --${whereMatch[1]} needs a ${whereMatch[1] === 'data' ? 'folder' : 'data folder or URL'}\n`,
        );
        return undefined;
      }
      if (whereMatch[1] === 'url' && /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
        if (!/^https?:\/\//i.test(text) || !URL.canParse(text)) {
          io.stderr(`mpay bench e2e: --url ${text} is not an http(s) URL\n`);
          return undefined;
        }
        if (!isLoopbackUrl(text)) {
          io.stderr(
            `mpay bench e2e: --url ${text} is not on loopback: the bench drives a platform on this machine only (127.0.0.1, ::1, localhost), whose CPU it can read\n`,
          );
          return undefined;
        }
        url = text;
        continue;
      }
      const folder = resolve(text);
      if (dataDir !== undefined && dataDir !== folder) {
        io.stderr(`mpay bench e2e: two data folders named (${dataDir}, ${folder})\n`);
        return undefined;
      }
      dataDir = folder;
      continue;
    }
    const match = /^--(concurrency|customers|seconds|warmup|gateways)(?:=(.*))?$/.exec(arg);
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
  if (url !== undefined && dataDir === undefined) dataDir = dataDirOf(new Map());
  const pick = (name: keyof typeof integerFlags) => values[name] ?? integerFlags[name].default;
  if (profile === 'banking' && pick('warmup') + pick('seconds') > bankingRunSecondsMax) {
    io.stderr(
      `mpay bench e2e: --profile banking: --warmup and --seconds add up to at most ${bankingRunSecondsMax} s: a banking customer's session, opened as it registers, ends after ${defaultBankingLimits.sessionLifetimeSeconds} s\n`,
    );
    return undefined;
  }
  const gateways = pick('gateways');
  const concurrency = pick('concurrency');
  const customers = values.customers ?? concurrency;
  if (customers < concurrency) {
    io.stderr(
      `mpay bench e2e: --customers (${customers}) must be at least --concurrency (${concurrency}): each lane pays for one customer at a time\n`,
    );
    return undefined;
  }
  if (gateways > 1 && dataDir !== undefined) {
    io.stderr(
      'mpay bench e2e: --gateways starts its own platform; it cannot be given with --data or --url\n',
    );
    return undefined;
  }
  if (tls && dataDir !== undefined) {
    io.stderr(
      'mpay bench e2e: --tls starts its own platform; with --data or --url the running platform serves as it was started\n',
    );
    return undefined;
  }
  if (statementTextsAsked && dataDir !== undefined) {
    io.stderr(
      'mpay bench e2e: --statements reads the statements of the services in this process; with --data or --url they run in another\n',
    );
    return undefined;
  }
  if (processes && dataDir !== undefined) {
    io.stderr(
      'mpay bench e2e: --processes starts its own platform; with --data or --url the running platform runs as it was started\n',
    );
    return undefined;
  }
  if (processes && (gateways > 1 || statementTextsAsked)) {
    io.stderr(
      `mpay bench e2e: --processes runs one gateway process and counts statements per process, not by text: leave out ${gateways > 1 ? '--gateways' : '--statements'}\n`,
    );
    return undefined;
  }
  if (gateways > 1 && (process.env.DATABASE_URL ?? '') === '') {
    io.stderr(
      'mpay bench e2e: --gateways above 1 needs DATABASE_URL: the instances share one PostgreSQL (PGlite is one process)\n',
    );
    return undefined;
  }
  return {
    json,
    profile,
    concurrency,
    customers,
    seconds: pick('seconds'),
    warmupSeconds: pick('warmup'),
    gateways,
    dataDir,
    url,
    tls,
    statementTexts: statementTextsAsked,
    processes,
  };
}

/**
 * The bench pays many times a minute from each customer: the default policy with the medium
 * level's sum lifted (as the end-to-end suites do), so that no payment steps up to large (which
 * takes a second factor a benchmark device does not type). Small and medium still alternate as
 * the defaults say (five small payments, then one with the PIN checked).
 */
export const benchPolicy: SecurityPolicy = parseSecurityPolicy({
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

/** The gateway's rate limits lifted: one customer pays many times a minute. */
export const benchGatewayLimits = {
  paymentRequestsPerCustomerMax: 100_000,
  paymentRequestsPerMerchantMax: 10_000_000,
  aliasLookupsPerMerchantMax: 1_000_000,
} as const;

const paymentMinor = 1_00n;
const openingBalanceMinor = 10_000_000_00n;
const customerPin = '1357';

/** A customer as a new one would be: the bank's operator opens and funds the account, the device enrols and registers. */
async function registerCustomer(target: BenchTarget, index: number): Promise<DriverDevice> {
  const bank = bankOf(target, demoParties.bank.id);
  const suffix = `${index}-${randomBytes(3).toString('hex')}`;
  const { keystore, msisdn } = await registerImsCustomer(target, {
    partyId: `bench.customer${suffix}@person.${bank.id}`,
    deviceId: `bench-phone-${suffix}`,
    displayName: `Bench Customer ${index}`,
    pin: customerPin,
    pinServerUrl: target.custody.url,
    openingBalanceMinor,
  });
  return { keystore, pin: customerPin, msisdn };
}

/** Registrations run at once: a macro registration costs the MPASP an Argon2id, a custody one an HSM key. */
const registrationsAtOnce = 4;

/** `register` for indices 0..count-1, a few at a time, with a progress line every 32 when there are more. */
async function registerAll<T>(
  count: number,
  progress: (line: string) => void,
  register: (index: number) => Promise<T>,
): Promise<T[]> {
  const indices = Array.from({ length: count }, (_, index) => index);
  return inBatches(indices, registrationsAtOnce, register, (done) =>
    progress(`registered ${done} of ${count} customers`),
  );
}

/** The profile's customers, registered through the public APIs, and its driver's configuration. */
async function prepareProfile(
  target: BenchTarget,
  parsed: BenchE2eArguments,
  timing: DriverTiming,
  progress: (line: string) => void,
): Promise<AnyDriverConfig> {
  const count = parsed.customers;
  const currency = demoParties.bank.currency;
  const bankUrls = target.banks.map((bank) => bank.url);
  const merchant = { id: target.merchant.id, signingJwk: target.merchant.signingJwk };
  const common = {
    ...timing,
    currency,
    amountMinor: paymentMinor,
    caPem: target.caPem,
    revokedSerials: target.revokedSerials,
  };
  switch (parsed.profile) {
    case 'ims':
      return {
        profile: 'ims',
        ...common,
        gatewayUrl: target.gatewayUrl,
        bankUrls,
        merchant,
        devices: await registerAll(count, progress, (index) => registerCustomer(target, index)),
      };
    case 'ims-custody':
      return {
        profile: 'ims-custody',
        ...common,
        gatewayUrl: target.gatewayUrl,
        custodyUrl: target.custody.url,
        bankUrls,
        merchant,
        devices: await registerAll(count, progress, (index) =>
          registerCustodyCustomer(target, index, openingBalanceMinor),
        ),
      };
    case 'macro': {
      const fsp = await fetchFspTrust(target.gatewayUrl);
      return {
        profile: 'macro',
        ...common,
        gatewayUrl: target.gatewayUrl,
        bankUrl: bankOf(target, demoParties.bank.id).url,
        merchantId: target.merchant.id,
        devices: await registerAll(count, progress, (index) =>
          registerMacroCustomer(target, fsp, index, openingBalanceMinor),
        ),
      };
    }
    case 'banking':
      return {
        profile: 'banking',
        ...common,
        bankUrl: bankOf(target, demoParties.bank.id).url,
        payeeId: await openBankingPayee(target),
        devices: await registerAll(count, progress, (index) =>
          registerBankingCustomer(target, index, openingBalanceMinor),
        ),
      };
  }
}

/** The audit as `mpay audit` runs it: each bank's own books, then the banks' positions pair by pair. */
async function audit(target: BenchTarget): Promise<{ ok: boolean; lines: string[] }> {
  const clients = target.banks.map((bank) => bank.operator);
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
  /**
   * The servers' CPU in the window, and its part in the kernel (system
   * calls); undefined when it cannot be read (not on this machine).
   */
  cpu: CpuReading | undefined;
  /** The servers' CPU in the window's first half (to the driver's `window-half`); undefined with cpu. */
  cpuFirstHalf: CpuReading | undefined;
  /**
   * The PostgreSQL server's CPU in the window (all its processes, whoever they
   * serve); undefined on PGlite (its engine runs in the servers' own process,
   * inside cpu) or when the server is not on this machine.
   */
  databaseCpu: CpuReading | undefined;
  /**
   * Each service process's CPU in the window (--processes: its own and its
   * children's, inside cpu); a service restarted in the window is
   * undefined. Undefined when the services share one process.
   */
  cpuMsByProcess: Record<string, number | undefined> | undefined;
  counts: Record<string, number>;
  /** Statements and transactions per schema in the window (the platform in this process only). */
  statements: Record<string, StatementCount> | undefined;
  /** Each statement's text with its count in the window, per schema (--statements only). */
  texts: Record<string, Record<string, number>> | undefined;
  /** HTTP requests answered in the window per server name (the platform this command started only). */
  requests: Record<string, number> | undefined;
}

/** How the servers' CPU is read: this process's, or the running platform's processes from /proc. */
type ServerCpu = (driverPid: number | undefined) => Promise<CpuReading | undefined>;

/** How each service process's CPU is read (--processes): their names, and a reading of all of them. */
interface ProcessesCpu {
  readonly names: readonly string[];
  readonly read: () => Promise<Record<string, NamedProcessCpu>>;
}

/** How the database server's CPU is read: its process tree from /proc, or not at all. */
type DatabaseCpu = () => Promise<CpuReading | undefined>;

const notReadable: DatabaseCpu = () => Promise.resolve(undefined);

/**
 * The PostgreSQL server at `url`, when it runs on this machine: its process
 * tree's CPU. Read once here, so that the first reading's own set-up (the
 * clock tick's size) falls outside the window.
 */
async function databaseCpuOf(url: string | undefined): Promise<DatabaseCpu> {
  const pid = url === undefined ? undefined : await localPostgresServerPid(url);
  if (pid === undefined) return notReadable;
  await processTreeCpu(pid, undefined);
  return () => processTreeCpu(pid, undefined);
}

function ownCpu(): Promise<CpuReading> {
  const cpu = process.cpuUsage();
  return Promise.resolve({ ms: (cpu.user + cpu.system) / 1000, kernelMs: cpu.system / 1000 });
}

/** Runs the driver to its report; the servers' CPU and crypto are measured between its window marks. */
async function runDriver(
  config: AnyDriverConfig,
  io: CommandIo,
  counting: ServerCounting | undefined,
  serverCpu: ServerCpu,
  databaseCpu: DatabaseCpu,
  processesCpu: ProcessesCpu | undefined,
  onChild: (child: ChildProcess | undefined) => void,
  tracingTexts: boolean,
): Promise<{ report: DriverReport; server: ServerWindow }> {
  const child = startDriver();
  onChild(child);
  let cpuAtStart: Promise<CpuReading | undefined> = Promise.resolve(undefined);
  let cpuAtHalf: Promise<CpuReading | undefined> = Promise.resolve(undefined);
  let cpuAtEnd: Promise<CpuReading | undefined> = Promise.resolve(undefined);
  let databaseAtStart: Promise<CpuReading | undefined> = Promise.resolve(undefined);
  let databaseAtEnd: Promise<CpuReading | undefined> = Promise.resolve(undefined);
  let processesAtStart: Promise<Record<string, NamedProcessCpu>> | undefined;
  let processesAtEnd: Promise<Record<string, NamedProcessCpu>> | undefined;
  const server: ServerWindow = {
    cpu: undefined,
    cpuFirstHalf: undefined,
    databaseCpu: undefined,
    cpuMsByProcess: undefined,
    counts: {},
    statements: undefined,
    texts: undefined,
    requests: undefined,
  };
  let countsAtEnd: Promise<ServerWindowCounts> | undefined;
  try {
    const report = await new Promise<DriverReport>((resolve, reject) => {
      child.on('message', (message: DriverMessage) => {
        switch (message.type) {
          case 'progress':
            io.stderr(`bench e2e: ${message.line}\n`);
            break;
          case 'window-start': {
            counting?.windowStart();
            // The database's reading walks /proc: done first, so that the servers' reading starts after it.
            databaseAtStart = databaseCpu();
            const afterDatabase = () => serverCpu(child.pid);
            cpuAtStart = databaseAtStart.then(afterDatabase, afterDatabase);
            processesAtStart = processesCpu?.read();
            processesAtStart?.catch(() => undefined);
            if (tracingTexts) traceStatementTexts(true);
            break;
          }
          case 'window-half':
            cpuAtHalf = serverCpu(child.pid);
            cpuAtHalf.catch(() => undefined);
            break;
          case 'window-end': {
            countsAtEnd = counting?.windowEnd();
            // Awaited after the report; a failure to count fails the run then.
            countsAtEnd?.catch(() => undefined);
            if (tracingTexts) {
              server.texts = statementTexts();
              traceStatementTexts(false);
            }
            cpuAtEnd = serverCpu(child.pid);
            processesAtEnd = processesCpu?.read();
            processesAtEnd?.catch(() => undefined);
            databaseAtEnd = databaseCpu();
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
    const between = async (start: Promise<CpuReading | undefined>, end: Promise<CpuReading | undefined>) => {
      const [at, until] = await Promise.all([start, end]);
      return at === undefined || until === undefined
        ? undefined
        : { ms: Math.max(0, until.ms - at.ms), kernelMs: Math.max(0, until.kernelMs - at.kernelMs) };
    };
    if (countsAtEnd !== undefined) {
      const counted = await countsAtEnd;
      server.counts = counted.counts;
      server.statements = counted.statements;
      server.requests = counted.requests;
    }
    server.cpu = await between(cpuAtStart, cpuAtEnd);
    server.cpuFirstHalf = server.cpu === undefined ? undefined : await between(cpuAtStart, cpuAtHalf);
    server.databaseCpu = await between(databaseAtStart, databaseAtEnd);
    if (processesCpu !== undefined && processesAtStart !== undefined && processesAtEnd !== undefined)
      server.cpuMsByProcess = namedProcessesCpuBetween(
        await processesAtStart,
        await processesAtEnd,
        processesCpu.names,
      );
    return { report, server };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    onChild(undefined);
  }
}

/** The platform the bench drives: started here, or found running; what closing it takes. */
async function openTarget(
  parsed: BenchE2eArguments,
  io: CommandIo,
): Promise<
  | {
      target: BenchTarget;
      serverCpu: ServerCpu;
      databaseCpu: DatabaseCpu;
      /** Each service process's CPU (--processes); undefined: the services share one process. */
      processesCpu?: ProcessesCpu;
      /** How the servers' crypto and statements are counted; undefined: they are not (another process). */
      counting: () => ServerCounting | undefined;
      close: () => Promise<void>;
    }
  | { refusal: string }
> {
  if (parsed.dataDir !== undefined) {
    if (!(await isDirectory(parsed.dataDir)))
      return { refusal: `${parsed.dataDir} is not a folder: name the data folder of a running platform` };
    const found = await runningTarget(parsed.dataDir, parsed.url);
    if ('refusal' in found) return found;
    const { target, pid } = found;
    io.stderr(`bench e2e: driving the platform running from ${parsed.dataDir} (pid ${pid})\n`);
    const untrust = trustWhileDriving(found.tls);
    return {
      target,
      serverCpu: (driverPid) => processTreeCpu(pid, driverPid),
      // Its database is not named in its deployment: whatever DATABASE_URL names here might be another.
      databaseCpu: notReadable,
      // The platform in this very process (a test): its crypto is counted as a started one's.
      counting: () => (pid === process.pid ? inProcessCounting() : undefined),
      close: untrust,
    };
  }
  const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const schemaPrefix = `bench_e2e_${randomBytes(4).toString('hex')}_`;
  if (parsed.processes) return openProcessesTarget(parsed, io, databaseUrl, schemaPrefix);
  io.stderr(
    `bench e2e: starting the platform (${databaseUrl === undefined ? 'PGlite in memory' : `PostgreSQL, schemas ${schemaPrefix}*, dropped at the end`}${parsed.tls ? ', every port HTTPS' : ''})\n`,
  );
  // --tls: the deployment's CA and the services' certificates in a folder of their own, removed at the end.
  const pkiDir = parsed.tls ? await mkdtemp(join(tmpdir(), 'mpay-bench-tls-')) : undefined;
  const removePki = () => (pkiDir === undefined ? undefined : rm(pkiDir, { recursive: true, force: true }));
  let platform: Platform;
  try {
    if (pkiDir !== undefined) await ensurePlatformPki(pkiDir);
    platform = await startPlatform({
      databaseUrl,
      schemaPrefix,
      securityPolicy: benchPolicy,
      gatewayLimits: benchGatewayLimits,
      gateways: parsed.gateways,
      ...(pkiDir === undefined ? {} : { tls: { dataDir: pkiDir } }),
    });
  } catch (error) {
    await removePki();
    throw error;
  }
  const token = platform.custodyToken;
  io.stderr(
    `bench e2e: custody's token "${token.label}" in ${token.directory}${token.deletedAtClose ? ', deleted at the end' : ''}\n`,
  );
  // The bench's own calls outside the SDK (the operator's alias registration) trust the deployment's CA.
  const globalFetch = globalThis.fetch;
  const caPem = platform.tls?.caPem;
  const agent = caPem === undefined ? undefined : createCaTrustAgent(caPem);
  if (agent !== undefined) globalThis.fetch = tlsFetch(agent) as typeof globalThis.fetch;
  let closing: Promise<void> | undefined;
  return {
    target: inProcessTarget(platform, databaseUrl === undefined ? 'pglite' : 'postgres'),
    serverCpu: ownCpu,
    databaseCpu: await databaseCpuOf(databaseUrl),
    counting: inProcessCounting,
    close: () => {
      closing ??= (async () => {
        // The rest even when a part of the platform failed to close: its schemas, folders and agent.
        try {
          await platform.close();
        } finally {
          if (agent !== undefined) {
            globalThis.fetch = globalFetch;
            await agent.close();
          }
          await removePki();
          if (databaseUrl !== undefined)
            for (const schema of platformSchemas)
              await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
        }
      })();
      return closing;
    },
  };
}

/**
 * The bench's own calls outside the SDK (the operator's alias registration, the audit) trust a
 * running deployment's CA while it drives it; what puts the process's fetch back (once).
 */
function trustWhileDriving(
  tls: { readonly fetch: typeof fetch; readonly agent: { close(): Promise<void> } } | undefined,
) {
  if (tls === undefined) return () => Promise.resolve();
  const processFetch = globalThis.fetch;
  globalThis.fetch = tls.fetch;
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      globalThis.fetch = processFetch;
      await tls.agent.close();
    })();
    return closing;
  };
}

/**
 * `--processes`: the platform as `mpay up --processes` runs it (each service a process of its own,
 * PGlite in a temporary data folder or DATABASE_URL's schemas), with the bench's policy and gateway
 * limits written where an operator writes them, every service process counting for the bench.
 */
async function openProcessesTarget(
  parsed: BenchE2eArguments,
  io: CommandIo,
  databaseUrl: string | undefined,
  schemaPrefix: string,
): Promise<Awaited<ReturnType<typeof openTarget>>> {
  const { ProcessPlatform: processPlatform } = await import('../../platform/processes.ts');
  const { platformProcessNames } = await import('../../platform/processes-service.ts');
  const dataDir = await mkdtemp(join(tmpdir(), 'mpay-bench-processes-'));
  io.stderr(
    `bench e2e: starting the platform, each service in its own process (${databaseUrl === undefined ? 'PGlite' : `PostgreSQL, schemas ${schemaPrefix}*, dropped at the end`}${parsed.tls ? ', every port HTTPS' : ''}), its data in ${dataDir} (removed at the end)\n`,
  );
  const dropData = async () => {
    await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl !== undefined)
      for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  };
  let platform: ProcessPlatform;
  try {
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(join(dataDir, 'security-policy.json'), json(securityPolicyToJson(benchPolicy)));
    await writeFile(join(dataDir, gatewayLimitsFileName), json(benchGatewayLimits));
    platform = await processPlatform.start({
      dataDir,
      databaseUrl,
      schemaPrefix,
      tls: parsed.tls,
      benchCounting: true,
    });
  } catch (error) {
    await dropData();
    throw error;
  }
  let found: Awaited<ReturnType<typeof runningTarget>>;
  let databaseCpu: DatabaseCpu;
  try {
    found = await runningTarget(dataDir, undefined);
    databaseCpu = await databaseCpuOf(databaseUrl);
  } catch (error) {
    await platform.close();
    await dropData();
    throw error;
  }
  if ('refusal' in found) {
    await platform.close();
    await dropData();
    return found;
  }
  const untrust = trustWhileDriving(found.tls);
  let closing: Promise<void> | undefined;
  return {
    target: {
      ...found.target,
      database: databaseUrl === undefined ? 'pglite' : 'postgres',
      where: `${platformProcessNames.length} processes, one per service`,
    },
    // Every service process and this one (its mail and SMS servers, the supervisor), not the driver.
    serverCpu: (driverPid) => processTreeCpu(process.pid, driverPid),
    processesCpu: {
      names: platformProcessNames,
      read: () =>
        namedProcessesCpuMs(
          Object.fromEntries(platformProcessNames.map((name) => [name, platform.pidOf(name)])),
        ),
    },
    databaseCpu,
    counting: () =>
      processesCounting({
        names: platformProcessNames,
        ask: (name, request) => platform.askService(name as (typeof platformProcessNames)[number], request),
      }),
    close: () => {
      closing ??= (async () => {
        try {
          await platform.close();
        } finally {
          await untrust();
          await dropData();
        }
      })();
      return closing;
    },
  };
}

/**
 * A stop signal's clean-up: the driver stopped, the platform closed (a run's custody token deleted,
 * its PostgreSQL schemas dropped, its temporary folders removed), after its start when the signal
 * came during it. Past this the command exits anyway.
 */
export const benchE2eCleanUpMsMax = 10 * 60_000;

/** `mpay bench e2e`: payments end to end over HTTP against a platform, with the crypto-only ceiling of the same run. */
export async function runBenchE2e(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseBenchE2eArguments(args, io);
  if (parsed === undefined) return 2;
  const watch = watchStopSignals({ io, command: 'bench e2e', cleanUpMsMax: benchE2eCleanUpMsMax });
  return watch.finish(() => benchE2e(parsed, io, watch));
}

async function benchE2e(parsed: BenchE2eArguments, io: CommandIo, watch: StopSignalWatch): Promise<number> {
  const loadBefore = await loadAverage();
  const opening = openTarget(parsed, io);
  // Ctrl-C or SIGTERM while the platform starts: it is closed once started.
  watch.onStop(() => opening.then((opened) => ('refusal' in opened ? undefined : opened.close())));
  const opened = await opening;
  if ('refusal' in opened) {
    io.stderr(`mpay bench e2e: ${opened.refusal}\n`);
    return 2;
  }
  // Stopped while it started: the clean-up closes it; nothing more is begun.
  if (watch.stoppedStatus() !== undefined) return 1;
  const { target } = opened;
  const counting = opened.counting();
  let driver: ChildProcess | undefined;
  // Then the driver stopped first, the platform closed after (steps run last added first).
  watch.onStop(() => {
    driver?.kill();
    counting?.restore();
  });
  try {
    io.stderr(
      `bench e2e: registering ${parsed.customers} ${parsed.profile} customer(s) through the public APIs${parsed.customers === parsed.concurrency ? '' : `, paying ${parsed.concurrency} at a time in turn`}\n`,
    );
    const warmupMs = parsed.warmupSeconds * 1000;
    // A short run (a smoke test) replays each kind of crypto call for less time: its ceiling is rougher.
    const mixBudgetMs = Math.min(150, 15 * parsed.seconds);
    const config = await prepareProfile(
      target,
      parsed,
      { warmupMs, windowMs: parsed.seconds * 1000, mixBudgetMs, lanes: parsed.concurrency },
      (line) => io.stderr(`bench e2e: ${line}\n`),
    );
    const { report, server } = await runDriver(
      config,
      io,
      counting,
      opened.serverCpu,
      opened.databaseCpu,
      opened.processesCpu,
      (child) => {
        driver = child;
      },
      parsed.statementTexts,
    );
    const payments = report.payments;
    io.stderr('bench e2e: audit\n');
    const audited = await audit(target);
    const timeServerMix = () => {
      if (counting === undefined) return Promise.resolve(undefined);
      io.stderr('bench e2e: timing the servers’ crypto mix alone\n');
      return counting.timeMix(payments, mixBudgetMs);
    };
    // In this process, the servers' mix is timed with the platform closed: its background work would be
    // timed too. Service processes hold their calls' keys: each times its own before they are closed.
    const mixBeforeClose = counting?.timeMixBeforeClose === true ? await timeServerMix() : undefined;
    await opened.close();
    const serverMix = counting?.timeMixBeforeClose === true ? mixBeforeClose : await timeServerMix();
    const loadAfter = await loadAverage();
    const sorted = [...report.latenciesMs].sort((a, b) => a - b);
    const seconds = report.windowMs / 1000;
    const perSecond = seconds === 0 ? 0 : payments / seconds;
    const cryptoMs = serverMix === undefined ? undefined : serverMix.msPerPayment + report.cryptoMsPerPayment;
    const ceiling = cryptoMs === undefined || cryptoMs === 0 ? undefined : 1000 / cryptoMs;
    const per = (value: number | undefined) =>
      payments === 0 || value === undefined ? null : round1(value / payments);
    const halves = cpuPerPaymentByHalf(
      server.cpu?.ms,
      server.cpuFirstHalf?.ms,
      payments,
      report.paymentsFirstHalf,
    );
    // The part of a CPU reading spent in the kernel: the system calls (network, files, waking others).
    const kernelShare = (cpu: CpuReading | undefined) =>
      cpu === undefined || cpu.ms === 0 ? null : round2(cpu.kernelMs / cpu.ms);
    const perKind = (counts: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(counts).map(([kind, count]) => [kind, payments === 0 ? 0 : round2(count / payments)]),
      );
    const callsPerPayment = (counts: Record<string, number>) =>
      payments === 0 ? 0 : round1(Object.values(counts).reduce((sum, count) => sum + count, 0) / payments);
    const statementsPerPayment =
      server.statements === undefined || payments === 0
        ? null
        : Object.fromEntries(
            Object.entries(server.statements)
              .filter(([, count]) => count.statements + count.transactions > 0)
              .map(([schema, count]) => [
                schema.replace(/^bench_e2e_[0-9a-f]{8}_/, ''),
                {
                  statements: round1(count.statements / payments),
                  transactions: round1(count.transactions / payments),
                  // PostgreSQL only: its server's answers waited for (0 on PGlite: left out).
                  ...(count.roundTrips > 0 ? { round_trips: round1(count.roundTrips / payments) } : {}),
                },
              ]),
          );
    const requestsPerPayment =
      server.requests === undefined || payments === 0
        ? null
        : Object.fromEntries(
            Object.entries(server.requests)
              .filter(([, count]) => count > 0)
              .map(([name, count]) => [name, round1(count / payments)]),
          );
    const figures = {
      benchmark: 'e2e',
      profile: parsed.profile,
      database: target.database,
      servers: target.where,
      // How the parties reach the servers: plain HTTP/1.1, or HTTPS with HTTP/2 offered (--tls).
      transport: target.caPem === undefined ? 'http' : 'https, h2 offered',
      concurrency: parsed.concurrency,
      customers: parsed.customers,
      gateways: parsed.gateways,
      seconds: round1(seconds),
      warmup_seconds: parsed.warmupSeconds,
      payments,
      payments_per_second: round2(perSecond),
      failures: report.failures,
      failure_samples: report.failureSamples,
      completed_total: report.completedTotal,
      customers_paid: report.customersPaid,
      p50_ms: percentile(sorted, 0.5),
      p95_ms: percentile(sorted, 0.95),
      p99_ms: percentile(sorted, 0.99),
      server_cpu_ms_per_payment: per(server.cpu?.ms),
      server_cpu_ms_per_payment_halves: halves,
      still_warming: stillWarming(halves),
      server_cpu_kernel_share: kernelShare(server.cpu),
      database_server_cpu_ms_per_payment: per(server.databaseCpu?.ms),
      database_server_cpu_kernel_share: kernelShare(server.databaseCpu),
      ...(server.cpuMsByProcess === undefined
        ? {}
        : {
            server_cpu_ms_per_payment_by_process: Object.fromEntries(
              Object.entries(server.cpuMsByProcess).map(([name, ms]) => [name, per(ms)]),
            ),
          }),
      driver_cpu_ms_per_payment: per(report.cpuMs.user + report.cpuMs.system),
      statements_per_payment: statementsPerPayment,
      http_requests_per_payment: requestsPerPayment,
      ...(server.texts === undefined
        ? {}
        : { statement_texts: statementTextsPerPayment(server.texts, payments) }),
      parties: {
        device: {
          ...perPaymentTraffic(report.traffic.device, payments),
          ...(report.deviceWire === undefined
            ? {}
            : {
                wire_bytes_sent: payments === 0 ? 0 : round1(report.deviceWire.sent / payments),
                wire_bytes_received: payments === 0 ? 0 : round1(report.deviceWire.received / payments),
              }),
        },
        merchant: perPaymentTraffic(report.traffic.merchant, payments),
      },
      crypto: {
        method:
          serverMix === undefined
            ? 'every crypto.subtle call of the driver (which keeps WebCrypto, as a phone) counted during the window ' +
              'and replayed alone; ' +
              'the servers run in another process: their crypto is not counted, so there is no ceiling'
            : 'every crypto.subtle call, and every operation of the servers’ node:crypto engine, ' +
              'counted in both processes during the window, by engine, method and algorithm; the first call of ' +
              'each kind replayed alone through its engine, one at a time, weighted by calls per payment',
        calls_per_payment: {
          servers: serverMix === undefined ? null : callsPerPayment(server.counts),
          driver: callsPerPayment(report.cryptoCounts),
        },
        ms_per_payment: {
          servers: serverMix === undefined ? null : round2(serverMix.msPerPayment),
          driver: round2(report.cryptoMsPerPayment),
        },
        ceiling_payments_per_second: ceiling === undefined ? null : round1(ceiling),
        ratio: ceiling === undefined ? null : Math.round((perSecond / ceiling) * 1000) / 1000,
        servers: perKind(server.counts),
        driver: perKind(report.cryptoCounts),
        microseconds_per_call: {
          servers: serverMix?.microsecondsPerCall ?? {},
          driver: report.cryptoMicrosecondsPerCall,
        },
      },
      // What the driver and a local PostgreSQL leave the servers on this machine's cores.
      machine:
        ceiling === undefined || payments === 0
          ? null
          : machineBound({
              cores: availableParallelism(),
              ceilingPerSecond: ceiling,
              driverMs: (report.cpuMs.user + report.cpuMs.system) / payments,
              databaseMs: server.databaseCpu === undefined ? undefined : server.databaseCpu.ms / payments,
            }),
      audit_ok: audited.ok,
      audit: audited.lines,
      load_before: loadBefore,
      load_after: loadAfter,
    };
    io.stdout(parsed.json ? `${JSON.stringify(figures)}\n` : text(figures));
    if (!parsed.json && figures.statement_texts !== undefined)
      io.stdout(statementTextsText(figures.statement_texts));
    if (!parsed.json) for (const line of audited.lines) io.stderr(`  audit ${line}\n`);
    if (report.failures > 0)
      io.stderr(`bench e2e: ${report.failures} payment(s) failed: ${report.failureSamples.join('; ')}\n`);
    if (report.failureSamples.some((sample) => sample.includes('RATE_LIMITED')) && !target.inProcess)
      io.stderr(
        "bench e2e: the running platform rate-limited payments (its gateway limits apply: `mpay up` allows 10 payment requests per customer a minute unless <data>/gateway-limits.json raises paymentRequestsPerCustomerMax; --processes starts a platform with the bench's limits)\n",
      );
    if (!audited.ok) io.stderr('bench e2e: the audit FAILED\n');
    return report.failures === 0 && audited.ok && payments > 0 ? 0 : 1;
  } finally {
    counting?.restore();
    await opened.close();
  }
}

/** Statement texts shown: whitespace folded, at most this many characters. */
const statementTextShownMax = 160;

interface StatementTextPerPayment {
  readonly per_payment: number;
  readonly text: string;
}

/** Per service (the bench's schema prefix dropped), its texts with their count per payment, most first. */
function statementTextsPerPayment(
  texts: Record<string, Record<string, number>>,
  payments: number,
): Record<string, StatementTextPerPayment[]> {
  return Object.fromEntries(
    Object.entries(texts)
      .map(([schema, counts]) => {
        const folded = new Map<string, number>();
        for (const [statement, count] of Object.entries(counts)) {
          const shown = statement.replace(/\s+/g, ' ').trim().slice(0, statementTextShownMax);
          folded.set(shown, (folded.get(shown) ?? 0) + count);
        }
        const rows = [...folded]
          .map(([text, count]) => ({ per_payment: payments === 0 ? 0 : round2(count / payments), text }))
          .sort((a, b) => b.per_payment - a.per_payment);
        return [schema.replace(/^bench_e2e_[0-9a-f]{8}_/, ''), rows] as const;
      })
      .filter(([, rows]) => rows.length > 0),
  );
}

function statementTextsText(perService: Record<string, StatementTextPerPayment[]>): string {
  const lines = ['statements per payment, by text (--statements):'];
  for (const [service, rows] of Object.entries(perService)) {
    lines.push(`  ${service}`);
    for (const row of rows) lines.push(`    ${row.per_payment.toFixed(2).padStart(6)}  ${row.text}`);
  }
  return `${lines.join('\n')}\n`;
}

interface TextFigures {
  profile: BenchProfile;
  database: string;
  servers: string;
  transport: string;
  concurrency: number;
  customers: number;
  gateways: number;
  seconds: number;
  warmup_seconds: number;
  payments: number;
  payments_per_second: number;
  failures: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  server_cpu_ms_per_payment: number | null;
  /** The servers' CPU per payment in the window's first and second halves (e2e-warmup.ts); null when not told. */
  server_cpu_ms_per_payment_halves: WindowHalves | null;
  /** The first half was stillWarmingRatio times the second or more: the window was part of the warm-up. */
  still_warming: boolean;
  /** The part of the servers' CPU spent in the kernel (0..1). */
  server_cpu_kernel_share: number | null;
  database_server_cpu_ms_per_payment: number | null;
  /** The part of the PostgreSQL server's CPU spent in the kernel (0..1). */
  database_server_cpu_kernel_share: number | null;
  server_cpu_ms_per_payment_by_process?: Record<string, number | null>;
  driver_cpu_ms_per_payment: number | null;
  statements_per_payment: Record<string, StatementsOfService> | null;
  /** HTTP requests each service answered per payment, from anyone (the parties, the other services); null when not counted. */
  http_requests_per_payment: Record<string, number> | null;
  parties: Record<
    'device' | 'merchant',
    {
      bytes_sent: number;
      bytes_received: number;
      round_trips: number;
      wire_bytes_sent?: number;
      wire_bytes_received?: number;
    }
  >;
  crypto: {
    calls_per_payment: { servers: number | null; driver: number };
    ms_per_payment: { servers: number | null; driver: number };
    ceiling_payments_per_second: number | null;
    ratio: number | null;
  };
  machine: MachineBound | null;
  audit_ok: boolean;
  load_before: string;
  load_after: string;
}

/** What a payment's latency spans, per profile. */
const latencySpan: Record<BenchProfile, string> = {
  ims: 'merchant request to receipt',
  'ims-custody': 'merchant request to receipt, through custody',
  macro: 'step 1 to Pay_Confirm',
  banking: 'transfer request to the bank’s answer',
};

/** A service's statements per payment; round trips on PostgreSQL only. */
interface StatementsOfService {
  statements: number;
  transactions: number;
  round_trips?: number;
}

/** `gateway 21.3 (4.0 tx, 13.2 round trips), xbank …; 60.2 statements, 40.1 round trips in all`. */
function statementsText(perService: Record<string, StatementsOfService>): string {
  const entries = Object.entries(perService);
  const total = entries.reduce((sum, [, count]) => sum + count.statements, 0);
  const trips = entries.reduce((sum, [, count]) => sum + (count.round_trips ?? 0), 0);
  const each = entries.map(
    ([service, count]) =>
      `${service} ${count.statements} (${count.transactions} tx${count.round_trips === undefined ? '' : `, ${count.round_trips} round trips`})`,
  );
  return `${each.join(', ')}; ${round1(total)} statements${trips > 0 ? `, ${round1(trips)} round trips` : ''} in all`;
}

/** `gateway 3, xbank 1, …; 8 requests answered in all`. */
function requestsText(perService: Record<string, number>): string {
  const entries = Object.entries(perService);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  return `${entries.map(([service, count]) => `${service} ${count}`).join(', ')}; ${round1(total)} requests answered in all`;
}

/**
 * `gateway 21.3 ms, xbank 9.1 ms, …; the supervisor's process 1.2 ms`: each
 * service process's share of the servers', and what is left of it for the
 * process that runs the supervisor (its mail and SMS servers, the bench).
 */
function processesCpuText(byProcess: Record<string, number | null>, total: number | null): string {
  const entries = Object.entries(byProcess);
  const each = entries.map(
    ([name, ms]) => `${name} ${ms === null ? 'not measured (restarted)' : `${ms} ms`}`,
  );
  const measured = entries.map(([, ms]) => ms).filter((ms): ms is number => ms !== null);
  const rest =
    total === null || measured.length < entries.length
      ? ''
      : `; the supervisor's process ${round1(Math.max(0, total - measured.reduce((sum, ms) => sum + ms, 0)))} ms`;
  return `${each.join(', ')}${rest}`;
}

/** The database server's share: inside the servers' own on PGlite, its processes' on a local PostgreSQL. */
function databaseCpuText(figures: TextFigures): string {
  if (figures.database === 'pglite') return 'database inside the servers’';
  return figures.database_server_cpu_ms_per_payment === null
    ? 'database server not measured'
    : `PostgreSQL server ${figures.database_server_cpu_ms_per_payment} ms (all its processes${figures.database_server_cpu_kernel_share === null ? '' : `, ${kernelText(figures.database_server_cpu_kernel_share)}`})`;
}

/** ' (12 % in the kernel; the window's halves 21.3 and 20.8 ms)', the parts known. */
function serverCpuDetail(figures: TextFigures): string {
  const halves = figures.server_cpu_ms_per_payment_halves;
  const parts = [
    ...(figures.server_cpu_kernel_share === null ? [] : [kernelText(figures.server_cpu_kernel_share)]),
    ...(halves === null ? [] : [`the window's halves ${halves.first} and ${halves.second} ms`]),
  ];
  return parts.length === 0 ? '' : ` (${parts.join('; ')})`;
}

/** '12 % in the kernel'. */
function kernelText(share: number): string {
  return `${Math.round(share * 100)} % in the kernel`;
}

function text(figures: TextFigures): string {
  const { crypto, parties } = figures;
  const party = (name: 'device' | 'merchant') => {
    const figures = parties[name];
    const wire =
      figures.wire_bytes_sent === undefined
        ? ''
        : `; on the wire ${figures.wire_bytes_sent} B sent, ${figures.wire_bytes_received} B received`;
    return `${figures.bytes_sent} B sent, ${figures.bytes_received} B received, ${figures.round_trips} round trips${wire}`;
  };
  const notMeasured = (value: number | null, unit: string) =>
    value === null ? 'not measured' : `${value}${unit}`;
  return `${[
    `mpay bench e2e (${figures.profile}, ${figures.database}, servers ${figures.servers}${figures.gateways > 1 ? `, ${figures.gateways} gateways` : ''}, ${figures.transport}): concurrency ${figures.concurrency}${figures.customers === figures.concurrency ? '' : ` over ${figures.customers} customers in turn`}, ${figures.seconds} s measured after ${figures.warmup_seconds} s of warm-up`,
    `  payments      ${figures.payments_per_second}/s  (${figures.payments} payments, ${figures.failures} failed)`,
    `  latency       p50 ${figures.p50_ms} ms, p95 ${figures.p95_ms} ms, p99 ${figures.p99_ms} ms (${latencySpan[figures.profile]})`,
    `  CPU/payment   servers ${notMeasured(figures.server_cpu_ms_per_payment, ' ms')}${serverCpuDetail(figures)}, ${databaseCpuText(figures)}, driver ${notMeasured(figures.driver_cpu_ms_per_payment, ' ms')}`,
    ...[stillWarmingLine(figures.server_cpu_ms_per_payment_halves)]
      .filter((line) => line !== undefined)
      .map((line) => `  warm-up       ${line}`),
    ...(figures.server_cpu_ms_per_payment_by_process === undefined
      ? []
      : [
          `  by process    ${processesCpuText(figures.server_cpu_ms_per_payment_by_process, figures.server_cpu_ms_per_payment)}`,
        ]),
    figures.statements_per_payment === null
      ? '  SQL/payment   not counted (the servers run in another process)'
      : `  SQL/payment   ${statementsText(figures.statements_per_payment)}`,
    figures.http_requests_per_payment === null
      ? '  HTTP/payment  not counted (the servers run in another process)'
      : `  HTTP/payment  ${requestsText(figures.http_requests_per_payment)}`,
    `  device        ${party('device')} per payment`,
    `  merchant      ${party('merchant')} per payment`,
    crypto.calls_per_payment.servers === null
      ? `  crypto        servers not counted (another process); ${crypto.calls_per_payment.driver} calls driver per payment, ${crypto.ms_per_payment.driver} ms alone`
      : `  crypto        ${crypto.calls_per_payment.servers} calls servers + ${crypto.calls_per_payment.driver} driver per payment; ${crypto.ms_per_payment.servers} + ${crypto.ms_per_payment.driver} ms alone`,
    crypto.ceiling_payments_per_second === null
      ? '  ceiling       not measured (the servers’ crypto is not counted)'
      : `  ceiling       ${crypto.ceiling_payments_per_second} payments/s crypto only (one core); measured/ceiling ${crypto.ratio}`,
    ...(figures.machine === null ? [] : [`  machine       ${machineBoundText(figures.machine)}`]),
    `  audit         ${figures.audit_ok ? 'holds' : 'FAILED'}`,
    `  load average  ${figures.load_before} before, ${figures.load_after} after`,
  ].join('\n')}\n`;
}
