import type { TLSSocket } from 'node:tls';
import { decodeUnverified } from '@mpay/envelope';
import { authorisedPeerOrganisationOf } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';

/**
 * An interbank message is signed inside the request's body, not in an
 * Authorization header, so the port's peer check (which reads that header)
 * cannot compare its signer with the TLS certificate. This does, on a route
 * that got the body: when the request came over TLS with an authorised
 * certificate of the deployment, the message's issuer (read without
 * verifying: the route verifies it under that issuer's key next) must be
 * the institution the certificate names (its O), else TLS_PEER_REFUSED. On
 * plain HTTP (in-process tests) there is no certificate to compare with; on
 * a TLS port without an authorised certificate it is refused (the port's
 * per-route check refuses it first: mpay up lists these routes).
 */
export function checkMessageSignerIsPeer(request: FastifyRequest, message: unknown): void {
  const peer = authorisedPeerOrganisationOf(request);
  if (peer === undefined) {
    // Plain HTTP: nothing to compare. Over TLS without an authorised certificate the port should have
    // refused already; refused here too (fail closed), whatever path the request took to get here.
    // HTTP/2 is TLS only here: a request of one counts as encrypted even once its stream's socket is gone
    // (node:http2's compat socket answers undefined after a reset).
    if (
      (request.raw.socket as Partial<TLSSocket> | null)?.encrypted === true ||
      request.raw.httpVersionMajor === 2
    )
      throw new MpayError('TLS_PEER_REFUSED', 'an interbank message needs a certificate of the deployment');
    return;
  }
  const payload = typeof message === 'string' ? decodeUnverified(message)?.payload : undefined;
  const issuer = (payload as { iss?: unknown } | null | undefined)?.iss;
  if (issuer !== peer) {
    throw new MpayError('TLS_PEER_REFUSED', `certificate of ${peer}, message of another institution`);
  }
}
