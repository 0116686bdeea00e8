import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { type FetchFunction, fetchSource, setFetchSource } from '@mpay/http-client';
import type { ServerTls } from '@mpay/http-server';
import {
  caPathsOf,
  checkServiceTlsMaterial,
  createCaTrustAgent,
  type InstitutionRoutes,
  isRevoked,
  loadCaTrustBundle,
  loadDeploymentTrustWithRevocations,
  loadRevokedSerials,
  loadServiceTls,
  type PresentedCertificate,
  presentedCertificateOf,
  type ServiceTls,
  type ServiceTlsMaterial,
  servicePathsOf,
  serviceTlsOf,
  tlsClientScope,
  tlsFetch,
} from '@mpay/pki';
import { MpayError } from '@mpay/protocol';
import { platformInstitutions } from '../commands/pki-platform.ts';
import { type BankId, bankIds } from './banks.ts';

/**
 * The platform's services, each with the institution whose certificate it
 * holds; `web` (the pages and the API proxy), `smtp` (the embedded mail
 * server) and `sms` (the embedded SMS gateway) serve only, with server TLS.
 */
export type PlatformTlsService =
  | 'gateway'
  | 'custody'
  | 'log'
  | 'witness'
  | 'shop'
  | 'web'
  | 'smtp'
  | 'sms'
  | BankId;

/** The routes of a bank that an institution calls with the request signed in its body, not in an Authorization header. */
export const interbankRoutePrefixes = Object.freeze([
  '/interbank/funds-transfers',
  '/interbank/refund-transfers',
]);

/** The witness's route the log calls (its note is signed by the log; the port asks for the log's certificate). */
export const witnessRoutePrefixes = Object.freeze(['/add-checkpoint']);

/**
 * TLS for every port of the platform and every call between its services,
 * from `<dataDir>/pki` (ensurePlatformPki made it):
 *
 * - the gateway, the banks, custody and the log serve devices, merchants and
 *   the public as well as institutions: their ports ask for a client
 *   certificate without demanding one, and a request signed as one of the
 *   deployment's institutions (or a bank's interbank route) is refused
 *   unless its certificate is of the deployment's CA and names that
 *   institution (@mpay/pki's sharedServerTls);
 * - the witness: its cosigning route (the log's call) needs a certificate
 *   of the deployment, its reads none; the merchant shop, the web pages,
 *   the embedded SMTP server and SMS gateway: server TLS only (browsers,
 *   the demo, the platform's own mailer and sender);
 * - every service calls out with its own certificate and the CA as its only
 *   trust anchor (the services of one process each in their own
 *   tlsClientScope); anything else in the process (the seed, the web proxy,
 *   the operator console) with the CA and no certificate.
 */
export interface PlatformTls {
  /**
   * The deployment's trust bundle, PEM (the current CA, plus the next or the
   * previous one during a CA rotation; the one of the last reload), and the
   * current CA's path (for deployment.json and the banner).
   */
  readonly caPem: string;
  readonly caPath: string;
  /** The `tls` option of that service's server (its key and certificate, PEM, for the SMTP server too). */
  server(service: PlatformTlsService): ServerTls;
  /** Runs `work` (a service's creation, listen and start) so that its outgoing calls present its certificate. */
  scope<T>(service: PlatformTlsService, work: () => T): T;
  /** The fetch of this process outside any service: the CA trusted, no certificate presented. */
  readonly fetch: FetchFunction;
  /**
   * The serials the deployment's CAs have revoked, as of the last load or
   * reload, never fewer than before (see `keptRevocations`): for a client
   * this module does not make (the gateway's mailer).
   */
  readonly revokedSerials: ReadonlySet<string>;
  /**
   * Reads every loaded service's key and certificate again from
   * `<dataDir>/pki` (after `mpay pki rotate`) with the checks of the start
   * (present, the key the certificate's, issued by the deployment's CA,
   * valid at `now`) and switches every server built with `server(service)`
   * and every service's client to them: the connections and calls to come
   * present the new certificates, open ones finish with theirs. All or
   * nothing: one file that fails a check refuses the reload (PKI_INVALID
   * naming the file) and every service keeps its certificate. The trust
   * bundle is read again too (a CA rotation: `mpay pki ca begin|switch|
   * retire`); one that shares no CA with the bundle in use is refused (a
   * CA replaced outside a rotation needs a restart: PKI_INVALID). Reloads
   * run one after the other. Resolves with each service's certificate
   * before and after (the same when its files did not change).
   */
  reload(now?: Date): Promise<readonly TlsReloadChange[]>;
  /** Unregisters the fetch source and closes every agent. */
  close(): Promise<void>;
}

