import { AsyncLocalStorage } from 'node:async_hooks';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ExchangeAnswer, ExchangeFunction, ExchangeRequest, FetchFunction } from '@mpay/http-client';
import {
  Agent,
  type Dispatcher,
  type RequestInit as UndiciRequestInit,
  fetch as undiciFetch,
  request as undiciRequest,
} from 'undici';
import { isRevoked } from './revocation.ts';
import type { ServiceTlsMaterial } from './store.ts';

type ClientMaterial = Pick<ServiceTlsMaterial, 'keyPem' | 'certPem' | 'caPem' | 'revokedSerials'>;

/**
 * node:tls's check of the server's name, then the deployment's revocation
 * lists: a server presenting a revoked certificate (its key may have leaked)
 * is refused as one that names another host is.
 */
function serverIdentityCheck(revoked: ReadonlySet<string> | undefined) {
  return (host: string, certificate: PeerCertificate): Error | undefined => {
    const named = checkServerIdentity(host, certificate);
    if (named !== undefined) return named;
    if (isRevoked(revoked, certificate)) {
      return Object.assign(new Error('the server presented a revoked certificate of the deployment'), {
        code: 'ERR_TLS_CERT_REVOKED',
      });
    }
    return undefined;
  };
}

/** @mpay/http-client's FetchFunction, always with its exchange (exchangeThrough) through the same agent. */
export type TlsFetch = FetchFunction & { readonly exchange: ExchangeFunction };

/** Ends a body unread: its socket closes; the abort it reports is expected, not an error to throw. */
function dropBody(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** The most of an unwanted body `discard` reads to its end, so that its connection serves the next call. */
export const discardDrainBytesMax = 16 * 1024;

/** How long an unwanted body may take to end before it is dropped with its connection (`discard`). */
export const discardDrainMs = 1_000;

/**
 * An answer's body nobody wants (a webhook's), thrown away without giving up
 * its connection when that is cheap: a body that ends within
 * discardDrainBytesMax and discardDrainMs (or before the call's signal
 * aborts) is read to its end, and its keep-alive connection serves the next
 * call; one still arriving past either bound is dropped with its connection.
 * The caller does not wait for it: `discard` returns at once, as when every
 * body was dropped at once, so that a merchant's slow body never holds the
 * deliveries queued behind its webhook. Never rejects. Dropping every body
 * made undici abort its request, an error whose stack Node then maps through
 * the source maps: 0.7 % of the platform's CPU in the benchmark
 * (docs/benchmarks.md), and a new connection for every call whose body was
 * still arriving. Resolves once the body ended or was dropped.
 */
function drainOrDrop(body: Dispatcher.ResponseData['body']): Promise<void> {
  if (body.destroyed || body.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    let length = 0;
    let settled = false;
    const settle = (drop: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      body.off('data', onData);
      if (drop) dropBody(body);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > discardDrainBytesMax) settle(true);
    };
    const timer = setTimeout(() => settle(true), discardDrainMs);
    // An error after the end, or the abort a drop causes, is expected: nothing to throw.
    body.on('error', () => settle(false));
    body.once('end', () => settle(false));
    body.once('close', () => settle(false));
    body.on('data', onData);
  });
}

/** The body of an undici answer as UTF-8 text, read no further than `bytesMax` (undefined past it). */
async function readBody(
  body: Dispatcher.ResponseData['body'],
  bytesMax: number,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > bytesMax) {
      dropBody(body);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length).toString('utf8');
}

/**
 * One exchange (@mpay/http-client) over undici's `request` through
 * `dispatcher`: what a call between services needs, without fetch's WHATWG
 * streams and objects (a sixth of its client CPU for a small JSON call on
 * this machine kind, docs/benchmarks.md). A redirect is never followed, and
 * no Accept-Encoding is sent, so an answer comes as the server wrote it.
 */
