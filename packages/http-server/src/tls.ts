import type { ServerOptions as HttpsServerOptions } from 'node:https';
import {
  createSecureContext,
  type PeerCertificate,
  type TLSSocket,
  type Server as TlsServer,
} from 'node:tls';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * TLS for a service's port. Built by @mpay/pki (`institutionServerTls`,
 * `publicServerTls`) from the deployment's CA; absent, the service speaks
 * plain HTTP.
 */
export interface ServerTls {
  /** The service's private key and certificate, PEM. */
  readonly key: string;
  readonly cert: string;
  /** The trust anchors for client certificates (the deployment's CA), PEM; needed unless clientCertificate is 'none'. */
  readonly ca?: string;
  /**
   * 'required' (institution ports): the handshake fails unless the client
   * presents a certificate that verifies under `ca` and is valid now.
   * 'requested' (ports that serve devices and institutions alike: the
   * gateway, the banks, custody, the log): a client certificate is asked for
   * but not demanded; `checkPeer` decides per request (an institution's
   * route needs an authorised one, a device's route none).
   * 'none' (device- and merchant-facing ports): server-authenticated TLS only.
   */
  readonly clientCertificate: 'required' | 'requested' | 'none';
  /**
   * Run on every request of a TLS connection before its route, with the
   * peer certificate (`{}` when none), whether node:tls authorised it under
   * `ca` (always true on a 'required' port), the Authorization header and the
   * request line; throws an MpayError to refuse (e.g. TLS_PEER_REFUSED when
   * the request is signed as another institution than the certificate names).
   */
  readonly checkPeer?: (peer: TlsPeer) => void;
  /**
   * How the server learns of a new key and certificate without a restart
   * (`mpay pki rotate`, then SIGHUP): createHttpServer calls it once, with
   * `apply`; each call of `apply` gives the port that material for every
   * connection accepted from then on (open ones keep theirs). Everything
   * else stays as it was: the client-certificate mode, TLS 1.2 at least,
   * `checkPeer`; `ca` is replaced only when the material has one. `apply`
   * throws (and changes nothing) when the key is not the certificate's or a
   * PEM does not parse.
   */
  readonly onReload?: TlsReloadHook;
}

/**
 * The TLS of a port that asks for no client certificate (browsers, the demo,
 * senders that authenticate otherwise), from a key, a certificate and
 * optionally its reload hook; undefined: plain HTTP.
 */
export function serverOnlyTls(
  tls:
    | { readonly key: string; readonly cert: string; readonly onReload?: TlsReloadHook | undefined }
    | undefined,
): { tls: ServerTls } | Record<string, never> {
  if (tls === undefined) return {};
  return {
    tls: {
      key: tls.key,
      cert: tls.cert,
      clientCertificate: 'none',
      ...(tls.onReload === undefined ? {} : { onReload: tls.onReload }),
    },
  };
}

/** A port's new TLS material, PEM. */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** The trust anchors for client certificates; absent: the ones the port has. */
  readonly ca?: string;
}

/** Told once of the function that gives a TLS port new material (ServerTls.onReload). */
export type TlsReloadHook = (apply: (material: TlsMaterial) => void) => void;

/** What `checkPeer` is told of a request on a TLS port. */
export interface TlsPeer {
  readonly certificate: PeerCertificate;
  readonly authorized: boolean;
  readonly authorization: string | undefined;
  readonly method: string;
  /** The path and query as requested (raw: percent-encoded, possibly in absolute form). */
  readonly url: string;
  /**
   * The route the router matched, as declared (`/interbank/funds-transfers`,
   * `/payments/:id`); '' when none matched. Decide by this, never by `url`:
   * the router decodes `%69nterbank` and strips `https://host` before it
   * matches, so a raw-url prefix check can be walked around.
   */
  readonly route: string;
}

/** node:https options for a ServerTls: TLS 1.2 at least, client certificates as asked. */
export function httpsOptionsOf(tls: ServerTls): HttpsServerOptions {
  if (tls.clientCertificate !== 'none' && (tls.ca === undefined || tls.ca === '')) {
    throw new RangeError(`http server: tls.ca is required with clientCertificate "${tls.clientCertificate}"`);
  }
  const required = tls.clientCertificate === 'required';
  return {
    key: tls.key,
    cert: tls.cert,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    minVersion: 'TLSv1.2',
    requestCert: required || tls.clientCertificate === 'requested',
    // 'requested': the handshake completes without an authorised certificate; checkPeer decides per route.
    rejectUnauthorized: required,
  };
}

/**
 * Wires `tls.onReload` (if any) to a listening-or-not TLS server: each
 * `apply(material)` checks the new material by building a secure context
 * from it first (a bad key or certificate throws and leaves the server as it
 * was), then swaps the server's context (node:tls `setSecureContext`), with
 * every option other than the key, certificate and CA as httpsOptionsOf
 * gives them. For servers built on node:tls (createHttpServer's, any other).
 */
export function reloadTlsOf(server: Pick<TlsServer, 'setSecureContext'>, tls: ServerTls): void {
  const { onReload } = tls;
  if (onReload === undefined) return;
  let current: ServerTls = tls;
  onReload((material) => {
    const next: ServerTls = {
      ...current,
      key: material.key,
      cert: material.cert,
      ...(material.ca === undefined ? {} : { ca: material.ca }),
    };
    const options = httpsOptionsOf(next);
    // setSecureContext records the options before it builds the context: a failure there would leave them half-changed.
    createSecureContext(options);
    server.setSecureContext(options);
    current = next;
  });
}

/**
 * Runs `checkPeer` on every request; on an institution port it also refuses a
 * connection node:tls did not authorise (never the case with
 * rejectUnauthorized, kept as a second lock).
 */
export function checkTlsPeers(
  app: FastifyInstance,
  tls: ServerTls,
  refuse: (reply: FastifyReply, error: MpayError) => unknown,
): void {
  const { checkPeer } = tls;
  if (checkPeer === undefined && tls.clientCertificate !== 'required') return;
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket as TLSSocket;
    try {
      if (tls.clientCertificate === 'required' && socket.authorized !== true) {
        throw new MpayError('TLS_PEER_REFUSED', 'client certificate not authorised');
      }
      checkPeer?.({
        certificate: socket.getPeerCertificate(),
        authorized: socket.authorized === true,
        authorization: request.headers.authorization,
        method: request.method,
        url: request.url,
        route: request.routeOptions.url ?? '',
      });
    } catch (error) {
      if (!isMpayError(error)) return done(error as Error);
      // Answered here: the request goes no further (Fastify: a hook that replies does not call done).
      refuse(reply, error);
      return;
    }
    done();
  });
}

/**
 * The organisation (`O`) of the peer certificate a request came with, when it
 * came over TLS with a certificate node:tls authorised under the port's CA;
 * undefined on plain HTTP or without one. For routes whose request is signed
 * inside its body (interbank messages): they compare the body's signer with
 * the institution the certificate names.
 */
export function authorisedPeerOrganisationOf(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true || socket.getPeerCertificate === undefined) {
    return undefined;
  }
  const organisation: unknown = socket.getPeerCertificate().subject?.O;
  return typeof organisation === 'string' ? organisation : undefined;
}
