import {
  type DeploymentInstitution,
  type EnsureReport,
  ensureDeploymentPki,
  type PkiOptions,
} from '@mpay/pki';
import { bankIds } from '../platform/banks.ts';

/**
 * The institutions of the platform `mpay up` starts, and the services each
 * runs: each gets a certificate `O=<id>, OU=<service>, CN=<service>.<id>`.
 * The ids are the signer ids of their requests (the MPay Authorization
 * header's `iss`), which the peer check compares with the certificate.
 *
 * Besides the services that sign requests: the web front (`web.mpay`: the
 * pages and the API proxy, a server only; an institution of its own, so that
 * its key, which sits on the public edge, can never pass for the FSP's), and
 * the two outside providers the platform embeds a stand-in for, the mail
 * provider (`mail.mpay`, its SMTP server) and the SMS provider (`sms.mpay`,
 * its HTTP gateway). Nobody signs requests as these three and their certificates are only ever
 * served, never presented to a service: on the services' shared ports a
 * request claiming either as its signer is refused without their
 * certificate, which no caller holds.
 */
export const platformInstitutions: readonly DeploymentInstitution[] = Object.freeze([
  { id: 'fsp.mpay', services: ['gateway'] },
  ...bankIds.map((id) => ({ id, services: ['bank'] })),
  { id: 'custody.mpay', services: ['custody'] },
  { id: 'log.mpay', services: ['log'] },
  { id: 'witness.mpay', services: ['witness'] },
  { id: 'merkur.trade', services: ['shop'] },
  { id: 'web.mpay', services: ['web'] },
  { id: 'mail.mpay', services: ['smtp'] },
  { id: 'sms.mpay', services: ['sms'] },
]);

/**
 * What `mpay up` is to call on every start, before it starts the services:
 * creates `<dataDir>/pki` (the CA and every service's certificate) the first
 * time, reissues certificates that expire within 30 days. Its warnings (a CA
 * without name constraints) go to `warn`, once per call: the standard error
 * unless told otherwise.
 */
export async function ensurePlatformPki(
  dataDir: string,
  options: PkiOptions = {},
  warn: (line: string) => void = (line) => process.stderr.write(line),
): Promise<EnsureReport> {
  const report = await ensureDeploymentPki(dataDir, platformInstitutions, options);
  for (const warning of report.warnings ?? []) warn(`mpay: warning: ${warning}\n`);
  return report;
}
