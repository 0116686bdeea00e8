import { consistencyProof, inclusionProof } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { readPublishedCheckpoint, readPublishedSize } from '../store/checkpoints.ts';
import { base64Of } from '../store/hex.ts';
import { SqlTreeReader } from '../store/tree-nodes.ts';
import type { LogRouteContext } from './context.ts';
import { jsonNumber, uint64Parameter } from './query.ts';

/**
 * GET /checkpoint: the latest published checkpoint as a text/plain signed
 * note — the log's signature, then the witnesses' cosignatures
 * (c2sp.org/tlog-cosignature v1).
 * GET /proofs/inclusion?index=&size= and GET /proofs/consistency?from=&to=:
 * RFC 9162 proofs, base64 hashes, for sizes up to the published checkpoint;
 * each one batched read of O(log n) stored nodes.
 */
export function registerTreeRoutes(app: FastifyInstance, context: LogRouteContext): void {
  const reader = new SqlTreeReader(context.database);
  const checkSize = async (size: bigint) => {
    if (size > (await readPublishedSize(context.database))) {
      throw new MpayError('PROOF_REQUEST_INVALID', 'size beyond checkpoint');
    }
  };
  app.get('/checkpoint', async (_request, reply) => {
    const latest = await readPublishedCheckpoint(context.database, context.origin);
    if (latest === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'no checkpoint yet');
    return reply
      .header('cache-control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send(latest.cosignedNote);
  });
  app.get('/proofs/inclusion', async (request) => {
    const index = uint64Parameter(request.query, 'index');
    const size = uint64Parameter(request.query, 'size');
    await checkSize(size);
    const hashes = await inclusionProof(index, size, reader);
    return { index: jsonNumber(index), treeSize: jsonNumber(size), hashes: hashes.map(base64Of) };
  });
  app.get('/proofs/consistency', async (request) => {
    const from = uint64Parameter(request.query, 'from');
    const to = uint64Parameter(request.query, 'to');
    await checkSize(to);
    const hashes = await consistencyProof(from, to, reader);
    return { from: jsonNumber(from), to: jsonNumber(to), hashes: hashes.map(base64Of) };
  });
}
