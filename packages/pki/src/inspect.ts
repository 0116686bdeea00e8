import type { X509Certificate } from 'node:crypto';
import { dayMs } from './limits.ts';
import { parseServiceSubject } from './naming.ts';

/** What `mpay pki list` shows of a certificate, read from its PEM. */
export interface CertificateSummary {
  readonly subject: string;
  /** The subject alternative names, as `DNS:localhost`, `IP Address:127.0.0.1`. */
  readonly subjectAltNames: readonly string[];
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole days from `now` to notAfter (negative once expired). */
  readonly daysLeft: number;
  /** Institution and service under the naming scheme; undefined for the CA or a foreign certificate. */
  readonly institution: string | undefined;
  readonly service: string | undefined;
}

/** Node's one-line-per-attribute subject ("O=xbank\nOU=bank\nCN=bank.xbank") as its attributes; repeated ones as arrays. */
function subjectAttributes(subject: string): Record<string, string | string[]> {
  const attributes: Record<string, string | string[]> = {};
  for (const line of subject.split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const name = line.slice(0, at);
    const value = line.slice(at + 1);
    const seen = attributes[name];
    attributes[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return attributes;
}

/** Node's "DNS:localhost, IP Address:127.0.0.1" as a list (our names never contain ", "). */
export function subjectAltNamesOf(certificate: X509Certificate): string[] {
  const text = certificate.subjectAltName;
  return text === undefined || text === '' ? [] : text.split(', ');
}

export function summarizeCertificate(certificate: X509Certificate, now: Date): CertificateSummary {
  const notAfter = new Date(certificate.validTo);
  const named = parseServiceSubject(subjectAttributes(certificate.subject));
  return {
    subject: certificate.subject.split('\n').join(', '),
    subjectAltNames: subjectAltNamesOf(certificate),
    serialNumber: certificate.serialNumber,
    notBefore: new Date(certificate.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / dayMs),
    institution: named?.institution,
    service: named?.service,
  };
}

/** True when `ca` signed `certificate` (names match and the signature verifies under the CA's key). */
export function isIssuedBy(certificate: X509Certificate, ca: X509Certificate): boolean {
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}
