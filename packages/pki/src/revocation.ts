import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import type { RevokedCertificate } from './ca.ts';
import { x509 } from './x509.ts';

/**
 * Revoked service certificates (`mpay pki revoke`). Each CA of the deployment
 * that has revoked a certificate has a revocation list (RFC 5280 §5) in
 * `<pki>/crl/<the CA certificate's SHA-256, hex>.crl.pem`, signed with that
 * CA's key: named by the CA it belongs to, a list stays with its CA through a
 * rotation (the next CA, the current one, the previous one) without being
 * moved. No list: that CA has revoked nothing.
 *
 * The services read the lists of every CA they trust when they load their TLS
 * material (at start and at each reload) and check them themselves: an
 * institution port refuses a request whose client certificate is revoked
 * (TLS_PEER_REFUSED), a client refuses a server whose certificate is. They do
 * not hand the lists to OpenSSL: its CRL check needs a list for every CA of
 * the chain, current at every moment, and refuses every connection when one
 * is missing or late, which a rotation or a CA without its key would cause.
 */

/** Revoked serial numbers as read from lists and from certificates: upper-case hex, no leading zeros. */
export function serialKey(serialNumber: string): string {
  const digits = serialNumber.replace(/:/g, '').toUpperCase().replace(/^0+/, '');
  return digits === '' ? '0' : digits;
}

/** The revocation list file of the CA with this certificate. */
export function crlPathOf(pkiDir: string, caCertificate: X509Certificate): string {
  const sha256 = caCertificate.fingerprint256.replace(/:/g, '').toLowerCase();
  return join(pkiDir, 'crl', `${sha256}.crl.pem`);
}

/**
 * The certificates the CA `ca` has revoked, from its list in `pkiDir`
 * (none when it has no list). A list that does not parse, is not the CA's
 * or whose signature does not verify under the CA's key is PKI_INVALID
 * naming the file: a damaged list must not read as "nothing revoked".
 */
export async function readRevocationList(
  pkiDir: string,
  ca: { readonly certPem: string; readonly certificate: X509Certificate },
): Promise<RevokedCertificate[]> {
  const path = crlPathOf(pkiDir, ca.certificate);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MpayError('PKI_INVALID', `${path}: ${(error as Error).message}`, { cause: error });
  }
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem);
  } catch (error) {
    throw new MpayError('PKI_INVALID', `${path}: not a certificate revocation list`, { cause: error });
  }
  const issuer = new x509.X509Certificate(ca.certPem);
  if (crl.issuer !== issuer.subject || !(await crl.verify({ publicKey: issuer }))) {
    throw new MpayError('PKI_INVALID', `${path}: not signed by the CA it is named after`);
  }
  return crl.entries.map((entry) => ({
    serialNumber: serialKey(entry.serialNumber),
    revokedAt: entry.revocationDate,
  }));
}

/** Every serial revoked by one of `anchors` (the CAs a service trusts). */
export async function loadRevokedSerials(
  pkiDir: string,
  anchors: readonly { readonly certPem: string; readonly certificate: X509Certificate }[],
): Promise<ReadonlySet<string>> {
  const serials = new Set<string>();
  for (const anchor of anchors)
    for (const entry of await readRevocationList(pkiDir, anchor)) serials.add(entry.serialNumber);
  return serials;
}

/** A peer certificate as node:tls gives it (`serialNumber`, hex); absent or without one: not revoked. */
export function isRevoked(
  revoked: ReadonlySet<string> | undefined,
  certificate: { readonly serialNumber?: unknown } | null | undefined,
): boolean {
  const serial = certificate?.serialNumber;
  return revoked !== undefined && typeof serial === 'string' && revoked.has(serialKey(serial));
}
