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
  /** As many more entries, in signed POST /entry-batches of `entriesPerRequest` (the client's default). */
  readonly batched: { readonly entriesPerRequest: number; readonly submissionsPerSecond: number };
}

/** Entries in one POST /entry-batches of the bench: what the log client sends at most (entryBatchLimits). */
const entriesPerBatch = 64;

/**
 * POST /entries over loopback from `clients` concurrent clients. The
 * requests are signed beforehand (the clients' cost is not the log's); the
 * log verifies every signature, group-commits the entries, then integrates.
 * Then as many more entries in POST /entry-batches of 64, the same way: the
 * log's intake when a submitter sends its entries together.
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
    limits: { batchSizeMax: options.batchSizeMax, pendingEntriesMax: 2 * options.entries + 1 },
  });
  try {
    const url = await service.listen(0);
    const entryOf = (submission: ReturnType<typeof syntheticSubmissions>[number]) => ({
      hash: Buffer.from(submission.messageHash).toString('base64'),
      kind: submission.kind,
      transactionId: submission.transactionId,
      metadata: JSON.parse(submission.metadata),
    });
    const signed = (path: string) => async (body: string) => ({
      path,
      body,
      authorization: await signRequest(
        { method: 'POST', path, body },
        { issuer: 'bench-http', audience: signer.name, key: key.privateJwk },
      ),
    });
    /** Sends the signed requests from `options.clients` clients; the time it took, in ms. */
    const send = async (
      requests: readonly { path: string; body: string; authorization: string }[],
      ok: number,
    ) => {
      const start = performance.now();
      let next = 0;
      const client = async () => {
        while (next < requests.length) {
          const { path, body, authorization } = requests[next++]!;
          const response = await fetch(`${url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization },
            body,
          });
          if (response.status !== ok)
            throw new Error(`log answered ${response.status}: ${await response.text()}`);
          await response.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: options.clients }, client));
      return performance.now() - start;
    };
    const singles = await Promise.all(
      syntheticSubmissions(options.first, options.entries, 'http')
        .map((submission) => JSON.stringify(entryOf(submission)))
        .map(signed('/entries')),
    );
    const start = performance.now();
    const submitted = await send(singles, 202);
    while ((await service.integrateNow()).appended > 0);
    const elapsed = performance.now() - start;
    const more = syntheticSubmissions(options.first + options.entries, options.entries, 'http-batched');
    const batches = await Promise.all(
      Array.from({ length: Math.ceil(more.length / entriesPerBatch) }, (_, i) =>
        JSON.stringify({ entries: more.slice(i * entriesPerBatch, (i + 1) * entriesPerBatch).map(entryOf) }),
      ).map(signed('/entry-batches')),
    );
    const batchedMs = await send(batches, 200);
    while ((await service.integrateNow()).appended > 0);
    return {
      entries: options.entries,
      clients: options.clients,
      submissionsPerSecond: perSecond(options.entries, submitted),
      appendsPerSecond: perSecond(options.entries, elapsed),
      batched: {
        entriesPerRequest: Math.min(entriesPerBatch, options.entries),
        submissionsPerSecond: perSecond(options.entries, batchedMs),
      },
    };
  } finally {
    await service.close();
  }
}
