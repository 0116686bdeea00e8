import { createPrivateKey, type KeyObject, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MpayError } from '@mpay/protocol';
import { readBounded } from './bounded-read.ts';
import { createDeploymentCa, issueServiceCertificate, type PemPair, signRevocationList } from './ca.ts';
import { caProofLengthMax, verifyCaProof } from './ca-proof.ts';
import { type CertificateSummary, isIssuedBy, subjectAltNamesOf, summarizeCertificate } from './inspect.ts';
import { createPkiLimits, dayMs, type PkiLimits } from './limits.ts';
import { removeLeftoverTemporaryFiles, withPkiLock } from './lock.ts';
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
import { crlPathOf, isRevoked, loadRevokedSerials, readRevocationList, serialKey } from './revocation.ts';

/**
 * The deployment's certificates in a folder:
 *
 *     <dataDir>/pki/ca.key.pem, ca.cert.pem              the root CA, the one that issues (key 0600)
 *     <dataDir>/pki/ca.next.key.pem, ca.next.cert.pem    the next CA, during a rotation (`mpay pki ca begin`)
 *     <dataDir>/pki/ca.next.proof.json                   the current CA's signed statement that it is the next CA
 *     <dataDir>/pki/ca.previous.cert.pem                 the CA before the last switch, still trusted
 *                                                        until `mpay pki ca retire` (no key: never issues again)
 *     <dataDir>/pki/ca.previous.proof.json               the current CA's signed statement that it is the previous CA
 *     <dataDir>/pki/pki.lock                             held by the command writing the folder (./lock.ts)
 *     <dataDir>/pki/<institution>/<service>.key.pem      a service's key (0600)
 *     <dataDir>/pki/<institution>/<service>.cert.pem     its certificate
 *
 * Every file is written to a temporary name, synced and renamed, and the
 * folder synced after the rename, so a crash leaves the old file or the new
 * one, never half of one; the temporary files a crash leaves are removed by
 * the next command that writes (under the folder's lock, ./lock.ts). Service
 * certificates are reissued before they expire (`leafRenewBeforeDays`) or on
 * `rotate`. The CA is replaced in three steps (./ca-rotation.ts), so that
 * institutions on other machines can follow one step at a time: the trust
 * bundle every service verifies its peers with is the current CA plus the
 * next or the previous one while a rotation is under way, each only with its
 * proof signed by the current CA (loadDeploymentTrust, ./ca-proof.ts).
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
  /**
   * Hears what a writing command did besides its work (a stale lock taken
   * over, temporary files of a crashed write removed): one line each.
   * Default: the standard error.
   */
  readonly onNote?: (line: string) => void;
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
  /**
   * The serial numbers (serialKey's form) the CAs of `caPem` have revoked
   * (./revocation.ts): a peer presenting one is refused. loadServiceTls reads
   * them; absent, nothing is revoked.
   */
  readonly revokedSerials?: ReadonlySet<string>;
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
    /** Why it was (re)issued: missing, expiring, other-ca, key-mismatch, revoked, hosts, rotate. */
    readonly reason?: string;
  }[];
}

export function pkiDirOf(dataDir: string): string {
  return join(dataDir, 'pki');
}

export function caPathsOf(dataDir: string): { keyPath: string; certPath: string } {
  return { keyPath: join(pkiDirOf(dataDir), 'ca.key.pem'), certPath: join(pkiDirOf(dataDir), 'ca.cert.pem') };
}

/** The CA files of a rotation in a pki folder: the next CA (key, certificate, proof), the previous one (certificate, proof). */
export interface CaRotationPaths {
  readonly next: { readonly keyPath: string; readonly certPath: string; readonly proofPath: string };
  readonly previousCertPath: string;
  readonly previousProofPath: string;
}

