import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { readBounded } from './bounded-read.ts';
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

/** Longest revocation list read (bytes): about 25,000 entries; a longer file is PKI_INVALID, not read whole. */
export const revocationListLengthMax = 2 * 1024 * 1024;

/** A CA's revocation list as read: what it names, and its CRL number (0 when it has none). */
export interface RevocationList {
  readonly entries: readonly RevokedCertificate[];
  readonly number: bigint;
}

/** The CRL number extension's INTEGER (RFC 5280 §5.2.3), or 0n when the list has none. */
function crlNumberOf(crl: x509.X509Crl): bigint {
  const extension = crl.extensions.find((entry) => entry.type === '2.5.29.20');
  if (extension === undefined) return 0n;
  const der = new Uint8Array(extension.value);
  const length = der[1] ?? 0;
  if (der[0] !== 0x02 || length === 0 || length > 20 || der.length !== 2 + length)
    throw new Error('a CRL number that is not a short INTEGER');
  return BigInt(`0x${Buffer.from(der.subarray(2)).toString('hex')}`);
}

/**
 * The certificates the CA `ca` has revoked, from its list in `pkiDir`
 * (none when it has no list), with the list's number. A list that is too
 * long, does not parse, names another issuer or whose signature does not
 * verify under the CA's key is PKI_INVALID naming the file: a damaged list
 * must not read as "nothing revoked". (A list removed, or replaced by an
 * older one, cannot be told from here: a running platform keeps what it
 * has refused so far, cli/src/platform/tls.ts.)
 */
export async function readRevocationList(
  pkiDir: string,
  ca: { readonly certPem: string; readonly certificate: X509Certificate },
): Promise<RevocationList> {
  const path = crlPathOf(pkiDir, ca.certificate);
  const pem = await readBounded(path, revocationListLengthMax);
  if (pem === undefined) return { entries: [], number: 0n };
  if (pem instanceof Error) throw new MpayError('PKI_INVALID', `${path}: ${pem.message}`, { cause: pem });
  try {
    const crl = new x509.X509Crl(pem);
    const issuer = new x509.X509Certificate(ca.certPem);
    if (crl.issuer !== issuer.subject || !(await crl.verify({ publicKey: issuer })))
      throw new MpayError('PKI_INVALID', `${path}: not signed by the CA it is named after`);
    return {
      entries: crl.entries.map((entry) => ({
        serialNumber: serialKey(entry.serialNumber),
        revokedAt: entry.revocationDate,
      })),
      number: crlNumberOf(crl),
    };
  } catch (error) {
    if (error instanceof MpayError) throw error;
    throw new MpayError(
      'PKI_INVALID',
      `${path}: not a revocation list of its CA (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

/** Every serial revoked by one of `anchors` (the CAs a service trusts). */
export async function loadRevokedSerials(
  pkiDir: string,
  anchors: readonly { readonly certPem: string; readonly certificate: X509Certificate }[],
): Promise<ReadonlySet<string>> {
  const serials = new Set<string>();
  for (const anchor of anchors)
    for (const entry of (await readRevocationList(pkiDir, anchor)).entries) serials.add(entry.serialNumber);
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