export async function exchangeThrough(
  dispatcher: Dispatcher,
  url: string,
  request: ExchangeRequest,
): Promise<ExchangeAnswer> {
  const answer = await undiciRequest(url, {
    method: request.method as Dispatcher.HttpMethod,
    headers: request.headers,
    body: request.body ?? null,
    signal: request.signal,
    dispatcher,
  });
  const contentType = answer.headers['content-type'];
  return {
    status: answer.statusCode,
    contentType: typeof contentType === 'string' ? contentType : (contentType?.[0] ?? ''),
    header: (name) => {
      // undici gives header names in lower case, a repeated one as an array.
      const value = answer.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    read: (bytesMax) => readBody(answer.body, bytesMax),
    // Read to its end when short and quick (the connection kept), else dropped with it; not waited for.
    discard: async () => {
      void drainOrDrop(answer.body);
    },
  };
}

/**
 * The services' client on a platform without TLS: a call between services
 * (an exchange: requestJson, the log client, a webhook) goes through undici's
 * `request` over one keep-alive agent, as it does with TLS; a plain fetch
 * stays the process's global fetch at call time. Give `fetch` to
 * `tlsClientScope.run` around each service's start; `close` ends the agent
 * once its calls are done.
 */
export interface PlainServiceClient {
  readonly fetch: FetchFunction;
  close(): Promise<void>;
}

export function createPlainServiceClient(): PlainServiceClient {
  const agent = new Agent();
  const fetchWith: FetchFunction = Object.assign(
    (url: string, init: RequestInit) => globalThis.fetch(url, init),
    { exchange: (url: string, request: ExchangeRequest) => exchangeThrough(agent, url, request) },
  );
  return { fetch: fetchWith, close: () => agent.close() };
}

/** A fetch through `agent` with its exchange through the same agent (TlsFetch). */
export function agentFetch(agent: Dispatcher): TlsFetch {
  const fetchWith = async (url: string, init: RequestInit) =>
    // undici's RequestInit and Response are the WHATWG ones under other type names.
    (await undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher: agent })) as unknown as Response;
  return Object.assign(fetchWith, {
    exchange: (url: string, request: ExchangeRequest) => exchangeThrough(agent, url, request),
  });
}

export interface TlsClientLimits {
  /** How long a TCP connect plus TLS handshake may take (ms). */
  readonly connectTimeoutMs: number;
}

export const defaultTlsClientLimits: TlsClientLimits = Object.freeze({ connectTimeoutMs: 10_000 });

/**
 * An undici Agent that presents the service's certificate and trusts the
 * deployment's CAs only (`caPem`, the trust bundle: one CA, two during a CA
 * rotation; not the system's roots): a server is accepted when its
 * certificate chains to one of them, names the host called (localhost,
 * 127.0.0.1 or a host of its SAN) and is not revoked (`revokedSerials`).
 */
export function createTlsAgent(material: ClientMaterial, limits: Partial<TlsClientLimits> = {}): Agent {
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
      checkServerIdentity: serverIdentityCheck(material.revokedSerials),
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
export function createCaTrustAgent(
  caPem: string,
  limits: Partial<TlsClientLimits> = {},
  options: { readonly http2?: boolean; readonly revokedSerials?: ReadonlySet<string> | undefined } = {},
): Agent {
  const connectTimeoutMs = limits.connectTimeoutMs ?? defaultTlsClientLimits.connectTimeoutMs;
  if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1 || connectTimeoutMs > 300_000) {
    throw new RangeError('pki: connectTimeoutMs must be an integer in 1..300000');
  }
  return new Agent({
    connect: {
      ca: caPem,
      rejectUnauthorized: true,
      checkServerIdentity: serverIdentityCheck(options.revokedSerials),
      minVersion: 'TLSv1.2',
      timeout: connectTimeoutMs,
    },
    // `http2`: offer HTTP/2 by ALPN (a device: HPACK sends each header once per connection); a server that
    // does not take it answers in HTTP/1.1. undici 7 sends a non-idempotent request (a POST) on a connection
    // only when nothing else runs there, so a device's event stream keeps one connection and its requests
    // take a second (a browser multiplexes them on one).
    ...(options.http2 === true ? { allowH2: true } : {}),
  });
}

