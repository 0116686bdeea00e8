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

/**
 * Whether the process deployment.json names has ended: no such pid, or one
 * started at another time (the pid taken again). False when it runs, when it
 * belongs to another user, or when this cannot be told.
 */
export async function deploymentProcessEnded(deployment: Partial<Deployment>): Promise<boolean> {
  const pid = deployment.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  if (deployment.pidStartTicks === undefined) return false;
  const ticks = await processStartTicks(pid);
  return ticks !== undefined && ticks !== deployment.pidStartTicks;
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
  if (await deploymentProcessEnded(deployment)) {
    throw new MpayError(
      'SERVICE_UNAVAILABLE',
      `the platform of ${dataDir} is not running (its process ${deployment.pid} ended): start it with \`npx mpay up --data ${dataDir}\`; \`npx mpay storage status --data ${dataDir}\` reads its folders while it is stopped`,
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