function rotationPathsIn(folder: string): CaRotationPaths {
  return {
    next: {
      keyPath: join(folder, 'ca.next.key.pem'),
      certPath: join(folder, 'ca.next.cert.pem'),
      proofPath: join(folder, 'ca.next.proof.json'),
    },
    previousCertPath: join(folder, 'ca.previous.cert.pem'),
    previousProofPath: join(folder, 'ca.previous.proof.json'),
  };
}

/** The two places a CA other than the current one may be, in the order they are examined: the next, then the previous. */
function otherCaSlots(rotation: CaRotationPaths): readonly {
  readonly paths: { readonly certPath: string; readonly proofPath: string };
  readonly role: Exclude<CaRole, 'current'>;
}[] {
  return [
    { paths: rotation.next, role: 'next' },
    {
      paths: { certPath: rotation.previousCertPath, proofPath: rotation.previousProofPath },
      role: 'previous',
    },
  ];
}

/** The CA files of a rotation: the next CA (key, certificate, proof) and the previous one (certificate, proof). */
export function caRotationPathsOf(dataDir: string): CaRotationPaths {
  return rotationPathsIn(pkiDirOf(dataDir));
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

/**
 * Tests only (not exported by the package): called after each file a command
 * has put in place (renamed, its folder synced) or removed, in the command's
 * order. A test throws from it to stop the command there, as a crash would:
 * the crash walk of ca-rotation.test.ts follows the code's own order this way.
 */
export const fileStepsForTests: { after: ((path: string) => void) | undefined } = { after: undefined };

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
  await syncFolder(dirname(path));
  fileStepsForTests.after?.(path);
}

/**
 * fsync of a folder, so that a rename or removal in it survives a power cut
 * (the file's own sync does not cover its name). Where a platform cannot
 * sync a folder (EISDIR, EINVAL, EPERM: not Linux), the rename stands as before.
 */
async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}

/** Removes a file (none there: nothing to do) and syncs its folder. Shared with ./ca-rotation.ts. */
export async function removeFile(path: string): Promise<void> {
  try {
    await rm(path, { force: true });
    await syncFolder(dirname(path));
    fileStepsForTests.after?.(path);
  } catch (error) {
    throw storageError(path, error);
  }
}

/**
 * Runs `work` holding the pki folder's lock (./lock.ts), after removing the
 * temporary files a crashed write left. `create`: makes the folder (0700)
 * when missing (ensureDeploymentPki); otherwise a missing folder is
 * PKI_INVALID. Shared with ./ca-rotation.ts.
 */
export async function withPkiWriter<T>(
  dataDir: string,
  options: PkiOptions & { readonly create?: boolean },
  work: () => Promise<T>,
): Promise<T> {
  const folder = pkiDirOf(dataDir);
  const note = options.onNote ?? ((line: string) => process.stderr.write(`mpay: note: ${line}\n`));
  if (!(await exists(folder))) {
    if (options.create !== true)
      throw new MpayError('PKI_INVALID', `${folder}: missing (run \`mpay pki init\`)`);
    await makeFolder(folder);
    await chmod(folder, folderMode).catch((error: unknown) => {
      throw storageError(folder, error);
    });
  }
  return withPkiLock(folder, { now: options.now ?? new Date(), note }, async () => {
    const removed = await removeLeftoverTemporaryFiles(folder).catch((error: unknown) => {
      throw storageError(folder, error);
    });
    for (const path of removed) note(`${path}: removed (a temporary file of a write cut short)`);
    return work();
  });
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
  /** The current CA first, then the next or the previous one (no certificate twice, two CAs at most). */
  readonly anchors: readonly TrustedCa[];
  /** Their certificates, PEM, one after the other: ServiceTlsMaterial.caPem. */
  readonly certPem: string;
  /**
   * One line per CA file of the folder left out of the bundle (no proof, a
   * proof that does not verify, expired, not a CA, unreadable), naming the
   * file and what to do: said once per load or reload by whoever loads it.
   */
  readonly warnings: readonly string[];
}

