import { generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import type { NoteSigner } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import { createLogService } from '../service.ts';
import { perSecond, syntheticSubmissions } from './workload.ts';

export interface HttpFigures {
  readonly entries: number;
  readonly clients: number;
  /** Signed POST /entries answered per second (each verified and written by group commit). */
  readonly submissionsPerSecond: number;
  /** Submissions and their integration together. */
  readonly appendsPerSecond: number;
}

/**
 * POST /entries over loopback from `clients` concurrent clients. The
 * requests are signed beforehand (the clients' cost is not the log's); the
 * log verifies every signature, group-commits the entries, then integrates.
 */
export async function benchmarkHttpAppends(
  database: Database,
  signer: NoteSigner,
  options: { first: number; entries: number; clients: number; batchSizeMax: number },
): Promise<HttpFigures> {
  const key = await generateSigningKeyPair();
  const service = await createLogService({
    database,
    signerKey: signer,
    submitters: [{ id: 'bench-http', signingJwk: key.publicJwk }],
    limits: { batchSizeMax: options.batchSizeMax, pendingEntriesMax: options.entries + 1 },
  });
  try {
    const url = await service.listen(0);
    const requests = await Promise.all(
      syntheticSubmissions(options.first, options.entries, 'http').map(async (submission) => {
        const body = JSON.stringify({
          hash: Buffer.from(submission.messageHash).toString('base64'),
          kind: submission.kind,
          transactionId: submission.transactionId,
          metadata: JSON.parse(submission.metadata),
        });
        const authorization = await signRequest(
          { method: 'POST', path: '/entries', body },
          { issuer: 'bench-http', audience: signer.name, key: key.privateJwk },
        );
        return { body, authorization };
      }),
    );
    const start = performance.now();
    let next = 0;
    const client = async () => {
      while (next < requests.length) {
        const { body, authorization } = requests[next++]!;
        const response = await fetch(`${url}/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body,
        });
        if (response.status !== 202)
          throw new Error(`log answered ${response.status}: ${await response.text()}`);
      }
    };
    await Promise.all(Array.from({ length: options.clients }, client));
    const submitted = performance.now() - start;
    while ((await service.integrateNow()).appended > 0);
    const elapsed = performance.now() - start;
    return {
      entries: options.entries,
      clients: options.clients,
      submissionsPerSecond: perSecond(options.entries, submitted),
      appendsPerSecond: perSecond(options.entries, elapsed),
    };
  } finally {
    await service.close();
  }
}