/** One service's certificate before and after a reload. */
export interface TlsReloadChange {
  readonly service: PlatformTlsService;
  /** The institution whose certificate it is (fsp.mpay, xbank, …). */
  readonly institution: string;
  readonly previous: PresentedCertificate;
  readonly current: PresentedCertificate;
  /** How many CAs it trusts after the reload: 2 during a CA rotation. */
  readonly trustedCas?: number;
  /** How many certificates its CAs have revoked after the reload (`mpay pki revoke`): peers refused. */
  readonly revokedCertificates?: number;
}

/** What `mpay up` prints of a reload: one line per service. */
export function describeTlsReload(changes: readonly TlsReloadChange[]): string[] {
  return changes.map((change) => {
    const { previous, current } = change;
    const what =
      previous.fingerprint256 === current.fingerprint256
        ? `certificate ${current.serialNumber} unchanged`
        : `certificate ${previous.serialNumber} → ${current.serialNumber}`;
    const trust =
      change.trustedCas !== undefined && change.trustedCas > 1
        ? `, trusting ${change.trustedCas} CAs (a CA rotation)`
        : '';
    const revoked =
      change.revokedCertificates !== undefined && change.revokedCertificates > 0
        ? `, refusing ${change.revokedCertificates} revoked`
        : '';
    return `TLS reloaded: ${change.service} (${change.institution}) ${what}, valid until ${current.notAfter.toISOString()}${trust}${revoked}`;
  });
}

/** What `mpay up` prints when a reload is refused. */
export function describeTlsReloadRefusal(error: unknown): string {
  const why = error instanceof MpayError ? `${error.code} ${error.detail ?? error.message}` : String(error);
  return `TLS reload refused, the old certificates stay in use: ${why}`;
}

/**
 * The signals that tell a TLS `mpay up` (and each `--processes` child) to
 * reload its certificates: SIGUSR2, the explicit one (`mpay pki rotate` and
 * `issue` send it; a terminal never does), and SIGHUP, as before, for
 * operators used to it (a dying SSH session sends it too: a reload then,
 * never the end of the platform).
 */
export const tlsReloadSignals = Object.freeze(['SIGUSR2', 'SIGHUP'] as const);

/**
 * Runs `onSignal` on each reload signal (`tlsReloadSignals`). Returns the
 * function that stops listening. While it listens, neither signal ends the process.
 */
export function onTlsReloadSignal(onSignal: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of tlsReloadSignals) process.on(signal, onSignal);
  return () => {
    for (const signal of tlsReloadSignals) process.off(signal, onSignal);
  };
}

/**
 * `mpay up` (and each `--processes` child): on a reload signal (SIGUSR2 or
 * SIGHUP), reloads `tls` and tells `report` one line per service, or why the
 * reload was refused (the old certificates stay in use). Returns the
 * function that stops listening.
 */
export function reloadTlsOnSignal(
  tls: Pick<PlatformTls, 'reload'>,
  report: (line: string, refused: boolean) => void,
): () => void {
  return onTlsReloadSignal(() => {
    tls.reload().then(
      (changes) => {
        for (const line of describeTlsReload(changes)) report(line, false);
      },
      (error: unknown) => report(describeTlsReloadRefusal(error), true),
    );
  });
}

/**
 * `mpay up` (TLS or not) from its first step to its last: a reload signal (SIGUSR2,
 * what `mpay pki rotate` sends, or SIGHUP, which also reloads the gateway limits) must never end it, not while it
 * starts (deployment.json may already name this pid) nor while it stops,
 * when no reload listens. Returns the release, for after the close.
 */
export function holdHangups(): () => void {
  return onTlsReloadSignal(() => undefined);
}

/**
 * The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat,
 * field 22), which tells a process from a later one that got its pid;
 * undefined where it cannot be read (no such process, not Linux).
 */
export async function processStartTicks(pid: number | 'self'): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses; the fields after the last ')' start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields[19];
  return ticks !== undefined && /^[0-9]+$/.test(ticks) ? ticks : undefined;
}

