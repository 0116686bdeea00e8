import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { MpayError } from '@mpay/protocol';
import type { Agent } from 'undici';
import { createReloadableTlsClient, type TlsFetch } from './client.ts';
import {
  type InstitutionRoutes,
  institutionServerTls,
  publicServerTls,
  type ServiceServerTls,
  sharedServerTls,
} from './server.ts';
import { type LoadedDeploymentTrust, loadServiceTls, type ServiceTlsMaterial } from './store.ts';

/** Which certificate a service presents: what a reload reports before and after. */
export interface PresentedCertificate {
  /** The serial number, hex (node:crypto's X509Certificate.serialNumber). */
  readonly serialNumber: string;
  /** SHA-256 of the certificate, `AB:CD:…`. */
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

export function presentedCertificateOf(certPem: string): PresentedCertificate {
  const certificate = new X509Certificate(certPem);
  return {
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    notAfter: new Date(certificate.validTo),
  };
}

/** Everything one service needs for TLS, from the deployment's folder. */
export interface ServiceTls {
  /** The material in use (the one of the last reload). */
  readonly material: ServiceTlsMaterial;
  /**
   * The `tls` option of its createHttpServer (through its service's options);
   * every server built with it follows `reload`.
   */
  readonly server: ServiceServerTls;
  /** Its TLS client now: its certificate presented, the deployment's trust bundle (its CAs) the only anchors. */
  readonly agent: Agent;
  /** Its TLS client: one function for its whole life, presenting the certificate of the last reload. */
  readonly fetch: TlsFetch;
  /**
   * Switches the servers built with `server` and the client to `material`
   * (same institution and service: PKI_INVALID otherwise, nothing changed),
   * its trust bundle too (a CA rotation's step: the caller checks that the
   * bundles overlap). Connections and calls already open keep the old ones.
   * Check the material first with `checkServiceTlsMaterial`: a server that
   * refuses it here leaves the others switched.
   */
  reload(material: ServiceTlsMaterial): void;
  /** Closes the client (every agent it used). */
  close(): Promise<void>;
}

/**
 * Whether node:tls accepts `material` as a server's and a client's context
 * (the key is the certificate's, both parse): throws PKI_INVALID naming
 * `what` otherwise. loadServiceTls checked the files; this checks what
 * OpenSSL will be given, before anything is switched.
 */
export function checkServiceTlsMaterial(material: ServiceTlsMaterial, what: string): void {
  try {
    createSecureContext({ key: material.keyPem, cert: material.certPem, ca: material.caPem });
  } catch (error) {
    throw new MpayError('PKI_INVALID', `${what}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A service's TLS from `<dataDir>/pki` (checked by loadServiceTls): an
 * institution port (mutual TLS, the signer checked against the
 * certificate), a public one (device- and merchant-facing, server TLS
 * only) or a shared one (`sharedServerTls`: institution routes need the
 * institution's certificate, the others none), and its client. The one call
 * per service `mpay up` needs. `reload` switches both to new material.
 */
export async function serviceTlsOf(
  dataDir: string,
  institution: string,
  service: string,
  port: 'institution' | 'public' | InstitutionRoutes,
  now: Date = new Date(),
  trust?: LoadedDeploymentTrust,
): Promise<ServiceTls> {
  const loaded = await loadServiceTls(dataDir, institution, service, now, trust);
  let material = loaded;
  const client = createReloadableTlsClient(material);
  // The revocation lists of the material in use: a reload's apply to the next request.
  const revokedNow = () => material.revokedSerials;
  const built =
    port === 'institution'
      ? institutionServerTls(material, revokedNow)
      : port === 'public'
        ? publicServerTls(material)
        : sharedServerTls(material, port, revokedNow);
  const appliers: ((next: { key: string; cert: string; ca?: string }) => void)[] = [];
  const server: ServiceServerTls = {
    ...built,
    onReload: (apply) => {
      appliers.push(apply);
    },
  };
  return {
    get material() {
      return material;
    },
    server,
    get agent() {
      return client.agent;
    },
    fetch: client.fetch,
    reload(next) {
      if (next.institution !== institution || next.service !== service) {
        throw new MpayError(
          'PKI_INVALID',
          `${institution}/${service}: a reload must keep the institution and the service`,
        );
      }
      // A public port had no CA: it gets none now either (its secure context stays as it was).
      const pair = {
        key: next.keyPem,
        cert: next.certPem,
        ...(built.ca === undefined ? {} : { ca: next.caPem }),
      };
      for (const apply of appliers) apply(pair);
      client.reload(next);
      material = next;
    },
    close: () => client.close(),
  };
}
