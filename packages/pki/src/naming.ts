/**
 * How the deployment's certificates name who holds them. One scheme, used by
 * the issuer and by the peer check, so that the two cannot drift apart:
 *
 * - an institution id is the id its requests are signed by (the `iss` of the
 *   MPay Authorization header): `xbank`, `ybank`, `fsp.mpay`, `custody.mpay`;
 * - a service is one process of that institution: `bank`, `gateway`, `log`;
 * - a leaf certificate's subject is `O=<institution>, OU=<service>,
 *   CN=<service>.<institution>`, e.g. `O=xbank, OU=bank, CN=bank.xbank`: the
 *   organisation names the institution, the common name the service;
 * - the CA's subject is `O=mpay deployment, CN=mpay deployment CA <label>`.
 *
 * Ids are lower-case DNS-like names so that they need no escaping in a
 * distinguished name, a file name or a host name.
 */

/** Lower-case labels of letters, digits and inner hyphens, joined by dots; at most 100 characters. */
const institutionPattern =
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const institutionLengthMax = 100;
/** One lower-case label: a letter, then letters, digits and hyphens; at most 32 characters. */
const servicePattern = /^[a-z][a-z0-9-]{0,31}$/;
/** A DNS name for a certificate's SAN: labels as above, or `localhost`. */
const hostPattern = institutionPattern;
const hostLengthMax = 253;
/** The CA's label (a deployment's name): letters, digits, dots, hyphens; at most 40 characters. */
const caLabelPattern = /^[A-Za-z0-9][A-Za-z0-9.-]{0,39}$/;

export const caOrganisation = 'mpay deployment';

export function isInstitutionId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= institutionLengthMax && institutionPattern.test(value);
}

export function isServiceName(value: unknown): value is string {
  return typeof value === 'string' && servicePattern.test(value);
}

export function isHostName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= hostLengthMax && hostPattern.test(value);
}

export function checkInstitutionId(value: string): string {
  if (!isInstitutionId(value)) {
    throw new RangeError(`pki: institution id ${JSON.stringify(value)} is not lower-case dotted labels`);
  }
  return value;
}

export function checkServiceName(value: string): string {
  if (!isServiceName(value)) {
    throw new RangeError(`pki: service name ${JSON.stringify(value)} is not one lower-case label`);
  }
  return value;
}

export function checkHostName(value: string): string {
  if (!isHostName(value)) throw new RangeError(`pki: host name ${JSON.stringify(value)} is not a DNS name`);
  return value;
}

export function checkCaLabel(value: string): string {
  if (!caLabelPattern.test(value)) {
    throw new RangeError(
      `pki: CA label ${JSON.stringify(value)} is not 1..40 letters, digits, dots, hyphens`,
    );
  }
  return value;
}

/** The common name of a service's certificate: `<service>.<institution>`. */
export function serviceCommonName(institution: string, service: string): string {
  return `${checkServiceName(service)}.${checkInstitutionId(institution)}`;
}

/** The subject of a service's certificate, as a distinguished name string (no escaping needed: ids are checked). */
export function serviceSubject(institution: string, service: string): string {
  return `O=${institution}, OU=${service}, CN=${serviceCommonName(institution, service)}`;
}

export function caSubject(label: string): string {
  return `O=${caOrganisation}, CN=mpay deployment CA ${checkCaLabel(label)}`;
}

/** The institution and service a subject names under this scheme, or undefined when it does not follow it. */
export function parseServiceSubject(subject: {
  readonly O?: unknown;
  readonly OU?: unknown;
  readonly CN?: unknown;
}): { institution: string; service: string } | undefined {
  const { O: institution, OU: service, CN: commonName } = subject;
  if (!isInstitutionId(institution) || !isServiceName(service)) return undefined;
  if (commonName !== `${service}.${institution}`) return undefined;
  return { institution, service };
}
