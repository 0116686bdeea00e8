import type { Agent } from 'undici';
import { createTlsAgent, type TlsFetch, tlsFetch } from './client.ts';
import {
  type InstitutionRoutes,
  institutionServerTls,
  publicServerTls,
  type ServiceServerTls,
  sharedServerTls,
} from './server.ts';
import { loadServiceTls, type ServiceTlsMaterial } from './store.ts';

/** Everything one service needs for TLS, from the deployment's folder. */
export interface ServiceTls {
  readonly material: ServiceTlsMaterial;
  /** The `tls` option of its createHttpServer (through its service's options). */
  readonly server: ServiceServerTls;
  /** Its TLS client: its certificate presented, the deployment's CA the only trust anchor. */
  readonly agent: Agent;
  readonly fetch: TlsFetch;
}

/**
 * A service's TLS from `<dataDir>/pki` (checked by loadServiceTls): an
 * institution port (mutual TLS, the signer checked against the
 * certificate), a public one (device- and merchant-facing, server TLS
 * only) or a shared one (`sharedServerTls`: institution routes need the
 * institution's certificate, the others none), and its client. The one call
 * per service `mpay up` needs.
 */
export async function serviceTlsOf(
  dataDir: string,
  institution: string,
  service: string,
  port: 'institution' | 'public' | InstitutionRoutes,
  now: Date = new Date(),
): Promise<ServiceTls> {
  const material = await loadServiceTls(dataDir, institution, service, now);
  const agent = createTlsAgent(material);
  return {
    material,
    server:
      port === 'institution'
        ? institutionServerTls(material)
        : port === 'public'
          ? publicServerTls(material)
          : sharedServerTls(material, port),
    agent,
    fetch: tlsFetch(agent),
  };
}
