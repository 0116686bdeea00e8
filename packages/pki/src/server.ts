import { checkTlsPeer } from './peer.ts';
import type { ServiceTlsMaterial } from './store.ts';

/**
 * The `tls` option of @mpay/http-server's createHttpServer (its ServerTls,
 * kept structural here: this package does not depend on the server).
 */
export interface ServiceServerTls {
  readonly key: string;
  readonly cert: string;
  readonly ca?: string;
  readonly clientCertificate: 'required' | 'none';
  readonly checkPeer?: (peer: {
    certificate: { subject?: { O?: unknown; OU?: unknown; CN?: unknown } };
    authorization: string | undefined;
  }) => void;
}

/**
 * An institution port (FSP ⇄ banks, bank ⇄ bank, submitters ⇄ log, log ⇄
 * witness): the handshake demands a client certificate of the deployment's
 * CA, valid now; every request's signer (the MPay Authorization header's
 * `iss`) must be the institution that certificate names (TLS_PEER_REFUSED).
 */
export function institutionServerTls(material: ServiceTlsMaterial): ServiceServerTls {
  return {
    key: material.keyPem,
    cert: material.certPem,
    ca: material.caPem,
    clientCertificate: 'required',
    checkPeer: (peer) => {
      checkTlsPeer(peer);
    },
  };
}

/** A device- or merchant-facing port: TLS with the service's certificate, no client certificate asked. */
export function publicServerTls(material: ServiceTlsMaterial): ServiceServerTls {
  return { key: material.keyPem, cert: material.certPem, clientCertificate: 'none' };
}
