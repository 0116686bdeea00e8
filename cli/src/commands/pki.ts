import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  beginCaRotation,
  type CaRotationReport,
  checkOperatorPermitted,
  type EnsureReport,
  isHostName,
  issueDeploymentCertificate,
  type ListedCertificate,
  listDeploymentPki,
  type PermittedNames,
  parseIpRange,
  pkiDirOf,
  retireCa,
  revokeServiceCertificate,
  rotateDeploymentPki,
  serialKey,
  servicePathsOf,
  switchCa,
} from '@mpay/pki';
import { type Deployment, dataDirOf, deploymentProcessOf, readJson } from './deployment.ts';
import type { CommandIo } from './io.ts';
import { ensurePlatformPki } from './pki-platform.ts';

export const pkiUsage = `usage: mpay pki init|issue|revoke|rotate|ca|list [--data DIR] [--json]
  init [--permit NAME|CIDR]...  create <data>/pki: the deployment's CA and a certificate per service of the platform
                              (again: keeps what is current, reissues what expires within 30 days). The CA is
                              name-constrained: it can vouch for localhost, 127.0.0.0/8 and ::1 only, plus each
                              --permit DNS name (and the names under it) or IP range, fixed when it is created
  issue INSTITUTION SERVICE [--host NAME]... [--no-reload]   issue (or reissue) one service's certificate now;
                              a platform running from that data folder reloads it, as after rotate
  revoke INSTITUTION SERVICE [--serial HEX] [--no-reload]   revoke one service's certificate (its key may have
                              leaked): the CA's revocation list (<data>/pki/crl/<CA SHA-256>.crl.pem) names it,
                              and the service gets a new certificate with a new key; every service refuses the
                              old one, as a client and as a server, once it has reloaded (as after issue) or
                              restarted. --serial: a certificate the service had before instead (issue and rotate
                              leave the one they replace valid until it expires; issue prints its serial)
  rotate [--no-reload]        reissue every service certificate now, keeping the CA; a platform running from
                              that data folder (deployment.json's pid, an \`mpay up\` on TLS) is sent SIGUSR2 and
                              switches to them without a restart (open connections keep theirs); --no-reload: it
                              does not, they are used from its next start
  ca begin [--no-reload]      replace the CA in three steps, each reloaded as rotate is (with other machines: copy
                              <data>/pki there and reload them after each step): begin makes the next CA
                              (ca.next.*.pem, the current one's name constraints, a new key) and its proof
                              signed by the CA (ca.next.proof.json) and every service trusts both; nothing is
                              reissued; a next CA without a valid proof is replaced. After a CA without name constraints (an older
                              mpay's) the next one permits loopback, the certificates' hosts and each --permit
  ca switch [--no-reload]     the next CA becomes the CA (ca.key.pem, ca.cert.pem) and reissues every service
                              certificate; the old one stays trusted as ca.previous.cert.pem with the new CA's
                              proof (ca.previous.proof.json; its key is gone)
  ca retire [--no-reload]     stop trusting the previous CA (refused while a service certificate is still its)
  list                        the CAs (current, next, previous; whether the services trust them) and each
                              certificate's subject, names, expiry and days left
A command that writes <data>/pki holds <data>/pki/pki.lock: another one meanwhile is PKI_BUSY.
`;

interface PkiArguments {
  readonly positional: string[];
  readonly flags: Map<string, string>;
  readonly hosts: string[];
  readonly permits: string[];
}

/** `--data DIR`, `--json`, repeated `--host NAME`; anything else is an error. */
function parsePkiArguments(args: readonly string[]): PkiArguments | string {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const hosts: string[] = [];
  const permits: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const [name, inline] = arg.startsWith('--')
      ? (arg.slice(2).split('=', 2) as [string, string?])
      : ['', ''];
    if (name === '') positional.push(arg);
    else if ((name === 'json' || name === 'no-reload') && inline === undefined) flags.set(name, 'true');
    else if (name === 'data' || name === 'host' || name === 'permit' || name === 'serial') {
      if (inline === undefined) index += 1;
      const value = inline ?? args[index];
      if (value === undefined || value === '') return `--${name} needs a value`;
      if (name === 'data' || name === 'serial') flags.set(name, value);
      else if (name === 'host') hosts.push(value);
      else permits.push(value);
    } else return `unknown option ${arg}`;
  }
  return { positional, flags, hosts, permits };
}

