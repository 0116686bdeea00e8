import { createHttpServer, serverOnlyTls, type TlsReloadHook } from '@mpay/http-server';
import type { FastifyInstance } from 'fastify';
import type { WebConfig } from '../src/config.ts';
import { ensureWebBuilt } from './build.ts';
import { operatorOnlyPaths, proxyServices } from './proxy.ts';
import { serveBuiltPages } from './static.ts';

export type { WebConfig } from '../src/config.ts';

export { ensureWebBuilt, hashWebSources, webRoot } from './build.ts';
export { type ConsoleBank, type ConsoleOptions, consoleExtension } from './console/index.ts';
export { pageSecurityHeaders } from './static.ts';

export interface WebServerOptions {
  /** Service name → base URL (loopback); served as `/api/<name>/…`. */
  readonly upstreams: Readonly<Record<string, string>>;
  readonly config: Omit<WebConfig, 'api'>;
  /** Loopback port (0: any free one). */
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** A built pages folder (tests); default: `ensureWebBuilt()`. */
  readonly distDir?: string | undefined;
  /** Routes beside the pages and the proxy (the operator console's backend). */
  readonly extensions?: readonly ((app: FastifyInstance) => Promise<void>)[] | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  /** Told of long work (the first build). */
  readonly progress?: ((line: string) => void) | undefined;
  /**
   * HTTPS with this key and certificate (chain), PEM: the deployment's
   * (`fsp.mpay`'s `web`) or an operator's publicly trusted one. No client
   * certificate is asked for (browsers). Absent: plain HTTP. `onReload`: as
   * @mpay/http-server's ServerTls.onReload (the deployment's certificate
   * after `mpay pki rotate`, for the connections to come).
   */
  readonly tls?:
    | { readonly key: string; readonly cert: string; readonly onReload?: TlsReloadHook | undefined }
    | undefined;
  /**
   * With `tls`, HTTP/2 beside HTTP/1.1 (default true): a phone's browser
   * sends the pages' requests, the wallet's event stream and its
   * confirmations on one connection, each header once (HPACK).
   */
  readonly http2?: boolean;
}

export interface WebServer {
  /** `http://` or, with `tls`, `https://` and the address it listens on. */
  readonly url: string;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Largest request body the proxy passes on (the services' own limits are smaller). */
const proxyBodyLimitBytes = 1_048_576;

/** Service names are path segments: letters, digits, dashes. */
const serviceNamePattern = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The platform's web front: the built pages (wallet, shop, till, console) and
 * every service's API behind `/api/<service>/`, on one origin, so the pages
 * need no cross-origin access and the services stay on loopback. The proxy
 * calls the services with the process's fetch (@mpay/http-client `fetchFor`):
 * on a TLS platform the one that trusts the deployment's CA.
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  for (const name of Object.keys(options.upstreams))
    if (!serviceNamePattern.test(name))
      throw new Error(`web: service name ${JSON.stringify(name)} is not a path segment`);
  const distDir = options.distDir ?? (await ensureWebBuilt(options.progress));
  const tls = options.tls;
  const app = createHttpServer({
    name: 'web',
    logger: options.logger ?? false,
    ...serverOnlyTls(tls),
    http2: tls !== undefined && options.http2 !== false,
  });
  const api = Object.fromEntries(Object.keys(options.upstreams).map((name) => [name, `/api/${name}`]));
  const config: WebConfig = { ...options.config, api };
  app.get('/config.json', async (_request, reply) => reply.header('cache-control', 'no-cache').send(config));
  await proxyServices(app, {
    upstreams: options.upstreams,
    bodyLimitBytes: proxyBodyLimitBytes,
    refusedPaths: operatorOnlyPaths,
  });
  for (const extension of options.extensions ?? []) await extension(app);
  await serveBuiltPages(app, distDir);
  const url = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return { url, app, close: () => app.close() };
}
