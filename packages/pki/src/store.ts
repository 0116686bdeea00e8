import { createPrivateKey, type KeyObject, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from './ca.ts';
import { type CertificateSummary, isIssuedBy, subjectAltNamesOf, summarizeCertificate } from './inspect.ts';
import { createPkiLimits, dayMs, type PkiLimits } from './limits.ts';
import {
  checkNamesPermitted,
  checkOperatorPermitted,
  describeSubtree,
  isNamePermitted,
  isRangePermitted,
  type NameConstraintSet,
  nameConstraintsOf,
  type PermittedNames,
} from './name-constraints.ts';
import { checkInstitutionId, checkServiceName, isInstitutionId, isServiceName } from './naming.ts';

/**
 * The deployment's certificates in a folder:
 *
 *     <dataDir>/pki/ca.key.pem, ca.cert.pem              the root CA, the one that issues (key 0600)
 *     <dataDir>/pki/ca.next.key.pem, ca.next.cert.pem    the next CA, during a rotation (`mpay pki ca begin`)
 *     <dataDir>/pki/ca.previous.cert.pem                 the CA before the last switch, still trusted
 *                                                        until `mpay pki ca retire` (no key: never issues again)
 *     <dataDir>/pki/<institution>/<service>.key.pem      a service's key (0600)
 *     <dataDir>/pki/<institution>/<service>.cert.pem     its certificate
 *
 * Every file is written to a temporary name, synced and renamed, so a crash
 * leaves the old file or the new one, never half of one. Service
 * certificates are reissued before they expire (`leafRenewBeforeDays`) or on
 * `rotate`. The CA is replaced in three steps (./ca-rotation.ts), so that
 * institutions on other machines can follow one step at a time: the trust
 * bundle every service verifies its peers with is the current CA plus the
 * next or the previous one while a rotation is under way
 * (loadDeploymentTrust).
 *
 * Only what issues certificates reads `ca.key.pem` (ensureDeploymentPki when
 * it must issue, issueDeploymentCertificate, rotateDeploymentPki, and a CA
 * rotation's switch, which reads `ca.next.key.pem`): loading a service's TLS
 * reads the CAs' certificates alone (loadDeploymentTrust), so the keys may be
 * kept unreadable to the services, or offline, between issues.
 */

/** A service of an institution and the extra DNS names its certificate carries (besides localhost). */
export interface DeploymentService {
  readonly name: string;
  readonly hosts?: readonly string[];
}

export interface DeploymentInstitution {
  /** The institution id (the signer id of its requests): 'xbank', 'fsp.mpay'. */
  readonly id: string;
  readonly services: readonly (string | DeploymentService)[];
}

export interface PkiOptions {
  /** The time certificates are checked and issued at (default: the system clock's now). */
  readonly now?: Date;
  readonly limits?: Partial<PkiLimits>;
  /**
   * ensureDeploymentPki: DNS names (each with the names under it) and IP
   * ranges a CA created now permits, besides localhost, loopback and the
   * services' hosts (its name constraints: ./name-constraints.ts). With a CA
   * already there: PKI_INVALID when its constraints do not permit them (they
   * are fixed when it is created).
   */
  readonly permitted?: PermittedNames;
}

/** What a service needs for TLS: its key and certificate, and the deployment's trust bundle. */
export interface ServiceTlsMaterial {
  readonly institution: string;
  readonly service: string;
  readonly keyPem: string;
  readonly certPem: string;
  /**
   * The deployment's CA certificates its peers are verified with, PEM, one
   * after the other (node:tls takes several in one `ca` string): the current
   * CA, plus the next or the previous one during a CA rotation.
   */
  readonly caPem: string;
}

export type LeafAction = 'kept' | 'issued' | 'reissued';

export interface EnsureReport {
  readonly caCreated: boolean;
  /** What the operator should know (a CA without name constraints): one line each, said once at start. */
  readonly warnings?: readonly string[];
  readonly services: readonly {
    readonly institution: string;
    readonly service: string;
    readonly action: LeafAction;
    /** Why it was (re)issued: missing, expiring, other-ca, key-mismatch, hosts, rotate. */
    readonly reason?: string;
  }[];
}

export function pkiDirOf(dataDir: string): string {
  return join(dataDir, 'pki');
}

export function caPathsOf(dataDir: string): { keyPath: string; certPath: string } {
  return { keyPath: join(pkiDirOf(dataDir), 'ca.key.pem'), certPath: join(pkiDirOf(dataDir), 'ca.cert.pem') };
}

/** The CA files of a rotation: the next CA (key and certificate) and the previous one (certificate only). */
export function caRotationPathsOf(dataDir: string): {
  next: { keyPath: string; certPath: string };
  previousCertPath: string;
} {
  const folder = pkiDirOf(dataDir);
  return {
    next: { keyPath: join(folder, 'ca.next.key.pem'), certPath: join(folder, 'ca.next.cert.pem') },
    previousCertPath: join(folder, 'ca.previous.cert.pem'),
  };
}

export function servicePathsOf(
  dataDir: string,
  institution: string,
  service: string,
): { keyPath: string; certPath: string } {
  const folder = join(pkiDirOf(dataDir), checkInstitutionId(institution));
  checkServiceName(service);
  return { keyPath: join(folder, `${service}.key.pem`), certPath: join(folder, `${service}.cert.pem`) };
}

const keyMode = 0o600;
const certMode = 0o644;
const folderMode = 0o700;

/** An I/O failure as PKI_INVALID naming the path (a read-only or full folder, a file where a folder should be). */
function storageError(path: string, error: unknown): MpayError {
  return new MpayError('PKI_INVALID', `${path}: ${(error as Error).message}`, { cause: error });
}

async function makeFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: folderMode });
  } catch (error) {
    throw storageError(path, error);
  }
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  try {
    await writeThenRename(path, text, mode);
  } catch (error) {
    throw storageError(path, error);
  }
}

