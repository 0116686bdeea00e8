import { randomBytes, type X509Certificate } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import { createDeploymentCa } from './ca.ts';
import { signCaProof, verifyCaProof } from './ca-proof.ts';
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
  loadDeploymentCa,
  loadDeploymentCaCertificate,
  otherCaStatus,
  type PkiOptions,
  parseCertificate,
  parseKey,
  readText,
  reissueEveryCertificate,
  removeFile,
  serviceFilesOf,
  servicePathsOf,
  withPkiWriter,
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
 *    `ca.next.{key,cert}.pem`, and `ca.next.proof.json`: the current CA's
 *    signed statement that this certificate is its next CA (./ca-proof.ts).
 *    Every service trusts both from its reload on; nothing is reissued.
 * 2. `switch`: the next CA becomes the current one (`ca.{key,cert}.pem`),
 *    the old certificate is kept as `ca.previous.cert.pem` with
 *    `ca.previous.proof.json` (the new CA's statement that it is its
 *    previous CA), the old key is gone (the next key's rename replaces it),
 *    and every service certificate is reissued by the new CA. Both are still
 *    trusted.
 * 3. `retire`: `ca.previous.cert.pem` and its proof removed: only the new CA
 *    is trusted. Refused while a service certificate of the folder is still
 *    the old CA's.
 *
 * A CA other than the current one is trusted only with its proof, checked
 * against the CA that issues now (loadDeploymentTrust): a certificate
 * dropped into the folder is not. Each step holds the folder's lock
 * (./lock.ts). Every file is written to a temporary name, synced and
 * renamed. A crash leaves one of the states below, each of which the trust
 * bundle reads as old + new (with their proofs), and the step run again
 * finishes:
 *
 * - begin: `ca.next.key.pem` without its certificate, or both without the
 *   proof: no rotation yet (an unproven next CA is not trusted); `begin`
 *   again makes a new pair.
 * - switch: the previous proof written (signed with the next key) and
 *   nothing else; `ca.previous.cert.pem` equal to `ca.cert.pem`; or
 *   `ca.cert.pem` equal to `ca.next.cert.pem` (its key not yet renamed:
 *   issuing refuses, naming the interrupted switch), the previous CA proven
 *   by the new one already; or the next files partly removed; or service
 *   certificates of the old CA left: `switch` again goes on from there.
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

/**
 * The rotation's state in the folder at `now` (which files there are,
 * whether the swap began, and whether the next CA is proven): a next CA
 * without a valid proof (a `begin` cut short before its proof, a rotation
 * begun by an mpay before proofs, a file from elsewhere) is no rotation,
 * 'none', as a stray next key is.
 */
export async function caRotationState(dataDir: string, now: Date = new Date()): Promise<CaRotationState> {
  const rotation = caRotationPathsOf(dataDir);
  const current = await loadDeploymentCaCertificate(dataDir, new Date(0));
  const hasNextCert = await exists(rotation.next.certPath);
  const hasPrevious = await exists(rotation.previousCertPath);
  if (hasNextCert) {
    const next = parseCertificate(rotation.next.certPath, await readText(rotation.next.certPath));
    const swapped = next.fingerprint256 === current.certificate.fingerprint256;
    if (hasPrevious || swapped) return 'switching';
    return (await otherCaStatus(dataDir, 'next', current.certificate, now))?.trusted === true
      ? 'begun'
      : 'none';
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
  /** What the operator should know (a previous CA that could not be proven): one line each. */
  readonly warnings?: readonly string[];
}

/**
 * The DNS names a next CA after one without name constraints permits
 * besides the defaults: `--permit` and the hosts of the folder's service
 * certificates, each under the checks an operator's `--permit` gets
 * (checkOperatorPermitted: at least two labels, so that a leaf's `internal`
 * or `com` cannot become a constraint permitting a whole domain).
 */
async function hostsCarriedOver(
  dataDir: string,
  permitted: PermittedNames | undefined,
): Promise<PermittedNames> {
  if (permitted !== undefined) checkOperatorPermitted(permitted);
  const hosts: string[] = [];
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    for (const host of extraHostsOf(parseCertificate(certPath, await readText(certPath)))) {
      try {
        checkOperatorPermitted({ hosts: [host] });
      } catch (error) {
        throw new MpayError(
          'PKI_INVALID',
          `${certPath}: its host ${JSON.stringify(host)} cannot be permitted by the next CA (${(error as Error).message.replace(/^pki: --permit "[^"]*" /, '')}): reissue it without that host (\`mpay pki issue ${institution} ${service} --host …\`) before ${ca('begin')}`,
          { cause: error },
        );
      }
      hosts.push(host);
    }
  }
  return {
    hosts: [...new Set([...(permitted?.hosts ?? []), ...hosts])],
    ipRanges: permitted?.ipRanges ?? [],
  };
}

/**
 * Step 1: a next CA beside the current one, with the current one's name
 * constraints (copied subtree by subtree) and the same subject scheme, a new
 * key and label, valid from `now`, and the current CA's proof of it
 * (`ca.next.proof.json`). A current CA without name constraints (made by an
 * older mpay) is followed by a constrained one: localhost, loopback, the
 * hosts of the folder's service certificates and `options.permitted`
 * (`--permit`, refused with a constrained current CA: its constraints are
 * copied), all checked as `--permit` is. Refused (PKI_INVALID) while a
 * rotation is under way; a next CA without a valid proof is replaced. Holds
 * the folder's lock.
 */
export async function beginCaRotation(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  return withPkiWriter(dataDir, options, () => beginLocked(dataDir, options));
}

async function beginLocked(dataDir: string, options: PkiOptions): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const limits = createPkiLimits(options.limits);
  const current = await loadDeploymentCaCertificate(dataDir, now);
  const state = await caRotationState(dataDir, now);
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
    constraints = { permitted: await hostsCarriedOver(dataDir, options.permitted) };
  }
  const signer = await loadDeploymentCa(dataDir, now); // the current CA's key signs the proof
  const pair = await createDeploymentCa({
    now,
    label: randomBytes(4).toString('hex'),
    limits,
    ...constraints,
  });
  const proof = signCaProof({
    signerKeyPem: signer.pem.keyPem,
    signer: signer.certificate,
    subject: parseCertificate(rotation.next.certPath, pair.certPem),
    role: 'next',
    now,
    validityDays: limits.caProofValidityDays,
    backdateSeconds: limits.notBeforeBackdateSeconds,
  });
  // The key first, the proof last: a crash before the proof leaves an unproven next CA, no rotation (state 'none').
  await writePair(rotation.next, pair);
  await writeAtomically(rotation.next.proofPath, proof, 0o644);
  return { step: 'begin', paths: [rotation.next.keyPath, rotation.next.certPath, rotation.next.proofPath] };
}

