import type { Agent } from 'undici';
import { createTlsAgent, type TlsFetch, tlsFetch } from './client.ts';
import { institutionServerTls, publicServerTls, type ServiceServerTls } from './server.ts';
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
 * certificate) or a public one (device- and merchant-facing, server TLS
 * only), and its client. The one call per service `mpay up` needs.
 */
export async function serviceTlsOf(
  dataDir: string,
  institution: string,
  service: string,
  port: 'institution' | 'public',
  now: Date = new Date(),
): Promise<ServiceTls> {
  const material = await loadServiceTls(dataDir, institution, service, now);
  const agent = createTlsAgent(material);
  return {
    material,
    server: port === 'institution' ? institutionServerTls(material) : publicServerTls(material),
    agent,
    fetch: tlsFetch(agent),
  };
}