async function writeThenRename(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.chmod(mode); // whatever the umask
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export async function writePair(paths: { keyPath: string; certPath: string }, pair: PemPair): Promise<void> {
  await writeAtomically(paths.keyPath, pair.keyPem, keyMode);
  await writeAtomically(paths.certPath, pair.certPem, certMode);
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new MpayError('PKI_INVALID', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'missing' : (error as Error).message;
    throw new MpayError('PKI_INVALID', `${path}: ${why}`, { cause: error });
  }
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export function parseCertificate(path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new MpayError('PKI_INVALID', `${path}: not a PEM certificate`, { cause: error });
  }
}

/** Shared with ./ca-rotation.ts (not exported by the package). */
export function parseKey(path: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new MpayError('PKI_INVALID', `${path}: not a PEM private key`, { cause: error });
  }
}

/** A key and its certificate as read from their files: the PEM text and both parsed. */
export interface LoadedPair {
  readonly pem: PemPair;
  readonly certificate: X509Certificate;
  readonly key: KeyObject;
}

/** A key and certificate from their files: both parse and the key is the certificate's, or PKI_INVALID naming the file. */
async function loadPair(paths: { keyPath: string; certPath: string }): Promise<LoadedPair> {
  const certPem = await readText(paths.certPath);
  const keyPem = await readText(paths.keyPath);
  const certificate = parseCertificate(paths.certPath, certPem);
  const key = parseKey(paths.keyPath, keyPem);
  if (!certificate.checkPrivateKey(key)) {
    throw new MpayError('PKI_INVALID', `${paths.keyPath}: not the key of ${paths.certPath}`);
  }
  return { pem: { keyPem, certPem }, certificate, key };
}

/** The deployment CA's certificate as read from `ca.cert.pem`: the PEM and parsed, and its name constraints. */
export interface LoadedCaCertificate {
  readonly certPem: string;
  readonly certificate: X509Certificate;
  /** Undefined for a CA made before name constraints (it is trusted for every name). */
  readonly nameConstraints: NameConstraintSet | undefined;
}

function nameConstraintsAt(path: string, certPem: string): NameConstraintSet | undefined {
  try {
    return nameConstraintsOf(certPem);
  } catch (error) {
    throw new MpayError('PKI_INVALID', `${path}: damaged name constraints`, { cause: error });
  }
}

/**
 * The deployment CA's certificate from the folder, without its private key
 * (what every service trusts and checks its own certificate against);
 * PKI_INVALID (naming the file) when it is missing, damaged, not a CA or
 * expired. `ca.key.pem` is not read.
 */