/** How many CAs a trust bundle holds at most: the current one and the next or the previous one. */
export const trustedCaCountMax = 2;

/** What examining a next or previous CA file found: trusted, the current one again, or left out and why. */
type OtherCaCheck =
  | { readonly kind: 'trusted'; readonly ca: TrustedCa }
  | { readonly kind: 'current'; readonly certificate: X509Certificate }
  | {
      readonly kind: 'refused';
      readonly role: CaRole;
      readonly path: string;
      readonly why: string;
      readonly certificate?: X509Certificate;
    };

/** Longest CA certificate file read for the trust bundle (bytes): ours are under 1 kB. */
const caCertificateLengthMax = 16_384;

/**
 * The one check of a next or previous CA file, for the services' trust
 * bundle (loadDeploymentTrust), the CLI's (trustDeploymentCa, through
 * loadCaTrustBundle) and `mpay pki list`: readable, a certificate, the current
 * one again (a switch cut short: counted once), or a CA, not expired, whose
 * proof (`proofPath`, ./ca-proof.ts) verifies under the current CA's key
 * for this role. Undefined when the file is not there.
 */
async function examineOtherCa(
  paths: { readonly certPath: string; readonly proofPath: string },
  role: Exclude<CaRole, 'current'>,
  current: X509Certificate,
  now: Date,
): Promise<OtherCaCheck | undefined> {
  const path = paths.certPath;
  const refused = (why: string, certificate?: X509Certificate): OtherCaCheck =>
    certificate === undefined
      ? { kind: 'refused', role, path, why }
      : { kind: 'refused', role, path, why, certificate };
  const certPem = await readBounded(path, caCertificateLengthMax);
  if (certPem === undefined) return undefined;
  if (certPem instanceof Error) return refused(`unreadable: ${certPem.message}`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    return refused('not a PEM certificate');
  }
  if (certificate.fingerprint256 === current.fingerprint256) return { kind: 'current', certificate };
  if (!certificate.ca) return refused('not a CA certificate', certificate);
  if (new Date(certificate.validTo).getTime() <= now.getTime())
    return refused(`the CA expired on ${new Date(certificate.validTo).toISOString()}`, certificate);
  let nameConstraints: NameConstraintSet | undefined;
  try {
    nameConstraints = nameConstraintsOf(certPem);
  } catch {
    return refused('damaged name constraints', certificate);
  }
  const proofText = await readBounded(paths.proofPath, caProofLengthMax);
  const proof =
    proofText instanceof Error
      ? { valid: false as const, why: `an unreadable proof (${proofText.message})` }
      : verifyCaProof(proofText, { signer: current, subject: certificate, role, now });
  if (!proof.valid) return refused(`${proof.why} in ${paths.proofPath}`, certificate);
  return { kind: 'trusted', ca: { certPem, certificate, nameConstraints, role, path } };
}

/** What to do about a next or previous CA left out of the bundle: the warning's second half. */
function remedyFor(role: Exclude<CaRole, 'current'>, why: string): string {
  if (role === 'next')
    return 'run `mpay pki ca begin` again: it replaces it by a new next CA with its proof (a rotation begun by an mpay before proofs, or a file from elsewhere)';
  if (why.startsWith('the CA expired'))
    return '`mpay pki ca retire` removes it (after `mpay pki rotate` if a certificate is still its)';
  return 'certificates it issued are refused: `mpay pki rotate` reissues them under the current CA, then `mpay pki ca retire` removes it (a rotation switched by an mpay before proofs, or a file from elsewhere)';
}

/**
 * The trust bundle of the CA certificate at `caCertPath` and its folder:
 * that CA (the current one: present, a CA, not expired, else PKI_INVALID
 * naming the file), plus `ca.next.cert.pem` or `ca.previous.cert.pem` beside
 * it when examineOtherCa trusts it; every other one is left out with a
 * warning naming its file. Two CAs at most. The one function that reads a
 * deployment's bundle: the services' (loadDeploymentTrust) and the CLI's
 * (trustDeploymentCa).
 */