function holderOf(service: PlatformTlsService): { institution: string; service: string } {
  switch (service) {
    case 'gateway':
      return { institution: 'fsp.mpay', service: 'gateway' };
    case 'custody':
      return { institution: 'custody.mpay', service: 'custody' };
    case 'log':
      return { institution: 'log.mpay', service: 'log' };
    case 'witness':
      return { institution: 'witness.mpay', service: 'witness' };
    case 'shop':
      return { institution: 'merkur.trade', service: 'shop' };
    case 'web':
      return { institution: 'web.mpay', service: 'web' };
    case 'smtp':
      return { institution: 'mail.mpay', service: 'smtp' };
    case 'sms':
      return { institution: 'sms.mpay', service: 'sms' };
    default:
      return { institution: service, service: 'bank' };
  }
}

/** Where a process says what the operator should know (a CA file left out of the trust bundle): the standard error. */
const warnOnStderr = (line: string): void => {
  process.stderr.write(`mpay: warning: ${line}\n`);
};

/**
 * Loads every service's TLS from `<dataDir>/pki` and registers this
 * process's fetch source (@mpay/http-client): a service's own client inside
 * its scope, the CA-only client elsewhere. One platform with TLS per process.
 * The trust bundle's warnings (a next or previous CA left out: no proof,
 * expired, …) go to `warn` once at this load and once at each reload.
 */
export async function loadPlatformTls(
  dataDir: string,
  services: readonly PlatformTlsService[],
  now: Date = new Date(),
  warn: (line: string) => void = warnOnStderr,
): Promise<PlatformTls> {
  // Certificates only (services never read a CA's key), and the revocation lists, once for every service.
  const loadedTrust = await loadDeploymentTrustWithRevocations(dataDir, now);
  const { trust } = loadedTrust;
  for (const warning of trust.warnings) warn(warning);
  let revokedSerials = loadedTrust.revokedSerials;
  const institutions = platformInstitutions.map((institution) => institution.id);
  const loaded = new Map<PlatformTlsService, ServiceTls>();
  for (const service of services) {
    const holder = holderOf(service);
    const routes: 'public' | InstitutionRoutes =
      service === 'shop' || service === 'web' || service === 'smtp' || service === 'sms'
        ? 'public'
        : service === 'witness'
          ? { institutions, pathPrefixes: witnessRoutePrefixes, pathPrefixPeers: ['log.mpay'] }
          : service === 'gateway' || service === 'custody' || service === 'log'
            ? { institutions }
            : { institutions, pathPrefixes: interbankRoutePrefixes, pathPrefixPeers: bankIds };
    const tls = await serviceTlsOf(dataDir, holder.institution, holder.service, routes, now, loadedTrust);
    warnIfOwnRevoked(tls.material, dataDir, warn);
    loaded.set(service, tls);
  }
  // The process's client without a certificate: the same function for its whole life, its agent
  // (and trust bundle) switched by a reload; the old agent closes once its calls are done.
  let caPem = trust.certPem;
  let anonymous = createCaTrustAgent(caPem, {}, { revokedSerials });
  let anonymousFetch = tlsFetch(anonymous);
  const retired: Promise<void>[] = [];
  const fetch: FetchFunction = (url, init) => anonymousFetch(url, init);
  // The process's source until close, which puts back the one it replaced unless another came since.
  const replaced = fetchSource();
  const ours = () => tlsClientScope.source() ?? fetch;
  setFetchSource(ours);
  const of = (service: PlatformTlsService): ServiceTls => {
    const tls = loaded.get(service);
    if (tls === undefined) throw new Error(`platform TLS: ${service} was not loaded`);
    return tls;
  };
  let reloading: Promise<unknown> = Promise.resolve();
  return {
    get caPem() {
      return caPem;
    },
    caPath: caPathsOf(dataDir).certPath,
    server: (service) => of(service).server,
    // The service's fetch is one function for its whole life: a reload switches the agent behind it.
    scope: (service, work) => tlsClientScope.run(of(service).fetch, work),
    fetch,
    get revokedSerials() {
      return revokedSerials;
    },
    reload(now = new Date()) {
      const run = reloading.then(async () => {
        const result = await reloadAll(dataDir, caPem, revokedSerials, loaded, now, warn);
        if (result.caPem !== caPem || !sameSerials(revokedSerials, result.revokedSerials)) {
          const old = anonymous;
          revokedSerials = result.revokedSerials;
          anonymous = createCaTrustAgent(result.caPem, {}, { revokedSerials });
          anonymousFetch = tlsFetch(anonymous);
          caPem = result.caPem;
          retired.push(old.close().catch(() => undefined));
        }
        return result.changes;
      });
      reloading = run.catch(() => undefined);
      return run;
    },
    async close() {
      if (fetchSource() === ours) setFetchSource(replaced);
      await Promise.all([anonymous.close(), ...retired, ...[...loaded.values()].map((tls) => tls.close())]);
    },
  };
}