export async function loadDeploymentCaCertificate(
  dataDir: string,
  now: Date = new Date(),
): Promise<LoadedCaCertificate> {
  const { certPath } = caPathsOf(dataDir);
  if (!(await exists(pkiDirOf(dataDir)))) {
    throw new MpayError('PKI_INVALID', `${pkiDirOf(dataDir)}: missing (run \`mpay pki init\`)`);
  }
  const certPem = await readText(certPath);
  const certificate = parseCertificate(certPath, certPem);
  if (!certificate.ca) throw new MpayError('PKI_INVALID', `${certPath}: not a CA certificate`);
  if (new Date(certificate.validTo).getTime() <= now.getTime()) {
    throw new MpayError('PKI_INVALID', `${certPath}: the CA expired on ${certificate.validTo}`);
  }
  return { certPem, certificate, nameConstraints: nameConstraintsAt(certPath, certPem) };
}

/** Which CA of the deployment a certificate file is: the one that issues, the next one or the previous one. */
export type CaRole = 'current' | 'next' | 'previous';

/** One CA of the trust bundle. */
export interface TrustedCa extends LoadedCaCertificate {
  readonly role: CaRole;
  readonly path: string;
}

/** Every CA a service verifies its peers with, and the bundle as node:tls takes it. */
export interface DeploymentTrust {
  /** The current CA first, then the next or the previous one (no certificate twice). */
  readonly anchors: readonly TrustedCa[];
  /** Their certificates, PEM, one after the other: ServiceTlsMaterial.caPem. */
  readonly certPem: string;
}

/** A CA certificate of a rotation (next or previous) when its file is there; PKI_INVALID when it is damaged or not a CA. */
async function loadOptionalCa(path: string, role: CaRole): Promise<TrustedCa | undefined> {
  if (!(await exists(path))) return undefined;
  const certPem = await readText(path);
  const certificate = parseCertificate(path, certPem);
  if (!certificate.ca) throw new MpayError('PKI_INVALID', `${path}: not a CA certificate`);
  return { certPem, certificate, nameConstraints: nameConstraintsAt(path, certPem), role, path };
}

/**
 * The deployment's trust bundle from the folder, without any private key:
 * `ca.cert.pem` (checked as loadDeploymentCaCertificate does), plus
 * `ca.next.cert.pem` after `mpay pki ca begin` and `ca.previous.cert.pem`
 * after `switch` until `retire`. A next or previous CA that has expired
 * vouches for nothing and is left out. A certificate in two files (a switch
 * interrupted between its renames) is in the bundle once: whatever step a
 * crash stopped at, the bundle holds the old CA and the new one.
 */
export async function loadDeploymentTrust(dataDir: string, now: Date = new Date()): Promise<DeploymentTrust> {
  const current = await loadDeploymentCaCertificate(dataDir, now);
  const rotation = caRotationPathsOf(dataDir);
  const anchors: TrustedCa[] = [{ ...current, role: 'current', path: caPathsOf(dataDir).certPath }];
  for (const other of [
    await loadOptionalCa(rotation.next.certPath, 'next'),
    await loadOptionalCa(rotation.previousCertPath, 'previous'),
  ]) {
    if (other === undefined) continue;
    if (new Date(other.certificate.validTo).getTime() <= now.getTime()) continue;
    if (anchors.some((anchor) => anchor.certificate.fingerprint256 === other.certificate.fingerprint256))
      continue;
    anchors.push(other);
  }
  return {
    anchors,
    // One CA: its file as it is; several: one after the other, each on lines of its own.
    certPem: pemBundleOf(anchors.map((anchor) => anchor.certPem)),
  };
}

/** PEM texts one after the other, a line break between two where the first lacks one; one text unchanged. */
export function pemBundleOf(pems: readonly string[]): string {
  return pems.reduce(
    (bundle, pem) => (bundle === '' || bundle.endsWith('\n') ? bundle + pem : `${bundle}\n${pem}`),
    '',
  );
}