export async function loadCaTrustBundle(
  caCertPath: string,
  now: Date = new Date(),
): Promise<DeploymentTrust> {
  const certPem = await readText(caCertPath);
  const certificate = parseCertificate(caCertPath, certPem);
  if (!certificate.ca) throw new MpayError('PKI_INVALID', `${caCertPath}: not a CA certificate`);
  if (new Date(certificate.validTo).getTime() <= now.getTime()) {
    throw new MpayError('PKI_INVALID', `${caCertPath}: the CA expired on ${certificate.validTo}`);
  }
  const anchors: TrustedCa[] = [
    {
      certPem,
      certificate,
      nameConstraints: nameConstraintsAt(caCertPath, certPem),
      role: 'current',
      path: caCertPath,
    },
  ];
  const warnings: string[] = [];
  const rotation = rotationPathsIn(dirname(caCertPath));
  for (const { paths, role } of otherCaSlots(rotation)) {
    const found = await examineOtherCa(paths, role, certificate, now);
    if (found === undefined || found.kind === 'current') continue;
    if (found.kind === 'refused') {
      warnings.push(`${found.path}: not trusted (${found.why}): ${remedyFor(role, found.why)}`);
      continue;
    }
    if (anchors.length >= trustedCaCountMax) {
      warnings.push(
        `${found.ca.path}: not trusted: the trust bundle holds ${trustedCaCountMax} CAs at most (the current one and the next or the previous one); finish the rotation`,
      );
      continue;
    }
    anchors.push(found.ca);
  }
  return {
    anchors,
    // One CA: its file as it is; several: one after the other, each on lines of its own.
    certPem: pemBundleOf(anchors.map((anchor) => anchor.certPem)),
    warnings,
  };
}

/**
 * The deployment's trust bundle from the folder, without any private key
 * (loadCaTrustBundle of `ca.cert.pem`): the current CA, plus
 * `ca.next.cert.pem` after `mpay pki ca begin` or `ca.previous.cert.pem`
 * after `switch` until `retire`, each only with its proof signed by the
 * current CA. A next or previous CA that has expired, has no proof or one
 * that does not verify is left out (DeploymentTrust.warnings says so, naming
 * the file): a service still starts. A certificate in two files (a switch
 * interrupted between its renames) is in the bundle once: whatever step a
 * crash stopped at, the bundle holds the old CA and the new one.
 */
export async function loadDeploymentTrust(dataDir: string, now: Date = new Date()): Promise<DeploymentTrust> {
  if (!(await exists(pkiDirOf(dataDir)))) {
    throw new MpayError('PKI_INVALID', `${pkiDirOf(dataDir)}: missing (run \`mpay pki init\`)`);
  }
  return loadCaTrustBundle(caPathsOf(dataDir).certPath, now);
}

/**
 * Whether the next (or previous) CA file holds a CA the current one proved
 * for that role at `now`: what ./ca-rotation.ts asks before it signs or
 * switches to it. The reason when not (undefined: no such file).
 */
