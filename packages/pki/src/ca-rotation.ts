import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { MpayError } from '@mpay/protocol';
import { createDeploymentCa } from './ca.ts';
import { isIssuedBy } from './inspect.ts';
import { createPkiLimits } from './limits.ts';
import {
  checkNamesPermitted,
  checkOperatorPermitted,
  describeSubtree,
  nameConstraintsOf,
  type PermittedNames,
} from './name-constraints.ts';
import {
  caPathsOf,
  caRotationPathsOf,
  type EnsureReport,
  exists,
  extraHostsOf,
  loadDeploymentCaCertificate,
  type PkiOptions,
  parseCertificate,
  parseKey,
  readText,
  rotateDeploymentPki,
  serviceFilesOf,
  servicePathsOf,
  writeAtomically,
  writePair,
} from './store.ts';

/**
 * Replacing the deployment's CA without a moment when two services do not
 * trust each other, in three steps an operator runs one after the other
 * (each followed by a reload of every service, and on other machines by
 * copying the certificates there):
 *
 * 1. `begin`: a next CA (a new key, the current one's name constraints) in
 *    `ca.next.{key,cert}.pem`. Every service trusts both from its reload on;
 *    nothing is reissued.
 * 2. `switch`: the next CA becomes the current one (`ca.{key,cert}.pem`),
 *    the old certificate is kept as `ca.previous.cert.pem`, the old key is
 *    gone (the next key's rename replaces it), and every service certificate
 *    is reissued by the new CA. Both are still trusted.
 * 3. `retire`: `ca.previous.cert.pem` removed: only the new CA is trusted.
 *    Refused while a service certificate of the folder is still the old CA's.
 *
 * Every file is written to a temporary name, synced and renamed. A crash
 * leaves one of the states below, each of which the trust bundle
 * (loadDeploymentTrust) reads as old + new, and the step run again finishes:
 *
 * - begin: `ca.next.key.pem` without its certificate: no rotation yet (the
 *   key is unused); `begin` again makes a new pair.
 * - switch: `ca.previous.cert.pem` equal to `ca.cert.pem`, or `ca.cert.pem`
 *   equal to `ca.next.cert.pem` (its key not yet renamed: issuing refuses,
 *   naming the interrupted switch), or the next files partly removed, or
 *   service certificates of the old CA left: `switch` again goes on from there.
 */

/** Where a rotation stands, read from which CA files are there. */
export type CaRotationState =
  /** No next or previous CA (a stray next key, from a begin that crashed, counts as none). */
  | 'none'
  /** `begin` done: a next CA trusted beside the current one. */
  | 'begun'
  /** `switch` interrupted: the next CA's files are there and the previous one's or the swap began. */
  | 'switching'
  /** `switch` done: the previous CA still trusted. */
  | 'switched';

/** The rotation's state in the folder (which files there are, and whether the swap began). */
export async function caRotationState(dataDir: string): Promise<CaRotationState> {
  const rotation = caRotationPathsOf(dataDir);
  const current = await loadDeploymentCaCertificate(dataDir, new Date(0));
  const hasNextCert = await exists(rotation.next.certPath);
  const hasPrevious = await exists(rotation.previousCertPath);
  if (hasNextCert) {
    const next = parseCertificate(rotation.next.certPath, await readText(rotation.next.certPath));
    const swapped = next.fingerprint256 === current.certificate.fingerprint256;
    return hasPrevious || swapped ? 'switching' : 'begun';
  }
  return hasPrevious ? 'switched' : 'none';
}

const ca = (verb: string) => `\`mpay pki ca ${verb}\``;

function outOfOrder(message: string): MpayError {
  return new MpayError('PKI_INVALID', message);
}

/** What `mpay pki ca begin|switch|retire` reports. */
export interface CaRotationReport {
  readonly step: 'begin' | 'switch' | 'retire';
  /** The files written (or, for retire, removed). */
  readonly paths: readonly string[];
  /** switch: every service certificate reissued by the new CA. */
  readonly services?: EnsureReport['services'];
}

