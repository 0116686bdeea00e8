import {
  type EnsureReport,
  isHostName,
  issueDeploymentCertificate,
  type ListedCertificate,
  listDeploymentPki,
  pkiDirOf,
  rotateDeploymentPki,
} from '@mpay/pki';
import { dataDirOf } from './deployment.ts';
import type { CommandIo } from './io.ts';
import { ensurePlatformPki } from './pki-platform.ts';

export const pkiUsage = `usage: mpay pki init|issue|rotate|list [--data DIR] [--json]
  init                        create <data>/pki: the deployment's CA and a certificate per service of the platform
                              (again: keeps what is current, reissues what expires within 30 days)
  issue INSTITUTION SERVICE [--host NAME]...   issue (or reissue) one service's certificate now
  rotate                      reissue every service certificate now, keeping the CA
  list                        each certificate's subject, names, expiry and days left
`;

interface PkiArguments {
  readonly positional: string[];
  readonly flags: Map<string, string>;
  readonly hosts: string[];
}

/** `--data DIR`, `--json`, repeated `--host NAME`; anything else is an error. */
function parsePkiArguments(args: readonly string[]): PkiArguments | string {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const hosts: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const [name, inline] = arg.startsWith('--')
      ? (arg.slice(2).split('=', 2) as [string, string?])
      : ['', ''];
    if (name === '') positional.push(arg);
    else if (name === 'json' && inline === undefined) flags.set('json', 'true');
    else if (name === 'data' || name === 'host') {
      if (inline === undefined) index += 1;
      const value = inline ?? args[index];
      if (value === undefined || value === '') return `--${name} needs a value`;
      if (name === 'data') flags.set('data', value);
      else hosts.push(value);
    } else return `unknown option ${arg}`;
  }
  return { positional, flags, hosts };
}

function describeReport(report: EnsureReport, dataDir: string): string {
  const lines = [`${pkiDirOf(dataDir)}: ${report.caCreated ? 'CA created' : 'CA kept'}`];
  for (const entry of report.services) {
    const why = entry.reason === undefined ? '' : ` (${entry.reason})`;
    lines.push(`  ${entry.institution}/${entry.service}: ${entry.action}${why}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeList(listed: readonly ListedCertificate[]): string {
  return listed
    .map((entry) =>
      [
        `${entry.role === 'ca' ? 'CA' : `${entry.institution ?? '?'}/${entry.service ?? '?'}`}  ${entry.path}`,
        `  subject:   ${entry.subject}`,
        ...(entry.role === 'ca' ? [] : [`  names:     ${entry.subjectAltNames.join(', ') || '(none)'}`]),
        `  not after: ${entry.notAfter.toISOString()} (${entry.daysLeft} days left${entry.daysLeft < 0 ? ', EXPIRED' : ''})`,
        ...(entry.issuedByCa ? [] : ['  NOT issued by this CA']),
        '',
      ].join('\n'),
    )
    .join('\n');
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
  const dataDir = dataDirOf(parsed.flags);
  const json = parsed.flags.has('json');
  const print = (value: unknown, text: string) =>
    io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  switch (verb) {
    case 'init': {
      if (rest.length > 0) break;
      const report = await ensurePlatformPki(dataDir);
      print(report, describeReport(report, dataDir));
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
      const paths = await issueDeploymentCertificate(dataDir, request).catch((error: unknown) => {
        if (error instanceof RangeError) return error.message; // a name outside the scheme
        throw error;
      });
      if (typeof paths === 'string') {
        io.stderr(`mpay ${paths}\n`);
        return 2;
      }
      print(paths, `issued ${paths.certPath}\n       ${paths.keyPath}\n`);
      return 0;
    }
    case 'rotate': {
      if (rest.length > 0) break;
      const report = await rotateDeploymentPki(dataDir);
      print(report, describeReport(report, dataDir));
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