/**
 * A fetch that goes through `agent` (undici's own fetch: Node's global fetch
 * bundles another undici whose dispatcher interface may differ). Give it to
 * @mpay/http-client as RequestOptions.fetch, or through `tlsClientScope`.
 */
export function tlsFetch(agent: Agent): TlsFetch {
  return agentFetch(agent);
}

/** A TLS client whose certificate can be switched while it is in use (serviceTlsOf's). */
export interface ReloadableTlsClient {
  /** The same function for the client's whole life: each call goes through the agent current at that call. */
  readonly fetch: TlsFetch;
  /** The current agent. */
  readonly agent: Agent;
  /**
   * Calls from now on present this material: a new agent takes over, the
   * old one is closed once the calls it already carries have their answers
   * (undici's `close` then waits for their bodies too): nothing in flight is cut.
   */
  reload(material: ClientMaterial): void;
  /** Closes every agent, the retired ones included, once their requests are done. */
  close(): Promise<void>;
}

interface AgentSlot {
  readonly agent: Agent;
  /** Calls that chose this agent and have no answer yet (undici may not have dispatched them). */
  pending: number;
  retired: boolean;
  closing: Promise<void> | undefined;
}

/** createTlsAgent's client, with `reload` to switch its certificate without cutting a call. */
export function createReloadableTlsClient(
  material: ClientMaterial,
  limits: Partial<TlsClientLimits> = {},
): ReloadableTlsClient {
  const slotOf = (agent: Agent): AgentSlot => ({ agent, pending: 0, retired: false, closing: undefined });
  let current = slotOf(createTlsAgent(material, limits));
  const retiring = new Set<AgentSlot>();
  const closeSlot = (slot: AgentSlot): Promise<void> => {
    slot.closing ??= slot.agent.close().finally(() => retiring.delete(slot));
    return slot.closing;
  };
  /** `work` through the agent current at the call, counted on it until its answer (or failure) has come. */
  const through = async <T>(work: (agent: Agent) => Promise<T>): Promise<T> => {
    const slot = current;
    slot.pending += 1;
    try {
      return await work(slot.agent);
    } finally {
      slot.pending -= 1;
      // Answered (or failed): the agent holds what is left of the call; its close waits for the body.
      if (slot.retired && slot.pending === 0) void closeSlot(slot).catch(() => undefined);
    }
  };
  const fetchWith: TlsFetch = Object.assign(
    (url: string, init: RequestInit) =>
      through(
        async (agent) =>
          // undici's RequestInit and Response are the WHATWG ones under other type names.
          (await undiciFetch(url, {
            ...(init as UndiciRequestInit),
            dispatcher: agent,
          })) as unknown as Response,
      ),
    {
      exchange: (url: string, request: ExchangeRequest) =>
        through((agent) => exchangeThrough(agent, url, request)),
    },
  );
  return {
    fetch: fetchWith,
    get agent() {
      return current.agent;
    },
    reload(next) {
      const fresh = slotOf(createTlsAgent(next, limits));
      const old = current;
      current = fresh;
      old.retired = true;
      retiring.add(old);
      if (old.pending === 0) void closeSlot(old).catch(() => undefined);
    },
    async close() {
      await Promise.all([closeSlot(current), ...[...retiring].map((slot) => closeSlot(slot))]);
    },
  };
}

const scope = new AsyncLocalStorage<FetchFunction>();

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
  source: (): FetchFunction | undefined => scope.getStore(),
  run: <T>(fetchWith: FetchFunction, work: () => T): T => scope.run(fetchWith, work),
});