export async function otherCaStatus(
  dataDir: string,
  role: Exclude<CaRole, 'current'>,
  current: X509Certificate,
  now: Date,
): Promise<{ readonly trusted: boolean; readonly current: boolean; readonly why?: string } | undefined> {
  const rotation = caRotationPathsOf(dataDir);
  const paths =
    role === 'next'
      ? rotation.next
      : { certPath: rotation.previousCertPath, proofPath: rotation.previousProofPath };
  const found = await examineOtherCa(paths, role, current, now);
  if (found === undefined) return undefined;
  if (found.kind === 'refused') return { trusted: false, current: false, why: found.why };
  return { trusted: found.kind === 'trusted', current: found.kind === 'current' };
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
  revoked: ReadonlySet<string>,
): Promise<string | undefined> {
  const [hasKey, hasCert] = [await exists(paths.keyPath), await exists(paths.certPath)];
  if (!hasKey && !hasCert) return 'missing';
  if (!hasKey || !hasCert) return 'key-mismatch'; // a crash between the two renames
  const certificate = parseCertificate(paths.certPath, await readText(paths.certPath));
  const key = parseKey(paths.keyPath, await readText(paths.keyPath));
  if (!certificate.checkPrivateKey(key)) return 'key-mismatch';
  if (!isIssuedBy(certificate, ca.certificate)) return 'other-ca';
  // Revoked (a `mpay pki revoke` that stopped before its reissue): its peers refuse it.
  if (isRevoked(revoked, certificate)) return 'revoked';
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
 * PKI_INVALID before anything is issued. Holds the folder's lock
 * (PKI_BUSY while another command writes it).
 */
export async function ensureDeploymentPki(
  dataDir: string,
  institutions: readonly DeploymentInstitution[],
  options: PkiOptions = {},
): Promise<EnsureReport> {
  const limits = createPkiLimits(options.limits);
  for (const institution of institutions) checkInstitutionId(institution.id);
  if (options.permitted !== undefined) checkOperatorPermitted(options.permitted);
  return withPkiWriter(dataDir, { ...options, create: true }, () =>
    ensureLocked(dataDir, institutions, limits, options),
  );
}

async function ensureLocked(
  dataDir: string,
  institutions: readonly DeploymentInstitution[],
  limits: PkiLimits,
  options: PkiOptions,
): Promise<EnsureReport> {
  const now = options.now ?? new Date();
  const serviceHosts = institutions.flatMap((institution) =>
    servicesOf(institution).flatMap((service) => service.hosts ?? []),
  );
  const permitted: PermittedNames = {
    hosts: [...(options.permitted?.hosts ?? []), ...serviceHosts],
    ipRanges: options.permitted?.ipRanges ?? [],
  };
  const { ca, created } = await ensureCa(dataDir, now, limits, permitted);
  if (!created) checkCaPermits(dataDir, ca, permitted);
  const revoked = await loadRevokedSerials(pkiDirOf(dataDir), [ca]);
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
      const reason = await reissueReason(paths, ca, hosts, now, limits, revoked);
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
  return withPkiWriter(dataDir, options, () => issueLocked(dataDir, request, paths, now, options));
}

async function issueLocked(
  dataDir: string,
  request: { readonly institution: string; readonly service: string; readonly hosts?: readonly string[] },
  paths: { keyPath: string; certPath: string },
  now: Date,
  options: PkiOptions,
): Promise<{ keyPath: string; certPath: string }> {
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

/** What `mpay pki revoke` did: the certificate revoked, the one issued in its place, the CA's list. */
export interface RevokeReport {
  readonly institution: string;
  readonly service: string;
  /** Serial of the certificate revoked (upper-case hex). */
  readonly revokedSerial: string;
  /** Serial of the certificate issued in its place, with a new key; none when `--serial` named an older one. */
  readonly issuedSerial?: string;
  /** The CA's revocation list now, and how many certificates it names. */
  readonly crlPath: string;
  readonly revokedCount: number;
}

/**
 * Revokes a service's certificate (its key may have leaked): adds it to the
 * current CA's revocation list (./revocation.ts), signed again, then issues
 * the service a new certificate with a new key, keeping its host names.
 * `serialNumber` names another certificate of the CA instead, one the
 * service had before (`mpay pki issue` and `rotate` leave the one they
 * replace valid until it expires): it is listed, and the service's current
 * certificate stays as it is.
 * Every service that loads its material after this (a start, a reload)
 * refuses the old certificate, as a client and as a server. Only the current
 * CA signs lists: a certificate of another CA (the previous one, whose key is
 * gone) is PKI_INVALID; `mpay pki ca retire` ends the trust in all of them.
 * Safe to run again after a crash: a certificate already listed is not
 * listed twice, and a start reissues a revoked certificate it finds
 * (ensureDeploymentPki). Holds the folder's lock.
 */
export async function revokeServiceCertificate(
  dataDir: string,
  request: { readonly institution: string; readonly service: string; readonly serialNumber?: string },
  options: PkiOptions = {},
): Promise<RevokeReport> {
  const now = options.now ?? new Date();
  const paths = servicePathsOf(dataDir, request.institution, request.service);
  if (request.serialNumber !== undefined && !/^(?:[0-9A-Fa-f]{2}:?){1,20}$/.test(request.serialNumber))
    throw new RangeError(`pki: serial ${JSON.stringify(request.serialNumber)} is not 1 to 20 bytes of hex`);
  return withPkiWriter(dataDir, options, async () => {
    const current = await loadDeploymentCaCertificate(dataDir, now);
    const leaf = parseCertificate(paths.certPath, await readText(paths.certPath));
    const named = request.serialNumber === undefined ? undefined : serialKey(request.serialNumber);
    const older = named !== undefined && named !== serialKey(leaf.serialNumber);
    if (!older && !isIssuedBy(leaf, current.certificate)) {
      throw new MpayError(
        'PKI_INVALID',
        `${paths.certPath}: not issued by ${caPathsOf(dataDir).certPath}; only the current CA revokes (\`mpay pki ca retire\` stops trusting the previous one)`,
      );
    }
    const signer = await loadCaKey(dataDir, current);
    const pkiDir = pkiDirOf(dataDir);
    const listed = await readRevocationList(pkiDir, current);
    const revokedSerial = named ?? serialKey(leaf.serialNumber);
    const entries = listed.entries.some((entry) => entry.serialNumber === revokedSerial)
      ? listed.entries
      : [...listed.entries, { serialNumber: revokedSerial, revokedAt: now }];
    const crlPath = crlPathOf(pkiDir, current.certificate);
    await makeFolder(dirname(crlPath));
    const signed = await signRevocationList(signer.pem, entries, listed.number + 1n, now);
    await writeAtomically(crlPath, signed, certMode);
    const report = {
      institution: request.institution,
      service: request.service,
      revokedSerial,
      crlPath,
      revokedCount: entries.length,
    };
    if (older) return report;
    await issueLocked(
      dataDir,
      { institution: request.institution, service: request.service, hosts: extraHostsOf(leaf) },
      paths,
      now,
      options,
    );
    const issued = parseCertificate(paths.certPath, await readText(paths.certPath));
    return { ...report, issuedSerial: serialKey(issued.serialNumber) };
  });
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
 * leaked, or to test that rotation works before it is needed). Holds the
 * folder's lock.
 */
export async function rotateDeploymentPki(dataDir: string, options: PkiOptions = {}): Promise<EnsureReport> {
  return withPkiWriter(dataDir, options, () => reissueEveryCertificate(dataDir, options));
}

/** rotateDeploymentPki under a lock already held (`mpay pki ca switch` too: ./ca-rotation.ts). */
export async function reissueEveryCertificate(dataDir: string, options: PkiOptions): Promise<EnsureReport> {
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
  /**
   * For a CA: whether services trust it (in the trust bundle), and why not
   * (no proof, expired, …) as the services' warning says it.
   */
  readonly trusted?: boolean;
  readonly notTrustedBecause?: string;
  /** For a service certificate: whether the folder's current CA signed it. */
  readonly issuedByCa: boolean;
  /** For a service certificate: which CA of the folder signed it (undefined: none of them). */
  readonly issuedBy?: CaRole | undefined;
  /** For a service certificate: its CA has revoked it (`mpay pki revoke`): peers refuse it. */
  readonly revoked?: boolean;
  /** For a CA: how many certificates its revocation list names (0: it has none). */
  readonly revokedCount?: number;
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
  const currentCertificate = parseCertificate(caPaths.certPath, caPem);
  const cas: (TrustedCa & { trusted: boolean; notTrustedBecause?: string })[] = [
    {
      certPem: caPem,
      certificate: currentCertificate,
      nameConstraints: nameConstraintsAt(caPaths.certPath, caPem),
      role: 'current',
      path: caPaths.certPath,
      trusted: new Date(currentCertificate.validTo).getTime() > now.getTime(),
    },
  ];
  // Listed even when left out of the bundle (expired, no proof: the list says so): what the folder holds.
  for (const { paths, role } of otherCaSlots(rotation)) {
    const found = await examineOtherCa(paths, role, currentCertificate, now);
    if (found === undefined || found.kind === 'current') continue;
    if (found.kind === 'trusted') {
      cas.push({ ...found.ca, trusted: true });
      continue;
    }
    const certificate = found.certificate ?? parseCertificate(found.path, await readText(found.path));
    const certPem = certificate.toString();
    cas.push({
      certPem,
      certificate,
      nameConstraints: nameConstraintsAt(found.path, certPem),
      role,
      path: found.path,
      trusted: false,
      notTrustedBecause: found.why,
    });
  }
  const revocations = new Map<string, readonly string[]>();
  for (const ca of cas)
    revocations.set(
      ca.path,
      (await readRevocationList(pkiDirOf(dataDir), ca)).entries.map((entry) => entry.serialNumber),
    );
  const revokedSerials = new Set([...revocations.values()].flat());
  const listed: ListedCertificate[] = cas.map((ca) => ({
    ...summarizeCertificate(ca.certificate, now),
    path: ca.path,
    role: 'ca',
    caRole: ca.role,
    trusted: ca.trusted,
    revokedCount: revocations.get(ca.path)?.length ?? 0,
    ...(ca.notTrustedBecause === undefined ? {} : { notTrustedBecause: ca.notTrustedBecause }),
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
      revoked: isRevoked(revokedSerials, certificate),
    });
  }
  return listed;
}

/**
 * The trust bundle and the serials its CAs revoked, read once for many
 * services' `loadServiceTls` (each revocation list's signature is checked
 * once, not once per service).
 */
export interface LoadedDeploymentTrust {
  readonly trust: DeploymentTrust;
  readonly revokedSerials: ReadonlySet<string>;
}

/** The folder's trust bundle and its revocations, as `loadServiceTls` reads them. */
export async function loadDeploymentTrustWithRevocations(
  dataDir: string,
  now: Date = new Date(),
): Promise<LoadedDeploymentTrust> {
  const trust = await loadDeploymentTrust(dataDir, now); // never a CA's key
  return { trust, revokedSerials: await loadRevokedSerials(pkiDirOf(dataDir), trust.anchors) };
}

/**
 * A service's TLS material from the folder, checked: its key is its
 * certificate's, a CA of the trust bundle (loadDeploymentTrust: the current
 * one, or the next or previous one during a rotation) issued it and it is
 * valid at `now`; otherwise PKI_INVALID naming the file. `loaded`: the
 * bundle and revocations already read for this load of several services.
 */
export async function loadServiceTls(
  dataDir: string,
  institution: string,
  service: string,
  now: Date = new Date(),
  loaded?: LoadedDeploymentTrust,
): Promise<ServiceTlsMaterial> {
  const { trust, revokedSerials } = loaded ?? (await loadDeploymentTrustWithRevocations(dataDir, now));
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
  // Its own certificate may be listed (a revoke stopped before its reissue): loaded all the same, so
  // that its peers' lists still apply; the platform warns of it (PlatformTls), and a start reissues it.
  return {
    institution,
    service,
    keyPem: leaf.pem.keyPem,
    certPem: leaf.pem.certPem,
    caPem: trust.certPem,
    revokedSerials,
  };
}
