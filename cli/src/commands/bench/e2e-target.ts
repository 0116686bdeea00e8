/**
 * The platform `mpay bench e2e` drives: one it starts in this process, or
 * one already running (`--data DIR` / `--url`), found through the
 * deployment.json `mpay up` writes and the secrets of its data folder (the
 * banks' operator keys, the gateway's operator token, the demo merchant's
 * keys), as `mpay demo` finds them. What each profile's registration needs
 * comes from here, and the servers' CPU: the process's own in-process, else
 * read from /proc for the deployment's process and its children (same
 * machine only).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateJwk } from '@mpay/envelope';
import { requestText } from '@mpay/http-client';
import { parseProcStat } from '@mpay/http-server';
import { createCaTrustAgent, tlsFetch } from '@mpay/pki';
import { withPostgresBackendPid } from '@mpay/storage';
import { demoParties } from '../../platform/seed.ts';
import type { Platform } from '../../platform/start.ts';
import { deploymentTrustOf } from '../../platform/tls.ts';
import {
  bankOperator,
  type Deployment,
  type OperatorClient,
  operatorClient,
  readJson,
} from '../deployment.ts';
import { mailDirOf } from '../mail.ts';
import { smsDirOf } from '../sms.ts';

export interface BenchBank {
  readonly id: string;
  readonly url: string;
  readonly operator: OperatorClient;
}

export interface BenchTarget {
  /** 'pglite', 'postgres', or 'running' (a platform this command did not start). */
  readonly database: string;
  /** How the report names where the servers ran. */
  readonly where: string;
  readonly inProcess: boolean;
  readonly gatewayUrl: string;
  readonly custody: { readonly url: string; readonly id: string };
  readonly banks: readonly BenchBank[];
  /** The gateway's operator bearer token (phone aliases). */
  readonly operatorToken: string;
  readonly merchant: {
    readonly id: string;
    readonly signingJwk: PrivateJwk;
    readonly encryptionJwk: PrivateJwk;
  };
  /** Where the embedded mail server keeps its mail (macro registration), if it is in use. */
  readonly mailDir: string | undefined;
  /** Where the embedded SMS gateway keeps its texts (banking login codes), if it is in use. */
  readonly smsDir: string | undefined;
  /** The deployment's CA, PEM, when its ports serve HTTPS (the driver trusts it and nothing else). */
  readonly caPem?: string | undefined;
  /** Serials the deployment's revocation lists refuse (with caPem). */
  readonly revokedSerials?: readonly string[] | undefined;
}

export function bankOf(target: BenchTarget, id: string): BenchBank {
  const bank = target.banks.find((candidate) => candidate.id === id);
  if (bank === undefined) throw new Error(`the platform runs no bank ${id}`);
  return bank;
}

/** A platform this process started. */
export function inProcessTarget(platform: Platform, database: string): BenchTarget {
  return {
    database,
    where: 'in this process',
    inProcess: true,
    gatewayUrl: platform.urls.gateway,
    custody: { url: platform.urls.custody, id: platform.custody.context.custody.id },
    banks: platform.banks.map((bank) => ({
      id: bank.id,
      url: bank.url,
      operator: bankOperator(bank, bank.operatorKey),
    })),
    operatorToken: platform.operatorToken,
    merchant: {
      id: demoParties.merchant.id,
      signingJwk: platform.credentials.merchantKeys.signing.privateJwk,
      encryptionJwk: platform.credentials.merchantKeys.encryption.privateJwk,
    },
    mailDir: platform.mail.dir,
    smsDir: platform.sms.dir,
    caPem: platform.tls?.caPem,
    revokedSerials: platform.tls === undefined ? undefined : [...platform.tls.revokedSerials],
  };
}