/** The CA's key for `ca` (its certificate, read already): what issuing needs, and only issuing. */
async function loadCaKey(dataDir: string, ca: LoadedCaCertificate): Promise<LoadedPair> {
  const { keyPath, certPath } = caPathsOf(dataDir);
  let keyPem: string;
  try {
    keyPem = await readFile(keyPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'missing' : (error as Error).message;
    throw new MpayError(
      'PKI_INVALID',
      `${keyPath}: ${why} (the CA's private key is needed to issue a certificate)`,
      {
        cause: error,
      },
    );
  }
  const key = parseKey(keyPath, keyPem);
  if (!ca.certificate.checkPrivateKey(key)) {
    // Between the two renames of `mpay pki ca switch` the certificate is the next CA's and the key the old one's.
    const interrupted = await exists(caRotationPathsOf(dataDir).next.certPath);
    throw new MpayError(
      'PKI_INVALID',
      `${keyPath}: not the key of ${certPath}${interrupted ? ' (a `mpay pki ca switch` was interrupted: run it again)' : ''}`,
    );
  }
  return { pem: { keyPem, certPem: ca.certPem }, certificate: ca.certificate, key };
}

/**
 * The deployment's CA from the folder, its certificate and its private key:
 * for issuing only (services load loadDeploymentCaCertificate). PKI_INVALID
 * (naming the file) when either is missing or damaged, the key is not the
 * certificate's, or the CA expired.
 */
export async function loadDeploymentCa(dataDir: string, now: Date = new Date()): Promise<LoadedPair> {
  return loadCaKey(dataDir, await loadDeploymentCaCertificate(dataDir, now));
}

/** Whether the CA may name every host and range of `permitted`: PKI_INVALID naming its file otherwise. */
function checkCaPermits(dataDir: string, ca: LoadedCaCertificate, permitted: PermittedNames): void {
  const set = ca.nameConstraints;
  const outside = [
    ...(permitted.hosts ?? [])
      .filter((value) => !isNamePermitted(set, { type: 'dns', value }))
      .map((host) => `DNS:${host}`),
    ...(permitted.ipRanges ?? [])
      .filter((range) => !isRangePermitted(set, range))
      .map((range) => `IP:${range}`),
  ];
  if (outside.length === 0 || set === undefined) return;
  throw new MpayError(
    'PKI_INVALID',
    `${caPathsOf(dataDir).certPath}: the CA exists and its name constraints (${set.permitted
      .map(describeSubtree)
      .join(', ')}) do not permit ${outside.join(', ')}; they are fixed when the CA is created`,
  );
}

/**
 * The CA, created (permitting `permitted`) when the folder has neither of its
 * files. With one there, its certificate only: a key without a certificate is
 * PKI_INVALID (the certificate missing); a certificate without its key is
 * fine until something must be issued.
 */
async function ensureCa(
  dataDir: string,
  now: Date,
  limits: PkiLimits,
  permitted: PermittedNames,
): Promise<{ ca: LoadedCaCertificate; created: boolean }> {
  const paths = caPathsOf(dataDir);
  const [hasKey, hasCert] = [await exists(paths.keyPath), await exists(paths.certPath)];
  if (hasKey || hasCert) return { ca: await loadDeploymentCaCertificate(dataDir, now), created: false };
  await makeFolder(pkiDirOf(dataDir));
  await chmod(pkiDirOf(dataDir), folderMode).catch((error: unknown) => {
    throw storageError(pkiDirOf(dataDir), error);
  });
  const pair = await createDeploymentCa({ now, label: randomBytes(4).toString('hex'), limits, permitted });
  await writePair(paths, pair);
  return { ca: await loadDeploymentCaCertificate(dataDir, now), created: true };
}

function servicesOf(institution: DeploymentInstitution): DeploymentService[] {
  return institution.services.map((service) => (typeof service === 'string' ? { name: service } : service));
}

/** Why a service's certificate must be (re)issued now, or undefined to keep it. */
async function reissueReason(
  paths: { keyPath: string; certPath: string },
  ca: LoadedCaCertificate,
  hosts: readonly string[],
  now: Date,
  limits: PkiLimits,
): Promise<string | undefined> {
  const [hasKey, hasCert] = [await exists(paths.keyPath), await exists(paths.certPath)];
  if (!hasKey && !hasCert) return 'missing';
  if (!hasKey || !hasCert) return 'key-mismatch'; // a crash between the two renames
  const certificate = parseCertificate(paths.certPath, await readText(paths.certPath));
  const key = parseKey(paths.keyPath, await readText(paths.keyPath));
  if (!certificate.checkPrivateKey(key)) return 'key-mismatch';
  if (!isIssuedBy(certificate, ca.certificate)) return 'other-ca';
  const renewAt = new Date(certificate.validTo).getTime() - limits.leafRenewBeforeDays * dayMs;
  if (renewAt <= now.getTime()) return 'expiring';
  const names = subjectAltNamesOf(certificate);
  if (hosts.some((host) => !names.includes(`DNS:${host}`))) return 'hosts';
  return undefined;
}

/**
 * Whether a `mpay pki ca switch` stopped between renaming the certificate and
 * the key: `ca.cert.pem` is the next CA's (`ca.next.cert.pem` still there),
 * `ca.key.pem` the old one's. A key kept offline (missing) is not this.
 */
async function switchInterrupted(dataDir: string, ca: LoadedCaCertificate): Promise<boolean> {
  const next = caRotationPathsOf(dataDir).next.certPath;
  const { keyPath } = caPathsOf(dataDir);
  if (!(await exists(next)) || !(await exists(keyPath))) return false;
  if (parseCertificate(next, await readText(next)).fingerprint256 !== ca.certificate.fingerprint256)
    return false;
  return !ca.certificate.checkPrivateKey(parseKey(keyPath, await readText(keyPath)));
}

async function issuedByOneOf(certPath: string, issuers: readonly X509Certificate[]): Promise<boolean> {
  const certificate = parseCertificate(certPath, await readText(certPath));
  return issuers.some((issuer) => isIssuedBy(certificate, issuer));
}

/**
 * Makes the folder hold a CA and a current certificate for every service of
 * every institution given: creates the CA the first time, issues what is
 * missing and reissues what expires within `leafRenewBeforeDays`, was issued
 * by another CA, lost its key or lacks a host. What `mpay pki init` runs, and
 * what `mpay up` is to run on every start. Idempotent.
 *
 * A CA created here permits (name constraints) localhost, loopback, the
 * services' hosts and `options.permitted`. The CA's key is read only when a
 * certificate must be issued; a host its constraints do not permit is
 * PKI_INVALID before anything is issued.
 */
export async function ensureDeploymentPki(
  dataDir: string,
  institutions: readonly DeploymentInstitution[],
  options: PkiOptions = {},
): Promise<EnsureReport> {
  const now = options.now ?? new Date();
  const limits = createPkiLimits(options.limits);
  for (const institution of institutions) checkInstitutionId(institution.id);
  const serviceHosts = institutions.flatMap((institution) =>
    servicesOf(institution).flatMap((service) => service.hosts ?? []),
  );
  if (options.permitted !== undefined) checkOperatorPermitted(options.permitted);
  const permitted: PermittedNames = {
    hosts: [...(options.permitted?.hosts ?? []), ...serviceHosts],
    ipRanges: options.permitted?.ipRanges ?? [],
  };
  const { ca, created } = await ensureCa(dataDir, now, limits, permitted);
  if (!created) checkCaPermits(dataDir, ca, permitted);
  let signer: LoadedPair | undefined;
  const services: EnsureReport['services'][number][] = [];
  // A `mpay pki ca switch` cut short between its renames: nothing can be issued until it runs again;
  // meanwhile a certificate of the old CA, still in the trust bundle, is kept (the platform starts).
  const interrupted = await switchInterrupted(dataDir, ca);
  const trust = interrupted ? await loadDeploymentTrust(dataDir, now) : undefined;
  const warnings = ca.nameConstraints === undefined ? [unconstrainedCaWarning(dataDir)] : [];
  if (interrupted)
    warnings.push(
      `${caPathsOf(dataDir).keyPath}: not the key of ${caPathsOf(dataDir).certPath}: a \`mpay pki ca switch\` was interrupted; run it again (until then both CAs are trusted and no certificate can be issued)`,
    );
  for (const institution of institutions) {
    await makeFolder(join(pkiDirOf(dataDir), institution.id));
    for (const service of servicesOf(institution)) {
      const paths = servicePathsOf(dataDir, institution.id, service.name);
      const hosts = service.hosts ?? [];
      const reason = await reissueReason(paths, ca, hosts, now, limits);
      const trustedMeanwhile =
        reason === 'other-ca' &&
        trust !== undefined &&
        (await issuedByOneOf(
          paths.certPath,
          trust.anchors.map((anchor) => anchor.certificate),
        ));
      if (reason === undefined || trustedMeanwhile) {
        services.push({ institution: institution.id, service: service.name, action: 'kept' });
        continue;
      }
      signer ??= await loadCaKey(dataDir, ca);
      const pair = await issueServiceCertificate(
        signer.pem,
        { institution: institution.id, service: service.name, hosts },
        { now, limits },
      );
      await writePair(paths, pair);
      const action: LeafAction = reason === 'missing' ? 'issued' : 'reissued';
      services.push({ institution: institution.id, service: service.name, action, reason });
    }
  }
  return { caCreated: created, services, warnings };
}

/**
 * What `mpay up` (and `pki init`) says once at start of a CA made before name
 * constraints: whoever trusts it trusts it for every site.
 */
export function unconstrainedCaWarning(dataDir: string): string {
  return `${caPathsOf(dataDir).certPath}: this CA has no name constraints (made by an older mpay): whoever trusts it trusts it for every site; \`mpay pki ca begin\` then \`mpay pki ca switch\` replace it by a name-constrained CA`;
}

/**
 * Issues (or reissues) one service's certificate now with the folder's CA,
 * whatever state its old one is in: `mpay pki issue`.
 */
export async function issueDeploymentCertificate(
  dataDir: string,
  request: { readonly institution: string; readonly service: string; readonly hosts?: readonly string[] },
  options: PkiOptions = {},
): Promise<{ keyPath: string; certPath: string }> {
  const now = options.now ?? new Date();
  const paths = servicePathsOf(dataDir, request.institution, request.service); // names first: no CA read for a bad one
  const certificate = await loadDeploymentCaCertificate(dataDir, now);
  // A name the CA may not vouch for is refused before its key is read (no client would accept the certificate).
  checkNamesPermitted(
    certificate.nameConstraints,
    { hosts: request.hosts ?? [], ipAddresses: [] },
    caPathsOf(dataDir).certPath,
  );
  const ca = await loadCaKey(dataDir, certificate);
  const pair = await issueServiceCertificate(ca.pem, request, { now, limits: options.limits });
  await makeFolder(join(pkiDirOf(dataDir), request.institution));
  await writePair(paths, pair);
  return paths;
}

/** Every service certificate file in the folder, by institution and service, in name order (./ca-rotation.ts too). */
export async function serviceFilesOf(dataDir: string): Promise<{ institution: string; service: string }[]> {
  const folder = pkiDirOf(dataDir);
  const found: { institution: string; service: string }[] = [];
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
    throw new MpayError('PKI_INVALID', `${folder}: ${(error as Error).message}`, { cause: error });
  });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || !isInstitutionId(entry.name)) continue;
    const files = (await readdir(join(folder, entry.name))).sort();
    for (const file of files) {
      const service = /^(.+)\.cert\.pem$/.exec(file)?.[1];
      if (service !== undefined && isServiceName(service)) found.push({ institution: entry.name, service });
    }
  }
  return found;
}

