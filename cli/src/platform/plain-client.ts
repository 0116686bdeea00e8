import { fetchSource, setFetchSource } from '@mpay/http-client';
import { createPlainServiceClient, tlsClientScope } from '@mpay/pki';

/**
 * The services' calls to one another on a platform without TLS: each service
 * runs in the plain client's scope (@mpay/pki's createPlainServiceClient), so
 * that its calls go through undici's `request`, as on a TLS platform they go
 * through its certificate's agent. Anything else in the process (the seed, an
 * SDK, a wrapper a test or `mpay simulate` puts around the global fetch)
 * keeps the global fetch. The process's fetch source is this platform's until
 * `close`, which puts back the one it replaced (unless another was registered
 * since: that one stays).
 */
export interface PlainPlatformClient {
  scope<T>(work: () => T): T;
  close(): Promise<void>;
}

export function startPlainPlatformClient(): PlainPlatformClient {
  const client = createPlainServiceClient();
  const replaced = fetchSource();
  const ours = () => tlsClientScope.source();
  setFetchSource(ours);
  return {
    scope: (work) => tlsClientScope.run(client.fetch, work),
    async close() {
      if (fetchSource() === ours) setFetchSource(replaced);
      await client.close();
    },
  };
}