/** Loopback only: a platform elsewhere has its CPU out of reach, and the bench is no load generator for others' hosts. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return isLoopbackHost(host);
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127(\.[0-9]{1,3}){3}$/.test(host);
}

async function healthy(url: string, fetchTrusting: typeof fetch): Promise<boolean> {
  try {
    const { status } = await requestText(`${url}/health`, {
      fetch: fetchTrusting,
      timeoutMs: 2_000,
      responseBytesMax: 64 * 1024,
    });
    return status >= 200 && status < 300;
  } catch {
    return false;
  }
}

/** A running deployment's TLS trust, as `mpay demo` takes it: its CA bundle and revocation lists. */
interface RunningTls {
  readonly caPem: string;
  readonly revokedSerials: ReadonlySet<string>;
  readonly agent: ReturnType<typeof createCaTrustAgent>;
  readonly fetch: typeof fetch;
}

async function runningTlsOf(deployment: Deployment): Promise<RunningTls | undefined | { refusal: string }> {
  const caPath = deployment.tls?.ca;
  if (caPath === undefined) return undefined;
  let trust: Awaited<ReturnType<typeof deploymentTrustOf>>;
  try {
    trust = await deploymentTrustOf(caPath);
  } catch (error) {
    return { refusal: `the deployment's CA (${caPath}) cannot be trusted: ${String(error)}` };
  }
  const agent = createCaTrustAgent(trust.caPem, {}, { revokedSerials: trust.revokedSerials });
  return { ...trust, agent, fetch: tlsFetch(agent) as typeof fetch };
}

/** A running platform, or the reason it cannot be driven (the caller prints it and exits 2). */
export async function runningTarget(
  dataDir: string,
  url: string | undefined,
): Promise<{ target: BenchTarget; pid: number; tls: RunningTls | undefined } | { refusal: string }> {
  const deployment = await readJson<Deployment>(join(dataDir, 'deployment.json'));
  if (deployment === undefined || typeof deployment.gateway !== 'string' || !Array.isArray(deployment.banks))
    return {
      refusal: `no deployment.json in ${dataDir}: start the platform there with \`mpay up --data ${dataDir}\` (or \`npm start\`)`,
    };
  if (url !== undefined && new URL(url).origin !== new URL(deployment.gateway).origin)
    return {
      refusal: `--url ${url} is not the gateway of the deployment in ${dataDir} (${deployment.gateway}); name its data folder`,
    };
  const urls = [
    deployment.gateway,
    deployment.custody?.url ?? '',
    ...deployment.banks.map((bank) => bank.url),
  ];
  const remote = urls.find((candidate) => !isLoopbackUrl(candidate));
  if (remote !== undefined)
    return {
      refusal: `${remote === '' ? 'the deployment names no custody' : `${remote} is not on loopback`}: mpay bench e2e drives a platform on this machine only (127.0.0.1, ::1, localhost)`,
    };
  const operatorToken = await readJson<string>(join(dataDir, 'keys', 'operator-token.json'));
  const merchantKeys = await readJson<{
    signing: { privateJwk: PrivateJwk };
    encryption: { privateJwk: PrivateJwk };
  }>(join(dataDir, 'parties', `${demoParties.merchant.id}.json`));
  if (typeof operatorToken !== 'string' || merchantKeys === undefined)
    return { refusal: `no operator token or merchant keys in ${dataDir}/keys, ${dataDir}/parties` };
  const banks: BenchBank[] = [];
  for (const bank of deployment.banks) {
    try {
      banks.push({ id: bank.id, url: bank.url, operator: await operatorClient(dataDir, bank) });
    } catch {
      return { refusal: `no operator key for ${bank.id} in ${dataDir}/keys` };
    }
  }
  const custody = deployment.custody;
  if (custody === undefined) return { refusal: `the deployment in ${dataDir} names no custody` };
  // Its ports serve HTTPS (`mpay up` without --no-tls): the bench and its driver trust its CA only.
  const tls = await runningTlsOf(deployment);
  if (tls !== undefined && 'refusal' in tls) return tls;
  if (!(await healthy(deployment.gateway, tls?.fetch ?? fetch))) {
    await tls?.agent.close();
    return {
      refusal: `no platform answers at ${deployment.gateway} (from ${dataDir}/deployment.json): is it running?`,
    };
  }
  return {
    pid: deployment.pid,
    tls,
    target: {
      database: 'running',
      where: `a running platform, pid ${deployment.pid}`,
      inProcess: false,
      gatewayUrl: deployment.gateway,
      custody,
      banks,
      operatorToken,
      merchant: {
        id: demoParties.merchant.id,
        signingJwk: merchantKeys.signing.privateJwk,
        encryptionJwk: merchantKeys.encryption.privateJwk,
      },
      mailDir: mailDirOf(dataDir),
      smsDir: smsDirOf(dataDir),
      ...(tls === undefined ? {} : { caPem: tls.caPem, revokedSerials: [...tls.revokedSerials] }),
    },
  };
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of /proc/<pid>/stat's times (100 nearly everywhere). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** Its own CPU and its ended children's. */
  readonly cpuTicks: number;
  /** The part of cpuTicks spent in the kernel (system calls: the network, files, waking others). */
  readonly kernelTicks: number;
}