/**
 * Step 1: a next CA beside the current one, with the current one's name
 * constraints (copied subtree by subtree) and the same subject scheme, a new
 * key and label, valid from `now`. A current CA without name constraints
 * (made by an older mpay) is followed by a constrained one: localhost,
 * loopback, the hosts of the folder's service certificates and
 * `options.permitted` (`--permit`, refused with a constrained current CA:
 * its constraints are copied). Refused (PKI_INVALID) while a rotation is
 * under way.
 */
export async function beginCaRotation(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const limits = createPkiLimits(options.limits);
  const current = await loadDeploymentCaCertificate(dataDir, now);
  const state = await caRotationState(dataDir);
  const rotation = caRotationPathsOf(dataDir);
  if (state === 'begun')
    throw outOfOrder(`${rotation.next.certPath}: a rotation has begun already (${ca('switch')} is next)`);
  if (state === 'switching')
    throw outOfOrder(`${rotation.next.certPath}: a ${ca('switch')} was interrupted: run it again`);
  if (state === 'switched')
    throw outOfOrder(
      `${rotation.previousCertPath}: the previous CA is still trusted: ${ca('retire')} it before a new rotation`,
    );
  let constraints: Pick<Parameters<typeof createDeploymentCa>[0], 'permitted' | 'permittedSubtrees'>;
  const set = current.nameConstraints;
  if (set !== undefined) {
    if (set.excluded.length > 0 || set.permitted.some((subtree) => subtree.type === 'other')) {
      throw new MpayError(
        'PKI_INVALID',
        `${caPathsOf(dataDir).certPath}: its name constraints (${[...set.permitted, ...set.excluded]
          .map(describeSubtree)
          .join(', ')}) are not ones mpay writes: they cannot be copied to the next CA`,
      );
    }
    if ((options.permitted?.hosts ?? []).length + (options.permitted?.ipRanges ?? []).length > 0)
      throw new MpayError(
        'PKI_INVALID',
        `${caPathsOf(dataDir).certPath}: the next CA copies this CA's name constraints (${set.permitted
          .map(describeSubtree)
          .join(', ')}); names to permit are for replacing a CA without them`,
      );
    constraints = { permittedSubtrees: set.permitted };
  } else {
    if (options.permitted !== undefined) checkOperatorPermitted(options.permitted);
    const hosts: string[] = [];
    for (const { institution, service } of await serviceFilesOf(dataDir)) {
      const { certPath } = servicePathsOf(dataDir, institution, service);
      hosts.push(...extraHostsOf(parseCertificate(certPath, await readText(certPath))));
    }
    const permitted: PermittedNames = {
      hosts: [...new Set([...(options.permitted?.hosts ?? []), ...hosts])],
      ipRanges: options.permitted?.ipRanges ?? [],
    };
    constraints = { permitted };
  }
  const pair = await createDeploymentCa({
    now,
    label: randomBytes(4).toString('hex'),
    limits,
    ...constraints,
  });
  // The key first: a crash before the certificate leaves a stray key, no rotation (state 'none').
  await writePair(rotation.next, pair);
  return { step: 'begin', paths: [rotation.next.keyPath, rotation.next.certPath] };
}

/**
 * Step 2: the next CA becomes the current one and reissues every service
 * certificate (keeping its host names); the old CA's certificate stays
 * trusted as `ca.previous.cert.pem`, its key is replaced by the next one's
 * and so gone. Refused without a `begin`. Run again after a crash, it goes
 * on from where it stopped.
 */