/** The DNS names besides localhost of a certificate, to keep them on reissue (./ca-rotation.ts too). */
export function extraHostsOf(certificate: X509Certificate): string[] {
  return subjectAltNamesOf(certificate)
    .filter((name) => name.startsWith('DNS:'))
    .map((name) => name.slice('DNS:'.length))
    .filter((host) => host !== 'localhost');
}

/**
 * Reissues every service certificate in the folder now, keeping the CA and
 * each certificate's host names: `mpay pki rotate` (after a key may have
 * leaked, or to test that rotation works before it is needed).
 */
export async function rotateDeploymentPki(dataDir: string, options: PkiOptions = {}): Promise<EnsureReport> {
  const now = options.now ?? new Date();
  const ca = await loadDeploymentCa(dataDir, now);
  const services: EnsureReport['services'][number][] = [];
  // Every certificate read and its names checked first: a name the CA does not permit stops the rotation before any file changes.
  const planned: { institution: string; service: string; hosts: string[] }[] = [];
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    const hosts = extraHostsOf(parseCertificate(certPath, await readText(certPath)));
    checkNamesPermitted(nameConstraintsOf(ca.pem.certPem), { hosts, ipAddresses: [] }, certPath);
    planned.push({ institution, service, hosts });
  }
  for (const { institution, service, hosts } of planned) {
    const paths = servicePathsOf(dataDir, institution, service);
    const pair = await issueServiceCertificate(
      ca.pem,
      { institution, service, hosts },
      { now, limits: options.limits },
    );
    await writePair(paths, pair);
    services.push({ institution, service, action: 'reissued', reason: 'rotate' });
  }
  return { caCreated: false, services };
}

