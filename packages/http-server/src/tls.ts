import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * TLS for a service's port. Built by @mpay/pki (`institutionServerTls`,
 * `publicServerTls`) from the deployment's CA; absent, the service speaks
 * plain HTTP.
 */
export interface ServerTls {
  /** The service's private key and certificate, PEM. */
  readonly key: string;
  readonly cert: string;
  /** The trust anchors for client certificates (the deployment's CA), PEM; needed with clientCertificate 'required'. */
  readonly ca?: string;
  /**
   * 'required' (institution ports): the handshake fails unless the client
   * presents a certificate that verifies under `ca` and is valid now.
   * 'none' (device- and merchant-facing ports): server-authenticated TLS only.
   */
  readonly clientCertificate: 'required' | 'none';
  /**
   * Run on every request of a TLS connection before its route, with the
   * verified peer certificate (`{}` when none) and the Authorization header;
   * throws an MpayError to refuse (e.g. TLS_PEER_REFUSED when the request is
   * signed as another institution than the certificate names).
   */
  readonly checkPeer?: (peer: { certificate: PeerCertificate; authorization: string | undefined }) => void;
}

/** node:https options for a ServerTls: TLS 1.2 at least, client certificates as asked. */
export function httpsOptionsOf(tls: ServerTls): HttpsServerOptions {
  if (tls.clientCertificate === 'required' && (tls.ca === undefined || tls.ca === '')) {
    throw new RangeError('http server: tls.ca is required with clientCertificate "required"');
  }
  const required = tls.clientCertificate === 'required';
  return {
    key: tls.key,
    cert: tls.cert,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    minVersion: 'TLSv1.2',
    requestCert: required,
    rejectUnauthorized: required,
  };
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
      checkPeer?.({ certificate: socket.getPeerCertificate(), authorization: request.headers.authorization });
    } catch (error) {
      if (!isMpayError(error)) return done(error as Error);
      // Answered here: the request goes no further (Fastify: a hook that replies does not call done).
      refuse(reply, error);
      return;
    }
    done();
  });
}
