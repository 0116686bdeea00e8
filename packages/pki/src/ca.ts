import { webcrypto } from 'node:crypto';
import { createPkiLimits, dayMs, type PkiLimits } from './limits.ts';
import {
  checkNamesPermitted,
  nameConstraintsExtension,
  nameConstraintsOf,
  type PermittedNames,
  permittedSubtreesOf,
  type Subtree,
} from './name-constraints.ts';
import { caSubject, checkHostName, checkInstitutionId, checkServiceName, serviceSubject } from './naming.ts';
import { x509 } from './x509.ts';

/** ECDSA P-256 with SHA-256 for every key and signature of the deployment (the platform's ES256). */
const keyAlgorithm: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signingAlgorithm: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** A key and its certificate, both PEM (PKCS #8 and X.509): what node:tls takes as `key` and `cert`. */
export interface PemPair {
  readonly keyPem: string;
  readonly certPem: string;
}

/** A service certificate's request: who it is for and the names it answers to. */
export interface LeafRequest {
  readonly institution: string;
  readonly service: string;
  /** DNS names besides `localhost` (a service's host names). */
  readonly hosts?: readonly string[];
  /** IP addresses besides 127.0.0.1. */
  readonly ipAddresses?: readonly string[];
}

/** Always in a leaf's SAN: services listen on loopback by default. */
export const defaultHosts: readonly string[] = Object.freeze(['localhost']);
export const defaultIpAddresses: readonly string[] = Object.freeze(['127.0.0.1']);

const ipv4Pattern = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A positive 128-bit serial from the CSPRNG (RFC 5280 §4.1.2.2: unique per CA, at most 20 octets). */
function randomSerialHex(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // High bit clear (positive INTEGER), second-highest set (no leading zero octet to strip).
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), keyAlgorithm, false, [
    'sign',
  ]);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * A new root CA for a deployment: an ECDSA P-256 key and a self-signed
 * certificate (CA, pathLen 0: it signs service certificates only, never
 * another CA; keyCertSign and cRLSign), valid from `now` (back-dated a little)
 * for `caValidityDays`. `label` tells deployments apart in the subject.
 * A critical name constraints extension (./name-constraints.ts) limits what
 * it can vouch for to `localhost`, 127.0.0.0/8, ::1/128 and `permitted`:
 * whoever trusts it trusts it for those names only.
 */
export async function createDeploymentCa(options: {
  readonly now: Date;
  readonly label: string;
  readonly limits?: Partial<PkiLimits>;
  /** DNS names (each with the names under it) and IP ranges the CA may name besides loopback. */
  readonly permitted?: PermittedNames;
  /**
   * Exactly these permitted subtrees instead of the defaults and `permitted`:
   * the next CA of a rotation copies the current one's (`mpay pki ca begin`).
   */
  readonly permittedSubtrees?: readonly Subtree[];
}): Promise<PemPair> {
  const limits = createPkiLimits(options.limits);
  // Checked before any key is made (encodeNameConstraints refuses a subtree type it cannot write).
  const subtrees = options.permittedSubtrees ?? permittedSubtreesOf(options.permitted);
  const constraints = nameConstraintsExtension(subtrees);
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(options.now.getTime() - limits.notBeforeBackdateSeconds * 1000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: caSubject(options.label),
    notBefore,
    notAfter: new Date(options.now.getTime() + limits.caValidityDays * dayMs),
    signingAlgorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      constraints,
      // What the CA's certificates may be used for (Windows, macOS and OpenSSL read an EKU on a CA as a
      // limit): TLS servers and clients only, never code signing or mail, whoever holds ca.key.pem.
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: await exportKeyPem(keys.privateKey), certPem: certificate.toString('pem') };
}

/**
 * A service certificate signed by the CA: a fresh ECDSA P-256 key; subject
 * `O=<institution>, OU=<service>, CN=<service>.<institution>`; serverAuth and
 * clientAuth (every service both answers and calls); SAN `localhost`,
 * 127.0.0.1 and the hosts given; valid from `now` (back-dated a little) for
 * `leafValidityDays`, never past the CA's own notAfter. A name the CA's name
 * constraints do not permit is PKI_INVALID before anything is signed (every
 * client would refuse that certificate).
 */
export async function issueServiceCertificate(
  ca: PemPair,
  request: LeafRequest,
  options: { readonly now: Date; readonly limits?: Partial<PkiLimits> },
): Promise<PemPair> {
  const limits = createPkiLimits(options.limits);
  const institution = checkInstitutionId(request.institution);
  const service = checkServiceName(request.service);
  const hosts = unique([...defaultHosts, ...(request.hosts ?? []).map(checkHostName)]);
  const ipAddresses = unique([...defaultIpAddresses, ...(request.ipAddresses ?? [])]);
  for (const address of ipAddresses) {
    if (!ipv4Pattern.test(address))
      throw new RangeError(`pki: ${JSON.stringify(address)} is not an IPv4 address`);
  }
  checkNamesPermitted(nameConstraintsOf(ca.certPem), { hosts, ipAddresses }, 'the deployment CA');
  const caCertificate = new x509.X509Certificate(ca.certPem);
  const caKey = await importSigningKey(ca.keyPem);
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notAfterWanted = options.now.getTime() + limits.leafValidityDays * dayMs;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: serviceSubject(institution, service),
    issuer: caCertificate.subject,
    notBefore: new Date(options.now.getTime() - limits.notBeforeBackdateSeconds * 1000),
    notAfter: new Date(Math.min(notAfterWanted, caCertificate.notAfter.getTime())),
    signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...hosts.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
    ],
  });
  return { keyPem: await exportKeyPem(keys.privateKey), certPem: certificate.toString('pem') };
}

/** A certificate the deployment CA no longer vouches for: its serial (hex) and when it was revoked. */
export interface RevokedCertificate {
  readonly serialNumber: string;
  readonly revokedAt: Date;
}

/** The CRL number extension (RFC 5280 §5.2.3): a non-critical, non-negative INTEGER. */
function crlNumberExtension(number: bigint): x509.Extension {
  let hex = number.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`; // a positive INTEGER
  const value = Buffer.from(hex, 'hex');
  const der = Buffer.concat([Buffer.from([0x02, value.length]), value]);
  return new x509.Extension('2.5.29.20', false, der);
}

/**
 * The CA's certificate revocation list (RFC 5280 §5, PEM) naming `revoked`
 * (key compromise), numbered `number` (one more than the list it replaces),
 * issued at `now`, next update when the CA itself expires:
 * the list is replaced whenever a certificate is revoked, and a private CA's
 * list travels with its folder, not from a distribution point, so there is no
 * schedule to keep. `openssl crl -CAfile ca.cert.pem -in <file> -noout` checks it.
 */
export async function signRevocationList(
  ca: PemPair,
  revoked: readonly RevokedCertificate[],
  number: bigint,
  now: Date,
): Promise<string> {
  if (number < 1n || number >= 1n << 159n) throw new RangeError('pki: a CRL number is in 1..2^159-1');
  const caCertificate = new x509.X509Certificate(ca.certPem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCertificate.subject,
    thisUpdate: now,
    nextUpdate: caCertificate.notAfter,
    signingAlgorithm,
    signingKey: await importSigningKey(ca.keyPem),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
      crlNumberExtension(number),
    ],
    entries: revoked.map((entry) => ({
      serialNumber: entry.serialNumber,
      revocationDate: entry.revokedAt,
      reason: x509.X509CrlReason.keyCompromise,
    })),
  });
  // RFC 7468 §5's label, which OpenSSL reads (the library's own PEM says "CRL").
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}