/** The certificates of a PEM bundle (node:tls's `ca` string), by SHA-256 fingerprint. */
function fingerprintsOf(bundlePem: string): Set<string> {
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return new Set(blocks.map((block) => new X509Certificate(block).fingerprint256));
}

/** Whether two revocation sets name the same serials (absent: none). */
function sameSerials(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  const [left, right] = [a ?? new Set<string>(), b ?? new Set<string>()];
  return left.size === right.size && [...left].every((serial) => right.has(serial));
}

/** PlatformTls.reload: every file read and checked first, then every service switched (back again if one refuses). */
async function reloadAll(
  dataDir: string,
  caPem: string,
  revokedBefore: ReadonlySet<string>,
  loaded: ReadonlyMap<PlatformTlsService, ServiceTls>,
  now: Date,
  warn: (line: string) => void,
): Promise<{ caPem: string; revokedSerials: ReadonlySet<string>; changes: TlsReloadChange[] }> {
  const loadedTrust = await loadDeploymentTrustWithRevocations(dataDir, now);
  const { trust } = loadedTrust;
  for (const warning of trust.warnings) warn(warning);
  const revokedSerials = keptRevocations(
    revokedBefore,
    loadedTrust.revokedSerials,
    trust.anchors.length < fingerprintsOf(caPem).size,
    warn,
  );
  // Each step of a CA rotation keeps one CA of the bundle before it trusted: a bundle sharing none is another deployment's.
  const inUse = fingerprintsOf(caPem);
  if (!trust.anchors.some((anchor) => inUse.has(anchor.certificate.fingerprint256))) {
    throw new MpayError(
      'PKI_INVALID',
      `${caPathsOf(dataDir).certPath}: none of the CAs the platform trusts now (a CA replaced outside \`mpay pki ca begin|switch\` needs a restart)`,
    );
  }
  const fresh: { service: PlatformTlsService; tls: ServiceTls; material: ServiceTlsMaterial }[] = [];
  for (const [service, tls] of loaded) {
    const holder = holderOf(service);
    // Every service refuses what the platform has refused so far (keptRevocations), whatever its lists say now.
    const material = {
      ...(await loadServiceTls(dataDir, holder.institution, holder.service, now, loadedTrust)),
      revokedSerials,
    };
    checkServiceTlsMaterial(material, servicePathsOf(dataDir, holder.institution, holder.service).certPath);
    warnIfOwnRevoked(material, dataDir, warn);
    fresh.push({ service, tls, material });
  }
  const switched: { tls: ServiceTls; previous: ServiceTlsMaterial }[] = [];
  const changes: TlsReloadChange[] = [];
  try {
    for (const { service, tls, material } of fresh) {
      const previous = tls.material;
      // Files not rewritten since: nothing to switch (the agent and its open connections stay).
      const unchanged =
        previous.certPem === material.certPem &&
        previous.keyPem === material.keyPem &&
        previous.caPem === material.caPem &&
        sameSerials(previous.revokedSerials, material.revokedSerials);
      if (!unchanged) {
        switched.push({ tls, previous });
        tls.reload(material);
      }
      changes.push({
        service,
        institution: material.institution,
        previous: presentedCertificateOf(previous.certPem),
        current: presentedCertificateOf(material.certPem),
        trustedCas: trust.anchors.length,
        revokedCertificates: material.revokedSerials?.size ?? 0,
      });
    }
  } catch (error) {
    // Not expected (every pair was checked above): put back what was switched, so that nothing changed.
    for (const { tls, previous } of switched.reverse()) {
      try {
        tls.reload(previous);
      } catch {
        // The material it served a moment ago: node:tls took it then.
      }
    }
    throw error;
  }
  return { caPem: trust.certPem, revokedSerials, changes };
}