/**
 * Step 2: the next CA becomes the current one and reissues every service
 * certificate (keeping its host names); the old CA's certificate stays
 * trusted as `ca.previous.cert.pem`, proven by the new CA
 * (`ca.previous.proof.json`, written before anything is renamed), its key is
 * replaced by the next one's and so gone. Refused without a `begin`, or when
 * the next CA's proof does not verify under the current CA. Run again after
 * a crash, it goes on from where it stopped. Holds the folder's lock.
 */
export async function switchCa(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  return withPkiWriter(dataDir, options, () => switchLocked(dataDir, options));
}

async function switchLocked(dataDir: string, options: PkiOptions): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const limits = createPkiLimits(options.limits);
  const state = await caRotationState(dataDir, now);
  const paths = caPathsOf(dataDir);
  const rotation = caRotationPathsOf(dataDir);
  if (state === 'none') {
    throw outOfOrder(
      (await exists(rotation.next.certPath))
        ? `${rotation.next.certPath}: not proven by the current CA (${(await otherCaStatus(dataDir, 'next', (await loadDeploymentCaCertificate(dataDir, now)).certificate, now))?.why ?? 'no proof'}): run ${ca('begin')} again, which replaces it by a next CA with its proof`
        : `${rotation.next.certPath}: missing: no next CA to switch to (${ca('begin')} first)`,
    );
  }
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
  if (!swapped) {
    // Never switch to a CA the current one did not make the next one (a certificate and key dropped here).
    const proven = await otherCaStatus(dataDir, 'next', current.certificate, now);
    if (proven?.trusted !== true)
      throw new MpayError(
        'PKI_INVALID',
        `${rotation.next.certPath}: not proven by the current CA (${proven?.why ?? 'no proof'}): delete the next CA's files (${rotation.next.keyPath}, ${rotation.next.certPath}, ${rotation.next.proofPath}${(await exists(rotation.previousCertPath)) ? `, ${rotation.previousCertPath}` : ''}), then run ${ca('begin')}`,
      );
  }
  // The current key already the next CA's (a switch stopped after the key's rename): the next key may be gone.
  const currentKeyIsNext =
    swapped &&
    (await exists(paths.keyPath)) &&
    next.checkPrivateKey(parseKey(paths.keyPath, await readText(paths.keyPath)));
  const newKeyPem = currentKeyIsNext ? await readText(paths.keyPath) : await readText(rotation.next.keyPath);
  if (!currentKeyIsNext && !next.checkPrivateKey(parseKey(rotation.next.keyPath, newKeyPem)))
    throw new MpayError('PKI_INVALID', `${rotation.next.keyPath}: not the key of ${rotation.next.certPath}`);
  // Every service certificate's names checked against the new CA before any file changes.
  for (const { institution, service } of await serviceFilesOf(dataDir)) {
    const { certPath } = servicePathsOf(dataDir, institution, service);
    const hosts = extraHostsOf(parseCertificate(certPath, await readText(certPath)));
    checkNamesPermitted(nameConstraintsOf(nextCertPem), { hosts, ipAddresses: [] }, rotation.next.certPath);
  }
  const written: string[] = [];
  const warnings: string[] = [];
  if (!swapped) {
    // 0. The new CA's proof of the old one as previous, before anything is renamed: from the certificate's
    //    rename on, the old CA is trusted through it (a crash: a proof of a certificate not there yet, unused).
    if (await exists(rotation.previousCertPath)) {
      const previous = parseCertificate(rotation.previousCertPath, await readText(rotation.previousCertPath));
      if (previous.fingerprint256 !== current.certificate.fingerprint256)
        throw new MpayError(
          'PKI_INVALID',
          `${rotation.previousCertPath}: neither the current CA nor the next one (a CA from elsewhere): delete this file, then run ${ca('switch')} again`,
        );
    }
    await writeAtomically(
      rotation.previousProofPath,
      signCaProof({
        signerKeyPem: newKeyPem,
        signer: next,
        subject: current.certificate,
        role: 'previous',
        now,
        validityDays: limits.caProofValidityDays,
        backdateSeconds: limits.notBeforeBackdateSeconds,
      }),
      0o644,
    );
    written.push(rotation.previousProofPath);
    // 1. The old certificate kept as the previous CA (a crash: previous = current, 'switching').
    if (!(await exists(rotation.previousCertPath)))
      await writeAtomically(rotation.previousCertPath, current.certPem, 0o644);
    written.push(rotation.previousCertPath);
    // 2. The certificate (a crash: current = next, the key still the old one's: issuing refuses, naming this).
    await writeAtomically(paths.certPath, nextCertPem, 0o644);
    written.push(paths.certPath);
  } else {
    warnings.push(...(await previousUnproven(dataDir, next, now)));
  }
  if (!currentKeyIsNext) {
    // 3. The key: the rename replaces the old CA's key, which nothing reads again.
    await writeAtomically(paths.keyPath, newKeyPem, 0o600);
    written.push(paths.keyPath);
  }
  // 4. The next files, the key first, the proof last (a crash: the next certificate alone, equal to the current one).
  await removeFile(rotation.next.keyPath);
  await removeFile(rotation.next.certPath);
  await removeFile(rotation.next.proofPath);
  // 5. Every service certificate by the new CA (a crash: `switch` refuses as done; `mpay pki rotate` or `mpay up` finish).
  const report = await reissueEveryCertificate(dataDir, options);
  return {
    step: 'switch',
    paths: written,
    services: report.services.map((entry) => ({ ...entry, reason: 'ca-switch' })),
    ...(warnings.length === 0 ? {} : { warnings }),
  };
}

