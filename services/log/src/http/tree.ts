import { arrayOf, exactObject, integerSchema, stringSchema, textAnswer } from '@mpay/http-server';
import { consistencyProof, inclusionProof, inclusionProofs } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import { readPublishedCheckpoint, readPublishedSize } from '../store/checkpoints.ts';
import { base64Of } from '../store/hex.ts';
import { SqlTreeReader } from '../store/tree-nodes.ts';
import type { LogRouteContext } from './context.ts';
import { jsonNumber, uint64ListParameter, uint64Parameter } from './query.ts';

/**
 * GET /checkpoint: the latest published checkpoint as a text/plain signed
 * note — the log's signature, then the witnesses' cosignatures
 * (c2sp.org/tlog-cosignature v1).
 * GET /proofs/inclusion?index=&size= and GET /proofs/consistency?from=&to=:
 * RFC 9162 proofs, base64 hashes, for sizes up to the published checkpoint;
 * each one batched read of O(log n) stored nodes.
 * GET /proofs/inclusions?indices=1,5,9&size=: the inclusion proofs of up to
 * `proofBatchIndicesMax` leaves in one tree size, in the order asked, from
 * one batched read of the nodes they need together.
 */
const tags = ['tree'];
const uint64Text = { type: 'string', pattern: '^(?:0|[1-9][0-9]{0,19})$' };
/** A query string of these parameters, all required. */
const queryOf = (properties: Record<string, object>) => ({
  type: 'object',
  required: Object.keys(properties),
  properties,
});
const checkpointSchema = {
  summary: 'The latest checkpoint: a signed note, cosigned by the witnesses',
  tags,
  response: { 200: textAnswer('text/plain') },
};
const inclusionSchema = {
  summary: 'An RFC 9162 inclusion proof (base64 hashes)',
  tags,
  querystring: queryOf({ index: uint64Text, size: uint64Text }),
  response: {
    200: exactObject({ index: integerSchema, treeSize: integerSchema, hashes: arrayOf(stringSchema) }),
  },
};
const inclusionsSchema = {
  summary: 'RFC 9162 inclusion proofs of several leaves in one tree size (base64 hashes), in the order asked',
  tags,
  querystring: queryOf({
    indices: {
      type: 'string',
      pattern: '^(?:0|[1-9][0-9]{0,19})(?:,(?:0|[1-9][0-9]{0,19}))*$',
      description: 'Leaf indices separated by commas, at most proofBatchIndicesMax (64)',
    },
    size: uint64Text,
  }),
  response: {
    200: exactObject({
      treeSize: integerSchema,
      proofs: arrayOf(exactObject({ index: integerSchema, hashes: arrayOf(stringSchema) })),
    }),
  },
};
const consistencySchema = {
  summary: 'An RFC 9162 consistency proof (base64 hashes)',
  tags,
  querystring: queryOf({ from: uint64Text, to: uint64Text }),
  response: { 200: exactObject({ from: integerSchema, to: integerSchema, hashes: arrayOf(stringSchema) }) },
};

export function registerTreeRoutes(app: FastifyInstance, context: LogRouteContext): void {
  const reader = new SqlTreeReader(context.database);
  // The published size only grows (a checkpoint is never unpublished): a size within the one last read
  // needs no read; one beyond it is read again, as another process of the log may have published since.
  let published = 0n;
  const checkSize = async (size: bigint) => {
    if (size <= published) return;
    const read = await readPublishedSize(context.database);
    if (read > published) published = read;
    if (size > published) throw new MpayError('PROOF_REQUEST_INVALID', 'size beyond checkpoint');
  };
  app.get('/checkpoint', { schema: checkpointSchema }, async (_request, reply) => {
    const latest = await readPublishedCheckpoint(context.database, context.origin);
    if (latest === undefined) throw new MpayError('SERVICE_UNAVAILABLE', 'no checkpoint yet');
    return reply
      .header('cache-control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send(latest.cosignedNote);
  });
  app.get('/proofs/inclusion', { schema: inclusionSchema }, async (request) => {
    const index = uint64Parameter(request.query, 'index');
    const size = uint64Parameter(request.query, 'size');
    await checkSize(size);
    const hashes = await inclusionProof(index, size, reader);
    return { index: jsonNumber(index), treeSize: jsonNumber(size), hashes: hashes.map(base64Of) };
  });
  app.get('/proofs/inclusions', { schema: inclusionsSchema }, async (request) => {
    const indices = uint64ListParameter(request.query, 'indices', context.limits.proofBatchIndicesMax);
    const size = uint64Parameter(request.query, 'size');
    await checkSize(size);
    const proofs = await inclusionProofs(indices, size, reader);
    return {
      treeSize: jsonNumber(size),
      proofs: proofs.map((hashes, i) => ({
        index: jsonNumber(indices[i] as bigint),
        hashes: hashes.map(base64Of),
      })),
    };
  });
  app.get('/proofs/consistency', { schema: consistencySchema }, async (request) => {
    const from = uint64Parameter(request.query, 'from');
    const to = uint64Parameter(request.query, 'to');
    await checkSize(to);
    const hashes = await consistencyProof(from, to, reader);
    return { from: jsonNumber(from), to: jsonNumber(to), hashes: hashes.map(base64Of) };
  });
}