/**
 * The serials to refuse after a reload: those of the lists now, and every one
 * refused before. A list that lost entries was removed, or replaced by an
 * older copy (a backup restored, a folder copied without its crl/); neither
 * can un-revoke a leaked certificate while the platform runs, and `warn`
 * says so. Only a restart reads the lists as they are. When the reload
 * dropped a CA from the trust bundle (`ca retire`), its serials are no longer
 * needed and may go.
 */
function keptRevocations(
  before: ReadonlySet<string>,
  now: ReadonlySet<string>,
  caRetired: boolean,
  warn: (line: string) => void,
): ReadonlySet<string> {
  const lost = [...before].filter((serial) => !now.has(serial));
  if (lost.length === 0 || caRetired) return now;
  warn(
    `the revocation lists name ${lost.length} certificate(s) fewer than before (a list removed or older): they stay refused until a restart (${lost.join(', ')})`,
  );
  return new Set([...now, ...lost]);
}

/** Says that a service's own certificate is revoked: its peers refuse it until it gets a new one. */
function warnIfOwnRevoked(material: ServiceTlsMaterial, dataDir: string, warn: (line: string) => void): void {
  if (!isRevoked(material.revokedSerials, new X509Certificate(material.certPem))) return;
  const { certPath } = servicePathsOf(dataDir, material.institution, material.service);
  warn(
    `${certPath}: revoked: the other services refuse it; \`mpay pki issue ${material.institution} ${material.service}\` (or a start) issues a new one`,
  );
}

/**
 * For a command that calls a TLS deployment (`mpay demo`, `audit`, …):
 * the process's fetch trusts the deployment's CA (and nothing else) when
 * `caPath` names it; plain HTTP URLs are fetched as before. Replaces
 * globalThis.fetch, so that every call of the process (the SDK's, the
 * http-client's, the demo's meter) goes through it. The bundle is the
 * services' (@mpay/pki's loadCaTrustBundle, the one function both use):
 * during a CA rotation the next or previous CA beside it
 * (`ca.next.cert.pem`, `ca.previous.cert.pem` in the same folder) is trusted
 * too when its proof verifies and it is a CA that has not expired; one left
 * out is said on `warn`. A current CA that is missing, not a CA or expired
 * is PKI_INVALID naming the file.
 */
export async function trustDeploymentCa(
  caPath: string,
  now: Date = new Date(),
  warn: (line: string) => void = warnOnStderr,
): Promise<void> {
  const { caPem, revokedSerials } = await deploymentTrustOf(caPath, now, warn);
  const agent = createCaTrustAgent(caPem, {}, { revokedSerials });
  globalThis.fetch = tlsFetch(agent) as typeof globalThis.fetch;
}

/**
 * What a client of a running deployment trusts: the CA bundle at `caPath`
 * (deployment.json's `tls.ca`), checked as `mpay up` checks it, and the
 * serials its revocation lists beside it refuse.
 */
export async function deploymentTrustOf(
  caPath: string,
  now: Date = new Date(),
  warn: (line: string) => void = warnOnStderr,
): Promise<{ readonly caPem: string; readonly revokedSerials: ReadonlySet<string> }> {
  const trust = await loadCaTrustBundle(caPath, now);
  for (const warning of trust.warnings) warn(warning);
  // The revocation lists beside the CA: a server presenting a revoked certificate is refused.
  const revokedSerials = await loadRevokedSerials(dirname(caPath), trust.anchors);
  return { caPem: trust.certPem, revokedSerials };
}

/**
 * Whether `mpay up` (and `--processes`) sets TLS up: on unless `--no-tls`
 * or MPAY_TLS=0 (also `false`, `off`, `no`) says otherwise.
 */
export function tlsWanted(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv): boolean {
  if (flags.has('no-tls')) return false;
  const value = env.MPAY_TLS?.trim().toLowerCase();
  return !(value === '0' || value === 'false' || value === 'off' || value === 'no');
}

/** A mailer's check (MailerOptions' refuseCertificate): the platform's revoked certificates of the last reload. */
export function refuseRevokedOf(tls: Pick<PlatformTls, 'revokedSerials'>) {
  return (certificate: PeerCertificate): string | undefined =>
    isRevoked(tls.revokedSerials, certificate) ? 'revoked by the deployment' : undefined;
}