/**
 * A switch resumed after the certificate's rename: the previous CA was proven
 * by the new one before that rename, unless an mpay before proofs made the
 * switch. Its proof is not made now (the old CA no longer issues, and
 * nothing tells the file is the one this rotation began from): a warning.
 */
async function previousUnproven(dataDir: string, current: X509Certificate, now: Date): Promise<string[]> {
  const rotation = caRotationPathsOf(dataDir);
  if (!(await exists(rotation.previousCertPath))) return [];
  const previous = parseCertificate(rotation.previousCertPath, await readText(rotation.previousCertPath));
  const proofText = (await exists(rotation.previousProofPath))
    ? await readText(rotation.previousProofPath)
    : undefined;
  const proof = verifyCaProof(proofText, { signer: current, subject: previous, role: 'previous', now });
  if (proof.valid) return [];
  return [
    `${rotation.previousCertPath}: not trusted (${proof.why}): certificates of the old CA are refused from now on; reissue them (\`mpay pki rotate\`, and copy them to other machines)`,
  ];
}

/**
 * Step 3: the previous CA no longer trusted (`ca.previous.cert.pem` and its
 * proof removed). Refused (PKI_INVALID naming them) while a service
 * certificate of the folder is still the previous CA's: it would no longer
 * be trusted. Holds the folder's lock.
 */
export async function retireCa(dataDir: string, options: PkiOptions = {}): Promise<CaRotationReport> {
  return withPkiWriter(dataDir, options, () => retireLocked(dataDir, options));
}

async function retireLocked(dataDir: string, options: PkiOptions): Promise<CaRotationReport> {
  const now = options.now ?? new Date();
  const state = await caRotationState(dataDir, now);
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
  // The certificate first: a crash leaves a proof of nothing, never a previous CA without its proof.
  await removeFile(rotation.previousCertPath);
  await removeFile(rotation.previousProofPath);
  return { step: 'retire', paths: [rotation.previousCertPath, rotation.previousProofPath] };
}
