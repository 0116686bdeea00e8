import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';
import type { ServiceTlsMaterial } from './store.ts';

/** The shape of @mpay/http-client's FetchFunction (kept structural: this package does not depend on it). */
export type TlsFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface TlsClientLimits {
  /** How long a TCP connect plus TLS handshake may take (ms). */
  readonly connectTimeoutMs: number;
}

export const defaultTlsClientLimits: TlsClientLimits = Object.freeze({ connectTimeoutMs: 10_000 });

/**
 * An undici Agent that presents the service's certificate and trusts the
 * deployment's CA only (not the system's roots): a server is accepted when
 * its certificate chains to that CA and names the host called (localhost,
 * 127.0.0.1 or a host of its SAN).
 */
export function createTlsAgent(
  material: Pick<ServiceTlsMaterial, 'keyPem' | 'certPem' | 'caPem'>,
  limits: Partial<TlsClientLimits> = {},
): Agent {
  const connectTimeoutMs = limits.connectTimeoutMs ?? defaultTlsClientLimits.connectTimeoutMs;
  if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1 || connectTimeoutMs > 300_000) {
    throw new RangeError('pki: connectTimeoutMs must be an integer in 1..300000');
  }
  return new Agent({
    connect: {
      key: material.keyPem,
      cert: material.certPem,
      ca: material.caPem,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      timeout: connectTimeoutMs,
    },
  });
}

/**
 * An undici Agent for a caller without a certificate of its own (a device,
 * the CLI, the web proxy): it trusts the deployment's CA only and presents
 * nothing, so an institution route refuses it and any other answers.
 */
export function createCaTrustAgent(caPem: string, limits: Partial<TlsClientLimits> = {}): Agent {
  const connectTimeoutMs = limits.connectTimeoutMs ?? defaultTlsClientLimits.connectTimeoutMs;
  if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1 || connectTimeoutMs > 300_000) {
    throw new RangeError('pki: connectTimeoutMs must be an integer in 1..300000');
  }
  return new Agent({
    connect: { ca: caPem, rejectUnauthorized: true, minVersion: 'TLSv1.2', timeout: connectTimeoutMs },
  });
}

/**
 * A fetch that goes through `agent` (undici's own fetch: Node's global fetch
 * bundles another undici whose dispatcher interface may differ). Give it to
 * @mpay/http-client as RequestOptions.fetch, or through `tlsClientScope`.
 */
export function tlsFetch(agent: Agent): TlsFetch {
  return async (url, init) =>
    // undici's RequestInit and Response are the WHATWG ones under other type names.
    (await undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher: agent })) as unknown as Response;
}

const scope = new AsyncLocalStorage<TlsFetch>();

/**
 * Which TLS client the current work calls out with, for processes that run
 * several services (the embedded platform runs every institution in one
 * process, each must present its own certificate). Register
 * `tlsClientScope.source` once with @mpay/http-client's `setFetchSource`;
 * start each service inside `tlsClientScope.run(itsFetch, …)`: its request
 * handlers and timers inherit the scope, so its outgoing
 * `requestJson`/`requestAnswer` calls use its certificate.
 */
export const tlsClientScope = Object.freeze({
  source: (): TlsFetch | undefined => scope.getStore(),
  run: <T>(fetchWith: TlsFetch, work: () => T): T => scope.run(fetchWith, work),
});
