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
 */
export const platformInstitutions: readonly DeploymentInstitution[] = Object.freeze([
  { id: 'fsp.mpay', services: ['gateway'] },
  ...bankIds.map((id) => ({ id, services: ['bank'] })),
  { id: 'custody.mpay', services: ['custody'] },
  { id: 'log.mpay', services: ['log'] },
  { id: 'witness.mpay', services: ['witness'] },
  { id: 'merkur.trade', services: ['shop'] },
]);

/**
 * What `mpay up` is to call on every start, before it starts the services:
 * creates `<dataDir>/pki` (the CA and every service's certificate) the first
 * time, reissues certificates that expire within 30 days. Not wired yet.
 */
export function ensurePlatformPki(dataDir: string, options: PkiOptions = {}): Promise<EnsureReport> {
  return ensureDeploymentPki(dataDir, platformInstitutions, options);
}