/** CPU read from /proc or from the process itself, in ms: all of it, and its part in the kernel. */
export interface CpuReading {
  readonly ms: number;
  readonly kernelMs: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const fields = text === undefined ? undefined : parseProcStat(text);
  if (fields === undefined) return undefined;
  // With its children that ended and were waited for (a PostgreSQL session that closed, a service that
  // a crash restarted), which /proc no longer shows as processes.
  const kernelTicks = fields.kernelTicks + fields.childrenKernelTicks;
  return {
    pid,
    ppid: fields.ppid,
    cpuTicks: fields.userTicks + fields.childrenUserTicks + kernelTicks,
    kernelTicks,
  };
}

/** Every process /proc shows, by its id and by its parent's, from one walk. */
async function processTable(): Promise<{ byPid: Map<number, ProcStat>; children: Map<number, ProcStat[]> }> {
  const byPid = new Map<number, ProcStat>();
  const children = new Map<number, ProcStat[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const found = await procStat(Number(entry));
    if (found === undefined) continue;
    byPid.set(found.pid, found);
    children.set(found.ppid, [...(children.get(found.ppid) ?? []), found]);
  }
  return { byPid, children };
}

/** The CPU of `root` and every process under it, leaving out `exclude` and those under it. */
function subtreeCpu(
  root: ProcStat,
  children: Map<number, ProcStat[]>,
  exclude: number | undefined,
): CpuReading {
  let ticks = 0;
  let kernelTicks = 0;
  const stack = [root];
  for (let visited = 0; stack.length > 0 && visited < 100_000; visited += 1) {
    const next = stack.pop()!;
    if (next.pid === exclude) continue;
    ticks += next.cpuTicks;
    kernelTicks += next.kernelTicks;
    stack.push(...(children.get(next.pid) ?? []));
  }
  const msPerTick = 1000 / ticksPerSecond();
  return { ms: ticks * msPerTick, kernelMs: kernelTicks * msPerTick };
}

/**
 * The CPU (ms, and its part in the kernel) of `pid` and every process under it (`mpay up --processes`
 * runs each service as a child) and of those under them that ended (a
 * PostgreSQL session that closed, a service a crash restarted), leaving out
 * `exclude` and its children (the driver, when the platform runs in the
 * process that forks it; it is read while the driver runs). Undefined
 * when /proc does not show `pid` (another machine, another OS, gone).
 */
export async function processTreeCpu(
  pid: number,
  exclude: number | undefined,
): Promise<CpuReading | undefined> {
  const root = await procStat(pid);
  if (root === undefined) return undefined;
  return subtreeCpu(root, (await processTable()).children, exclude);
}

/** One named process's CPU so far: its id (a restart changes it) and ms, its own and its children's. */
export interface NamedProcessCpu {
  readonly pid: number;
  readonly ms: number;
}

/**
 * The CPU (ms) of each named process and every process under it, from one
 * walk of /proc: `mpay up --processes`'s services, each by its name. A
 * process /proc does not show (gone, being restarted) is left out.
 */