export interface ListedCertificate extends CertificateSummary {
  readonly path: string;
  readonly role: 'ca' | 'service';
  /** For a CA: which one (the one that issues, the next one, the previous one still trusted). */
  readonly caRole?: CaRole;
  /** For a service certificate: whether the folder's current CA signed it. */
  readonly issuedByCa: boolean;
  /** For a service certificate: which CA of the folder signed it (undefined: none of them). */
  readonly issuedBy?: CaRole | undefined;
  /**
   * For the CA: the names it may vouch for (`DNS:localhost`, `IP:127.0.0.0/8`),
   * or null when it has no name constraints (a CA made before them: trusted
   * for every name). Absent for a service certificate.
   */
  readonly nameConstraints?: {
    readonly permitted: readonly string[];
    readonly excluded: readonly string[];
  } | null;
}

/** The CAs (current, next, previous) and every service certificate in the folder, with its days left at `now`: `mpay pki list`. */
export async function listDeploymentPki(
  dataDir: string,
  now: Date = new Date(),
): Promise<ListedCertificate[]> {
  const caPaths = caPathsOf(dataDir);
  if (!(await exists(pkiDirOf(dataDir)))) {
    throw new MpayError('PKI_INVALID', `${pkiDirOf(dataDir)}: missing (run \`mpay pki init\`)`);
  }
  const rotation = caRotationPathsOf(dataDir);
  const caPem = await readText(caPaths.certPath);
  const cas: TrustedCa[] = [
    {
      certPem: caPem,
      certificate: parseCertificate(caPaths.certPath, caPem),
      nameConstraints: nameConstraintsAt(caPaths.certPath, caPem),
      role: 'current',
      path: caPaths.certPath,
    },
  ];
  // Listed even when expired (the list says so): what the folder holds, not what is trusted.
  for (const other of [
    await loadOptionalCa(rotation.next.certPath, 'next'),
    await loadOptionalCa(rotation.previousCertPath, 'previous'),
  ]) {
    if (other !== undefined) cas.push(other);
  }
  const listed: ListedCertificate[] = cas.map((ca) => ({
    ...summarizeCertificate(ca.certificate, now),
    path: ca.path,
    role: 'ca',
    caRole: ca.role,
    issuedByCa: true,
    nameConstraints:
      ca.nameConstraints === undefined
        ? null
        : {
            permitted: ca.nameConstraints.permitted.map(describeSubtree),
            excluded: ca.nameConstraints.excluded.map(describeSubtree),
          },
  }));
  const current = cas[0] as TrustedCa;
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    const certificate = parseCertificate(certPath, await readText(certPath));
    listed.push({
      ...summarizeCertificate(certificate, now),
      path: certPath,
      role: 'service',
      issuedByCa: isIssuedBy(certificate, current.certificate),
      issuedBy: cas.find((ca) => isIssuedBy(certificate, ca.certificate))?.role,
    });
  }
  return listed;
}

