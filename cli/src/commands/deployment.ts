import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PrivateJwk } from '@mpay/envelope';
import { requestJson, signRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import type { PartyKeys } from '../platform/identities.ts';
import { processStartTicks } from '../platform/tls.ts';

/** What `mpay up` writes to <data>/deployment.json for the other commands. */
export interface Deployment {
  gateway: string;
  merchantShop: string;
  fspId: string;
  banks: { id: string; url: string }[];
  /** The transaction log, its witness and the log's origin; keys in <data>/keys/log.vkey, log-witness.vkey. */
  log?: { url: string; witness: string; origin: string };
  /** The trusted mobile certificate server (iMS §5). */
  custody?: { url: string; id: string };
  /** The web pages and their API proxy (`mpay up`; absent with `--processes`): https on TLS. */
  web?: string;
  /** TLS (absent: plain HTTP): the deployment's CA certificate, which the commands trust for its https URLs. */
  tls?: { ca: string };
  pid: number;
  /** The start time of that pid (/proc, clock ticks since boot): tells it from a later process with the same pid. */
  pidStartTicks?: string;
}

export function dataDirOf(flags: Map<string, string>): string {
  return resolve(flags.get('data') ?? process.env.MPAY_DATA_DIR ?? '.mpay');
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The process deployment.json names: running, ended, or not to be told (with why, as the commands say it). */
export type DeploymentProcess =
  | { readonly state: 'running'; readonly pid: number }
  | { readonly state: 'ended' | 'unknown'; readonly why: string };

/**
 * Whether the `mpay up` that wrote deployment.json of `dataDir` still runs:
 * ended when no such pid runs or the pid runs a process started at another
 * time (taken again); unknown when it names no pid or the pid is another user's.
 */
export async function deploymentProcessOf(
  deployment: Partial<Deployment>,
  dataDir: string,
): Promise<DeploymentProcess> {
  const pid = deployment.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1)
    return { state: 'unknown', why: `deployment.json in ${dataDir} names no process` };
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
      ? { state: 'unknown', why: `pid ${pid} belongs to another user` }
      : { state: 'ended', why: `no process ${pid} runs (the platform stopped)` };
  }
  // A pid used again by a later process (a container restarted) is not the platform deployment.json names.
  if (deployment.pidStartTicks !== undefined && (await processStartTicks(pid)) !== deployment.pidStartTicks)
    return { state: 'ended', why: `pid ${pid} is another process now (the platform stopped)` };
  return { state: 'running', pid };
}

/**
 * The running deployment of this data folder; SERVICE_UNAVAILABLE when there is none, or when
 * the `mpay up` that wrote it has ended (said at once, instead of each service "not reached").
 */
export async function readDeployment(dataDir: string): Promise<Deployment> {
  const deployment = await readJson<Deployment>(join(dataDir, 'deployment.json'));
  if (deployment === undefined || !Array.isArray(deployment.banks)) {
    throw new MpayError(
      'SERVICE_UNAVAILABLE',
      `no deployment in ${dataDir}: start the platform with \`npm start\``,
    );
  }
  const running = await deploymentProcessOf(deployment, dataDir);
  if (running.state === 'ended') {
    throw new MpayError(
      'SERVICE_UNAVAILABLE',
      `the platform of ${dataDir} is not running, ${running.why}: start it with \`npx mpay up --data ${dataDir}\`; \`npx mpay storage status --data ${dataDir}\` reads its folders while it is stopped`,
    );
  }
  return deployment;
}

/** A bank called as its operator: every request signed with the operator's key from the data folder. */
export interface OperatorClient {
  readonly id: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

export async function operatorClient(
  dataDir: string,
  bank: { id: string; url: string },
): Promise<OperatorClient> {
  const secrets = await readJson<{ keys: PartyKeys }>(join(dataDir, 'keys', `${bank.id}-operator.json`));
  if (secrets === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no operator key for ${bank.id} in ${dataDir}`);
  return bankOperator(bank, secrets.keys.signing.privateJwk);
}

export function bankOperator(bank: { id: string; url: string }, key: PrivateJwk): OperatorClient {
  const issuer = `operator.${bank.id}`;
  const call = async <T>(method: 'GET' | 'POST', path: string, body: string | undefined): Promise<T> => {
    const authorization = await signRequest(
      { method, path, body: body ?? '' },
      { issuer, audience: bank.id, key },
    );
    const response = await requestJson<T>(
      `${bank.url}${path}`,
      {
        headers: { authorization },
        ...(body === undefined ? {} : { body, contentType: 'application/json' }),
      },
      'BANK_UNAVAILABLE',
    );
    return response.body;
  };
  return {
    id: bank.id,
    get: (path) => call('GET', path, undefined),
    post: (path, body) => call('POST', path, JSON.stringify(body)),
  };
}