/** `--permit` values as DNS names and IP ranges (an address, a CIDR: anything with a ':' or all digits and dots), or the bad one. */
function permittedNamesOf(permits: readonly string[]): PermittedNames | string {
  const hosts: string[] = [];
  const ipRanges: string[] = [];
  for (const permit of permits) {
    if (permit.includes(':') || /^[0-9./]+$/.test(permit)) {
      try {
        parseIpRange(permit);
      } catch {
        return `--permit ${JSON.stringify(permit)} is not an IP address or range (CIDR)`;
      }
      ipRanges.push(permit);
    } else if (isHostName(permit)) hosts.push(permit);
    else return `--permit ${JSON.stringify(permit)} is not a lower-case DNS name`;
  }
  try {
    checkOperatorPermitted({ hosts, ipRanges });
  } catch (error) {
    return error instanceof RangeError ? error.message.replace(/^pki: /, '') : String(error);
  }
  return { hosts, ipRanges };
}

function describeReport(report: EnsureReport, dataDir: string): string {
  const lines = [`${pkiDirOf(dataDir)}: ${report.caCreated ? 'CA created' : 'CA kept'}`];
  for (const entry of report.services) {
    const why = entry.reason === undefined ? '' : ` (${entry.reason})`;
    lines.push(`  ${entry.institution}/${entry.service}: ${entry.action}${why}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What `ca begin|switch|retire` did, one line per file and per service. */
function describeCaRotation(report: CaRotationReport): string {
  const lines = {
    begin: 'next CA created: every service trusts it beside the CA (`mpay pki ca switch` is next)',
    switch:
      'switched to the next CA: it issues from now on; the previous one stays trusted (`mpay pki ca retire` is next)',
    retire: 'previous CA retired: only the CA is trusted',
  };
  return `${[
    lines[report.step],
    ...report.paths.map((path) => `  ${report.step === 'retire' ? 'removed' : 'wrote'} ${path}`),
    ...(report.services ?? []).map(
      (entry) => `  ${entry.institution}/${entry.service}: ${entry.action} (${entry.reason ?? ''})`,
    ),
  ].join('\n')}\n`;
}

const caRoleNames = { current: 'CA', next: 'next CA', previous: 'previous CA' } as const;

function describeList(listed: readonly ListedCertificate[]): string {
  return listed
    .map((entry) =>
      [
        `${entry.role === 'ca' ? caRoleNames[entry.caRole ?? 'current'] : `${entry.institution ?? '?'}/${entry.service ?? '?'}`}  ${entry.path}`,
        `  subject:   ${entry.subject}`,
        ...(entry.role === 'ca'
          ? [
              entry.nameConstraints === null || entry.nameConstraints === undefined
                ? '  permits:   any name (no name constraints: whoever trusts it trusts it for every site)'
                : `  permits:   ${entry.nameConstraints.permitted.join(', ')} (name-constrained)`,
            ]
          : [`  names:     ${entry.subjectAltNames.join(', ') || '(none)'}`]),
        `  not after: ${entry.notAfter.toISOString()} (${entry.daysLeft} days left${entry.daysLeft < 0 ? ', EXPIRED' : ''})`,
        ...(entry.role === 'ca' && (entry.revokedCount ?? 0) > 0
          ? [`  revoked:   ${entry.revokedCount} certificate(s) on its revocation list`]
          : []),
        ...(entry.revoked === true
          ? ['  REVOKED: every service refuses it (`mpay pki issue` replaces it)']
          : []),
        ...(entry.role === 'ca' && entry.trusted === false
          ? [`  NOT TRUSTED by the services: ${entry.notTrustedBecause ?? 'expired'}`]
          : []),
        ...(entry.issuedByCa
          ? []
          : [
              entry.issuedBy === undefined
                ? '  NOT issued by this CA'
                : `  issued by the ${caRoleNames[entry.issuedBy]}, not the CA`,
            ]),
        '',
      ].join('\n'),
    )
    .join('\n');
}

/** The service's certificate before an issue replaces it (undefined: none, or not a name of the scheme). */
async function replacedCertificateOf(
  dataDir: string,
  institution: string,
  service: string,
): Promise<{ readonly serialNumber: string; readonly notAfter: string } | undefined> {
  try {
    const certificate = new X509Certificate(
      await readFile(servicePathsOf(dataDir, institution, service).certPath, 'utf8'),
    );
    return {
      serialNumber: serialKey(certificate.serialNumber),
      notAfter: new Date(certificate.validTo).toISOString(),
    };
  } catch {
    return undefined;
  }
}

/** Whether the rotation reached a running platform: the pid told, or why none was. */
export type PlatformSignal =
  | { readonly signalled: true; readonly pid: number }
  | { readonly signalled: false; readonly why: string };

/**
 * Whether `pid` runs `mpay up` (its command line names the mpay CLI and
 * `up`), from /proc; undefined where there is no /proc to read (not Linux).
 */
export async function isMpayUpProcess(pid: number): Promise<boolean | undefined> {
  let commandLine: string;
  try {
    commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (
      code === 'ENOENT' &&
      (await readFile('/proc/self/cmdline').then(
        () => true,
        () => false,
      ))
    )
      return false;
    return undefined;
  }
  const args = commandLine.split('\0').filter((arg) => arg !== '');
  const names = args.map((arg) => arg.split('/').pop() ?? arg);
  const mpay =
    names.some((name) => name === 'mpay' || name === 'mpay.js') ||
    args.some((arg) => arg.endsWith('cli/src/main.ts'));
  return mpay && args.includes('up');
}

/**
 * After a rotation (or an issue): SIGUSR2 to the platform running from `dataDir` (found by
 * the pid `mpay up` writes to deployment.json, as `mpay bench e2e` finds
 * it), when that process is alive, is `mpay up` and runs TLS; it reloads
 * every certificate then (cli/src/platform/tls.ts). Otherwise, why not.
 */
export async function signalRunningPlatform(dataDir: string): Promise<PlatformSignal> {
  const deployment = await readJson<Partial<Deployment>>(join(dataDir, 'deployment.json'));
  if (deployment === undefined) return { signalled: false, why: `no deployment.json in ${dataDir}` };
  const running = await deploymentProcessOf(deployment, dataDir);
  if (running.state !== 'running') return { signalled: false, why: running.why };
  const { pid } = running;
  if (deployment.tls === undefined)
    return { signalled: false, why: `the platform of ${dataDir} ran without TLS` };
  const mpay = await isMpayUpProcess(pid);
  if (mpay === undefined)
    return {
      signalled: false,
      why: `cannot tell whether pid ${pid} is mpay up here: send it SIGUSR2 yourself`,
    };
  if (!mpay) return { signalled: false, why: `pid ${pid} is not mpay up (the platform stopped)` };
  // SIGUSR2: the explicit reload (a TLS mpay up takes SIGHUP alike, but a terminal sends that one too).
  process.kill(pid, 'SIGUSR2');
  return { signalled: true, pid };
}

/** rotate's, issue's and ca's reload: the running platform signalled unless `--no-reload`, and the line that says so. */
async function reloadRunningPlatform(
  dataDir: string,
  flags: ReadonlyMap<string, string>,
  what: string,
): Promise<{ readonly reload: PlatformSignal; readonly line: string }> {
  const reload: PlatformSignal = flags.has('no-reload')
    ? { signalled: false, why: '--no-reload' }
    : await signalRunningPlatform(dataDir);
  const line = reload.signalled
    ? `sent SIGUSR2 to the platform running from ${dataDir} (pid ${reload.pid}): it reloads the ${what} now (its output says so); open connections keep the old ones\n`
    : `not reloaded (${reload.why}): a platform uses the new ${what} from its next start\n`;
  return { reload, line };
}

/**
 * `mpay pki init|issue|rotate|list`: the deployment's private CA in
 * `<data>/pki` (see @mpay/pki for the files and the naming scheme).
 */
export async function runPkiCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parsePkiArguments(args);
  if (typeof parsed === 'string') {
    io.stderr(`mpay pki: ${parsed}\n${pkiUsage}`);
    return 2;
  }
  const [verb, ...rest] = parsed.positional;
  if (parsed.permits.length > 0 && verb !== 'init' && !(verb === 'ca' && rest[0] === 'begin')) {
    io.stderr(
      `mpay pki: --permit is for init and ca begin (the CA's name constraints are fixed when it is created)\n`,
    );
    return 2;
  }
  if (parsed.flags.has('serial') && verb !== 'revoke') {
    io.stderr('mpay pki: --serial is for revoke\n');
    return 2;
  }
  const dataDir = dataDirOf(parsed.flags);
  const json = parsed.flags.has('json');
  // A stale lock taken over, temporary files of a crashed write removed: said on stderr.
  const onNote = (line: string) => io.stderr(`mpay: note: ${line}\n`);
  const print = (value: unknown, text: string) =>
    io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  switch (verb) {
    case 'init': {
      if (rest.length > 0) break;
      const permitted = permittedNamesOf(parsed.permits);
      if (typeof permitted === 'string') {
        io.stderr(`mpay pki: ${permitted}\n`);
        return 2;
      }
      const report = await ensurePlatformPki(dataDir, { permitted, onNote }, (line) => io.stderr(line));
      print(report, describeReport(report, dataDir));
      return 0;
    }
    case 'ca': {
      const [step, ...more] = rest;
      if (more.length > 0 || (step !== 'begin' && step !== 'switch' && step !== 'retire')) break;
      const permitted = permittedNamesOf(parsed.permits);
      if (typeof permitted === 'string') {
        io.stderr(`mpay pki: ${permitted}\n`);
        return 2;
      }
      const run = { begin: beginCaRotation, switch: switchCa, retire: retireCa }[step];
      const report = await run(dataDir, { onNote, ...(parsed.permits.length > 0 ? { permitted } : {}) });
      for (const warning of report.warnings ?? []) io.stderr(`mpay: warning: ${warning}\n`);
      const { reload, line } = await reloadRunningPlatform(
        dataDir,
        parsed.flags,
        step === 'switch' ? 'CAs and certificates' : 'CAs',
      );
      print({ ...report, reload }, `${describeCaRotation(report)}${line}`);
      return 0;
    }
    case 'issue': {
      const [institution, service] = rest;
      if (institution === undefined || service === undefined || rest.length > 2) break;
      const badHost = parsed.hosts.find((host) => !isHostName(host));
      if (badHost !== undefined) {
        io.stderr(`mpay pki: --host ${JSON.stringify(badHost)} is not a DNS name\n`);
        return 2;
      }
      const request = { institution, service, hosts: parsed.hosts };
      const replaced = await replacedCertificateOf(dataDir, institution, service);
      const paths = await issueDeploymentCertificate(dataDir, request, { onNote }).catch((error: unknown) => {
        if (error instanceof RangeError) return error.message; // a name outside the scheme
        throw error;
      });
      if (typeof paths === 'string') {
        io.stderr(`mpay ${paths}\n`);
        return 2;
      }
      const { reload, line } = await reloadRunningPlatform(dataDir, parsed.flags, 'certificate');
      const stillValid =
        replaced === undefined
          ? ''
          : `the certificate it replaces, ${replaced.serialNumber}, stays valid until ${replaced.notAfter} unless revoked (\`mpay pki revoke ${institution} ${service} --serial ${replaced.serialNumber}\`)\n`;
      print(
        { ...paths, ...(replaced === undefined ? {} : { replacedSerial: replaced.serialNumber }), reload },
        `issued ${paths.certPath}\n       ${paths.keyPath}\n${stillValid}${line}`,
      );
      return 0;
    }
    case 'revoke': {
      const [institution, service] = rest;
      if (institution === undefined || service === undefined || rest.length > 2 || parsed.hosts.length > 0)
        break;
      const serialNumber = parsed.flags.get('serial');
      const request = { institution, service, ...(serialNumber === undefined ? {} : { serialNumber }) };
      const report = await revokeServiceCertificate(dataDir, request, { onNote }).catch((error: unknown) => {
        if (error instanceof RangeError) return error.message; // a name outside the scheme
        throw error;
      });
      if (typeof report === 'string') {
        io.stderr(`mpay ${report}\n`);
        return 2;
      }
      const { reload, line } = await reloadRunningPlatform(
        dataDir,
        parsed.flags,
        'revocation lists and certificate',
      );
      print(
        { ...report, reload },
        `revoked ${institution}/${service}'s certificate ${report.revokedSerial} (${report.crlPath}: ${report.revokedCount} revoked)\n` +
          (report.issuedSerial === undefined
            ? `its current certificate is kept\n${line}`
            : `issued its new certificate ${report.issuedSerial}, with a new key\n${line}`),
      );
      return 0;
    }
    case 'rotate': {
      if (rest.length > 0) break;
      const report = await rotateDeploymentPki(dataDir, { onNote });
      const { reload, line } = await reloadRunningPlatform(dataDir, parsed.flags, 'certificates');
      print({ ...report, reload }, `${describeReport(report, dataDir)}${line}`);
      return 0;
    }
    case 'list': {
      if (rest.length > 0) break;
      const listed = await listDeploymentPki(dataDir);
      print(listed, describeList(listed));
      return 0;
    }
    case 'help':
    case undefined:
      io.stdout(pkiUsage);
      return verb === undefined ? 2 : 0;
  }
  io.stderr(pkiUsage);
  return 2;
}