export async function namedProcessesCpuMs(
  pids: Readonly<Record<string, number | undefined>>,
): Promise<Record<string, NamedProcessCpu>> {
  const { byPid, children } = await processTable();
  const cpu: Record<string, NamedProcessCpu> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const root = pid === undefined ? undefined : byPid.get(pid);
    if (root !== undefined) cpu[name] = { pid: root.pid, ms: subtreeCpu(root, children, undefined).ms };
  }
  return cpu;
}

/**
 * Each named process's CPU between two readings; a process missing from
 * either, or restarted in between (another id), is undefined: its CPU in the
 * window is not known.
 */
export function namedProcessesCpuBetween(
  start: Readonly<Record<string, NamedProcessCpu>>,
  end: Readonly<Record<string, NamedProcessCpu>>,
  names: readonly string[],
): Record<string, number | undefined> {
  return Object.fromEntries(
    names.map((name) => {
      const [at, until] = [start[name], end[name]];
      return [
        name,
        at === undefined || until === undefined || at.pid !== until.pid
          ? undefined
          : Math.max(0, until.ms - at.ms),
      ];
    }),
  );
}

/**
 * The PostgreSQL server's main process (the postmaster) on this machine, for
 * reading its CPU and its children's: the parent of a session's backend, when
 * `url` names a server on loopback or a local socket and /proc shows that
 * parent as `postgres`. Undefined otherwise (another machine, another OS, no
 * access): its CPU is then not measured.
 */
export async function localPostgresServerPid(url: string): Promise<number | undefined> {
  // Not connected to at all when the URL plainly names another machine. node-postgres reads forms
  // that WHATWG URLs refuse (`postgres://user@/db?host=/run/postgresql`): those are looked at once
  // connected, by the host the session reached.
  const named = URL.canParse(url) ? new URL(url) : undefined;
  if (
    named !== undefined &&
    named.hostname !== '' &&
    !named.searchParams.has('host') &&
    !isLoopbackHost(named.hostname)
  )
    return undefined;
  return withPostgresBackendPid(url, async ({ pid, host }) => {
    if (!host.startsWith('/') && !isLoopbackHost(host)) return undefined;
    const session = await procStat(pid);
    if (session === undefined) return undefined;
    const name = await readFile(`/proc/${session.ppid}/comm`, 'utf8').catch(() => '');
    return name.trim() === 'postgres' ? session.ppid : undefined;
  }).catch(() => undefined);
}

/** Whether `path` is a folder (a `--url` given a data folder). */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** A new customer's account at the demo customers' bank, opened and funded by its operator; its id. */
export async function openFundedAccount(
  target: BenchTarget,
  partyId: string,
  minor: bigint,
): Promise<string> {
  const bank = bankOf(target, demoParties.bank.id);
  const account = randomUUID();
  const currency = demoParties.bank.currency;
  await bank.operator.post('/accounts', { id: account, owner: partyId, currency, kind: 'customer' });
  await bank.operator.post('/transfers', {
    id: randomUUID(),
    debitAccountId: demoParties.bank.fundingAccount,
    creditAccountId: account,
    amount: minor.toString(),
    currency,
    reference: 'bench opening balance',
  });
  return account;
}

/** The gateway's operator API: a phone number for a party (what merchants ask by). */
export async function addAlias(target: BenchTarget, msisdn: string, partyId: string): Promise<Response> {
  return fetch(`${target.gatewayUrl}/admin/aliases`, {
    method: 'POST',
    body: JSON.stringify({ alias: msisdn, partyId }),
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${target.operatorToken}`,
      'idempotency-key': `bench-alias-${msisdn}-${partyId}`,
    },
  });
}

/**
 * A phone number no other bench customer has, all but surely: +3897 and 11 random digits (E.164's 15
 * in all). With 8 digits, two of 1,024 customers (--customers) would draw the same number in about
 * one run in 190, and the run would fail on ALIAS_EXISTS; with 11, in about one in 190,000.
 */
export function benchMsisdn(): string {
  return `+3897${(randomBytes(8).readBigUInt64BE(0) % 10n ** 11n).toString().padStart(11, '0')}`;
}
