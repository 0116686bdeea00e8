import { MpayError } from '@mpay/protocol';
import {
  checkNotRevoked,
  checkPeerInstitution,
  checkTlsPeer,
  institutionOfPeerCertificate,
  signerClaimedBy,
} from './peer.ts';
import type { ServiceTlsMaterial } from './store.ts';

/**
 * The `tls` option of @mpay/http-server's createHttpServer (its ServerTls,
 * kept structural here: this package does not depend on the server).
 */
export interface ServiceServerTls {
  readonly key: string;
  readonly cert: string;
  readonly ca?: string;
  readonly clientCertificate: 'required' | 'requested' | 'none';
  readonly checkPeer?: (peer: {
    certificate: { subject?: { O?: unknown; OU?: unknown; CN?: unknown }; serialNumber?: unknown };
    authorized: boolean;
    authorization: string | undefined;
    method: string;
    url: string;
    /** The route the router matched, as declared; '' when none (see @mpay/http-server's TlsPeer). */
    route: string;
  }) => void;
  /**
   * How the server is told of a new key and certificate (@mpay/http-server's
   * ServerTls.onReload): called once with `apply`, which switches the port to
   * that material for the connections to come. serviceTlsOf sets it.
   */
  readonly onReload?: (apply: (material: { key: string; cert: string; ca?: string }) => void) => void;
}

/**
 * The serials revoked now (ServiceTlsMaterial.revokedSerials of the material
 * in use): asked on every request, so that a reload's new lists apply at once.
 */
export type RevokedNow = () => ReadonlySet<string> | undefined;

/** Which requests on a shared port are an institution's (and so need its certificate). */
export interface InstitutionRoutes {
  /** The deployment's institution ids: a request whose Authorization header claims one of them as signer is theirs. */
  readonly institutions: readonly string[];
  /**
   * Path prefixes of routes authenticated inside their body (interbank
   * messages), not by an Authorization header: every request there needs an
   * institution's certificate; the route compares the body's signer with it.
   */
  readonly pathPrefixes?: readonly string[];
  /**
   * The institutions whose certificate may call `pathPrefixes` (the witness's
   * cosigning route: the log's only); absent, any of `institutions`.
   */
  readonly pathPrefixPeers?: readonly string[];
}

/**
 * An institution port (FSP ⇄ banks, bank ⇄ bank, submitters ⇄ log, log ⇄
 * witness): the handshake demands a client certificate of the deployment's
 * CA, valid now; every request's signer (the MPay Authorization header's
 * `iss`) must be the institution that certificate names (TLS_PEER_REFUSED).
 */
export function institutionServerTls(
  material: ServiceTlsMaterial,
  revoked: RevokedNow = () => material.revokedSerials,
): ServiceServerTls {
  return {
    key: material.keyPem,
    cert: material.certPem,
    ca: material.caPem,
    clientCertificate: 'required',
    checkPeer: (peer) => {
      checkTlsPeer({ ...peer, revoked: revoked() });
    },
  };
}

/** A device- or merchant-facing port: TLS with the service's certificate, no client certificate asked. */
export function publicServerTls(material: ServiceTlsMaterial): ServiceServerTls {
  return { key: material.keyPem, cert: material.certPem, clientCertificate: 'none' };
}

/**
 * A port that serves devices or merchants and institutions alike (the
 * gateway, the banks, custody, the log): the handshake asks for a client
 * certificate without demanding one. A request that claims an institution as
 * its signer (the MPay Authorization header's `iss`), or that goes to one of
 * `routes.pathPrefixes`, is refused (TLS_PEER_REFUSED) unless it came with a
 * certificate of the deployment's CA that node:tls authorised and that names
 * that institution; any other request (a device's, a merchant's, an
 * operator's, a public read) needs none: server-authenticated TLS.
 */
export function sharedServerTls(
  material: ServiceTlsMaterial,
  routes: InstitutionRoutes,
  revoked: RevokedNow = () => material.revokedSerials,
): ServiceServerTls {
  const institutions = new Set(routes.institutions);
  const prefixes = routes.pathPrefixes ?? [];
  const prefixPeers = routes.pathPrefixPeers === undefined ? institutions : new Set(routes.pathPrefixPeers);
  return {
    key: material.keyPem,
    cert: material.certPem,
    ca: material.caPem,
    clientCertificate: 'requested',
    checkPeer: (peer) => {
      const claimed = signerClaimedBy(peer.authorization);
      // The matched route, not the raw url: `%69nterbank/…` or `https://host/interbank/…` reach the same route.
      const prefixRoute = prefixes.some((prefix) => peer.route.startsWith(prefix));
      const institutionRoute = (claimed !== undefined && institutions.has(claimed)) || prefixRoute;
      if (!institutionRoute) return;
      if (!peer.authorized) {
        throw new MpayError('TLS_PEER_REFUSED', 'an institution route needs a certificate of the deployment');
      }
      checkNotRevoked(revoked(), peer.certificate);
      const institution = institutionOfPeerCertificate(peer.certificate);
      if (claimed !== undefined) checkPeerInstitution(institution, claimed);
      if (prefixRoute && !prefixPeers.has(institution)) {
        throw new MpayError('TLS_PEER_REFUSED', 'this route is not for that institution');
      }
    },
  };
}