export async function switchCa(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const state = await caRotationState(dataDir);
  const paths = caPathsOf(dataDir);
  const rotation = caRotationPathsOf(dataDir);
  if (state === 'none')
    throw outOfOrder(`${rotation.next.certPath}: missing: no next CA to switch to (${ca('begin')} first)`);
  if (state === 'switched')
    throw outOfOrder(
      `${rotation.previousCertPath}: the switch is done (${ca('retire')} is next; \`mpay pki rotate\` reissues what the old CA still signs)`,
    );
  const current = await loadDeploymentCaCertificate(dataDir, now);
  const nextCertPem = await readText(rotation.next.certPath);
  const next = parseCertificate(rotation.next.certPath, nextCertPem);
  if (!next.ca) throw new MpayError('PKI_INVALID', `${rotation.next.certPath}: not a CA certificate`);
  if (new Date(next.validTo).getTime() <= now.getTime())
    throw new MpayError('PKI_INVALID', `${rotation.next.certPath}: the CA expired on ${next.validTo}`);
  const swapped = next.fingerprint256 === current.certificate.fingerprint256;
  // The current key already the next CA's (a switch stopped after the key's rename): the next key may be gone.
  const currentKeyIsNext =
    swapped &&
    (await exists(paths.keyPath)) &&
    next.checkPrivateKey(parseKey(paths.keyPath, await readText(paths.keyPath)));
  let nextKeyPem: string | undefined;
  if (!currentKeyIsNext) {
    nextKeyPem = await readText(rotation.next.keyPath);
    if (!next.checkPrivateKey(parseKey(rotation.next.keyPath, nextKeyPem)))
      throw new MpayError(
        'PKI_INVALID',
        `${rotation.next.keyPath}: not the key of ${rotation.next.certPath}`,
      );
  }
  // Every service certificate's names checked against the new CA before any file changes.
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    const hosts = extraHostsOf(parseCertificate(certPath, await readText(certPath)));
    checkNamesPermitted(nameConstraintsOf(nextCertPem), { hosts, ipAddresses: [] }, rotation.next.certPath);
  }
  const written: string[] = [];
  if (!swapped) {
    // 1. The old certificate kept as the previous CA (a crash: previous = current, 'switching').
    if (await exists(rotation.previousCertPath)) {
      const previous = parseCertificate(rotation.previousCertPath, await readText(rotation.previousCertPath));
      if (previous.fingerprint256 !== current.certificate.fingerprint256)
        throw new MpayError(
          'PKI_INVALID',
          `${rotation.previousCertPath}: neither the current CA nor the next one (a CA from elsewhere): delete this file, then run ${ca('switch')} again`,
        );
    } else await writeAtomically(rotation.previousCertPath, current.certPem, 0o644);
    written.push(rotation.previousCertPath);
    // 2. The certificate (a crash: current = next, the key still the old one's: issuing refuses, naming this).
    await writeAtomically(paths.certPath, nextCertPem, 0o644);
    written.push(paths.certPath);
  }
  if (nextKeyPem !== undefined) {
    // 3. The key: the rename replaces the old CA's key, which nothing reads again.
    await writeAtomically(paths.keyPath, nextKeyPem, 0o600);
    written.push(paths.keyPath);
  }
  // 4. The next files, the key first (a crash: the next certificate alone, equal to the current one).
  await rm(rotation.next.keyPath, { force: true });
  await rm(rotation.next.certPath, { force: true });
  // 5. Every service certificate by the new CA (a crash: `switch` refuses as done; `mpay pki rotate` or `mpay up` finish).
  const report = await rotateDeploymentPki(dataDir, options);
  return {
    step: 'switch',
    paths: written,
    services: report.services.map((entry) => ({ ...entry, reason: 'ca-switch' })),
  };
}

/**
 * Step 3: the previous CA no longer trusted (`ca.previous.cert.pem`
 * removed). Refused (PKI_INVALID naming them) while a service certificate of
 * the folder is still the previous CA's: it would no longer be trusted.
 */
export async function retireCa(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const state = await caRotationState(dataDir);
  const rotation = caRotationPathsOf(dataDir);
  if (state === 'none')
    throw outOfOrder(
      `${rotation.previousCertPath}: missing: no previous CA to retire (a rotation starts with ${ca('begin')})`,
    );
  if (state === 'begun')
    throw outOfOrder(`${rotation.next.certPath}: the rotation has not switched yet (${ca('switch')} first)`);
  if (state === 'switching')
    throw outOfOrder(`${rotation.next.certPath}: a ${ca('switch')} was interrupted: run it again first`);
  await loadDeploymentCaCertificate(dataDir, now);
  const previous = parseCertificate(rotation.previousCertPath, await readText(rotation.previousCertPath));
  const stale: string[] = [];
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    if (isIssuedBy(parseCertificate(certPath, await readText(certPath)), previous)) stale.push(certPath);
  }
  if (stale.length > 0) {
    throw new MpayError(
      'PKI_INVALID',
      `${rotation.previousCertPath}: still the issuer of ${stale.join(', ')}: reissue them first (\`mpay pki rotate\`)`,
    );
  }
  await rm(rotation.previousCertPath, { force: true });
  return { step: 'retire', paths: [rotation.previousCertPath] };
}
