import { MpayError } from '@mpay/protocol';
import { parseServiceSubject } from './naming.ts';
import { isRevoked } from './revocation.ts';

/**
 * A peer certificate as `tlsSocket.getPeerCertificate()` gives it (only the
 * subject is read); `{}` when the peer sent none.
 */
export interface PeerCertificateLike {
  readonly subject?: { readonly O?: unknown; readonly OU?: unknown; readonly CN?: unknown } | undefined;
  /** Hex, as node:tls gives it; read only to refuse a revoked certificate. */
  readonly serialNumber?: unknown;
}

/**
 * The institution a verified peer certificate names (its `O`, with `OU` and
 * `CN = <OU>.<O>` under the deployment's naming scheme). A certificate that
 * is absent or named otherwise is TLS_PEER_REFUSED. The caller has checked
 * that the certificate verifies under the deployment's CA (node:tls does it
 * with `rejectUnauthorized`): this reads names, it does not verify.
 */
export function institutionOfPeerCertificate(certificate: PeerCertificateLike | null | undefined): string {
  const named = certificate?.subject === undefined ? undefined : parseServiceSubject(certificate.subject);
  if (named === undefined) throw new MpayError('TLS_PEER_REFUSED', 'no deployment certificate');
  return named.institution;
}

/** Longest Authorization header read for its claimed signer; a longer MPay header is refused (TLS_PEER_REFUSED). */
export const authorizationLengthMax = 16 * 1024;

/**
 * The signer an `Authorization: MPay <jws>` header claims: the `iss` of its
 * payload, read WITHOUT verifying the signature. Safe for one use only:
 * refusing early when the claim names another institution than the TLS
 * peer. The route still verifies the signature under the key of that `iss`,
 * so a request passes only if both agree. Undefined for a request without
 * an MPay header. An MPay header whose signer cannot be read (longer than
 * `authorizationLengthMax`, not one compact JWS, a payload that is not JSON
 * or names no `iss`) is TLS_PEER_REFUSED: the check fails closed rather than
 * let through unchecked a header the route might still read otherwise.
 */
export function signerClaimedBy(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !/^mpay(\s|$)/i.test(authorization)) return undefined;
  const unreadable = () => new MpayError('TLS_PEER_REFUSED', 'an MPay signature whose signer cannot be read');
  if (authorization.length > authorizationLengthMax) throw unreadable();
  const [scheme, token, extra] = authorization.split(' ');
  if (scheme !== 'MPay' || token === undefined || extra !== undefined) throw unreadable();
  const payload = token.split('.')[1];
  if (payload === undefined || !/^[A-Za-z0-9_-]+$/.test(payload)) throw unreadable();
  let claims: { iss?: unknown } | null;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown } | null;
  } catch {
    throw unreadable();
  }
  if (typeof claims?.iss !== 'string') throw unreadable();
  return claims.iss;
}

/**
 * Refuses a request whose signature claims another institution than the one
 * its TLS peer certificate names: a bank's certificate cannot carry
 * requests signed as the FSP, even with the FSP's key. Institution ids are
 * signer ids (see naming.ts), so the check is equality.
 */
export function checkPeerInstitution(peerInstitution: string, claimedInstitution: string): void {
  if (peerInstitution !== claimedInstitution) {
    throw new MpayError(
      'TLS_PEER_REFUSED',
      `certificate of ${peerInstitution}, request of another institution`,
    );
  }
}

/**
 * The check an institution port runs on every request: the peer's
 * certificate names an institution, and the signer its Authorization header
 * claims (when it has one) is that institution.
 */
export function checkTlsPeer(peer: {
  readonly certificate: PeerCertificateLike | null | undefined;
  readonly authorization: string | undefined;
  /** The serials the deployment's CAs have revoked (./revocation.ts); absent: none. */
  readonly revoked?: ReadonlySet<string> | undefined;
}): string {
  checkNotRevoked(peer.revoked, peer.certificate);
  const institution = institutionOfPeerCertificate(peer.certificate);
  const claimed = signerClaimedBy(peer.authorization);
  if (claimed !== undefined) checkPeerInstitution(institution, claimed);
  return institution;
}

/**
 * Refuses a peer certificate its CA has revoked (`mpay pki revoke`:
 * TLS_PEER_REFUSED). node:tls verified the chain and the validity; the
 * revocation lists are the deployment's own (./revocation.ts).
 */
export function checkNotRevoked(
  revoked: ReadonlySet<string> | undefined,
  certificate: PeerCertificateLike | null | undefined,
): void {
  if (isRevoked(revoked, certificate))
    throw new MpayError('TLS_PEER_REFUSED', 'a revoked certificate of the deployment');
}