/**
 * A service's TLS material from the folder, checked: its key is its
 * certificate's, a CA of the trust bundle (loadDeploymentTrust: the current
 * one, or the next or previous one during a rotation) issued it and it is
 * valid at `now`; otherwise PKI_INVALID naming the file.
 */
export async function loadServiceTls(
  dataDir: string,
  institution: string,
  service: string,
  now: Date = new Date(),
): Promise<ServiceTlsMaterial> {
  const trust = await loadDeploymentTrust(dataDir, now); // never a CA's key
  const paths = servicePathsOf(dataDir, institution, service);
  const leaf = await loadPair(paths);
  if (!trust.anchors.some((anchor) => isIssuedBy(leaf.certificate, anchor.certificate))) {
    throw new MpayError(
      'PKI_INVALID',
      `${paths.certPath}: not issued by ${trust.anchors.map((anchor) => anchor.path).join(' or ')}`,
    );
  }
  if (new Date(leaf.certificate.validTo).getTime() <= now.getTime()) {
    throw new MpayError('PKI_INVALID', `${paths.certPath}: expired on ${leaf.certificate.validTo}`);
  }
  if (new Date(leaf.certificate.validFrom).getTime() > now.getTime()) {
    throw new MpayError('PKI_INVALID', `${paths.certPath}: not valid before ${leaf.certificate.validFrom}`);
  }
  // The file in <institution>/<service> must be that service's certificate, not another's of the same CA.
  const named = summarizeCertificate(leaf.certificate, now);
  if (named.institution !== institution || named.service !== service) {
    throw new MpayError(
      'PKI_INVALID',
      `${paths.certPath}: names ${named.institution ?? '?'}/${named.service ?? '?'}, not ${institution}/${service}`,
    );
  }
  return { institution, service, keyPem: leaf.pem.keyPem, certPem: leaf.pem.certPem, caPem: trust.certPem };
}
