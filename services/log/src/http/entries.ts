import {
  exactObject,
  integerSchema,
  isoTime,
  respondIdempotently,
  type StoredResponse,
  signedRequest,
  stringSchema,
} from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { readEntry } from '../store/entries.ts';
import { base64Of } from '../store/hex.ts';
import { authenticateSubmitter } from './authenticate.ts';
import type { LogRouteContext } from './context.ts';
import { jsonNumber, uint64Parameter } from './query.ts';
import { parseSubmission } from './submission.ts';

/**
 * POST /entries (authenticated submitters): queues an entry, 202 `{ index }`;
 * the same hash and transaction id again gives 200 with the same index.
 * GET /entries/:index (public): the entry and its RFC 9162 leaf data.
 */
const tags = ['entries'];
const indexAnswer = exactObject({ index: integerSchema });
/** POST /entries: read as text and checked by parseSubmission (strict, canonical), not by a validator. */
const submitSchema: FastifySchema = {
  summary: 'Queues an entry (authenticated submitters)',
  tags,
  security: signedRequest,
  rawBody: {
    contentTypes: ['application/json'],
    description: 'Strict: no other fields, a canonical base64 SHA-256, metadata a bounded JSON object',
    schema: exactObject(
      { hash: stringSchema, kind: stringSchema, transactionId: stringSchema, metadata: { type: 'object' } },
      ['metadata'],
    ),
  },
  response: {
    200: { ...indexAnswer, description: 'The same entry again: its index' },
    202: { ...indexAnswer, description: 'Queued: the index it will have' },
  },
};
const entrySchema: FastifySchema = {
  summary: 'An entry and its RFC 9162 leaf data',
  tags,
  response: {
    200: exactObject({
      index: integerSchema,
      hash: stringSchema,
      kind: stringSchema,
      transactionId: stringSchema,
      metadata: { type: 'object' },
      submitter: stringSchema,
      submittedAt: isoTime,
      leafData: stringSchema,
      leafHash: stringSchema,
    }),
  },
};

export function registerEntryRoutes(app: FastifyInstance, context: LogRouteContext): void {
  app.post('/entries', { schema: submitSchema }, async (request, reply) => {
    const rawBody = typeof request.body === 'string' ? request.body : '';
    const submitter = await authenticateSubmitter(request, rawBody, context);
    const submit = async (): Promise<StoredResponse> => {
      const submission = parseSubmission(rawBody, context.limits.metadataBytesMax);
      const { index, created } = await context.submissions.submit(submission, submitter);
      return { statusCode: created ? 202 : 200, body: { index: jsonNumber(index) } };
    };
    return respondIdempotently(context.database, request, reply, { scope: submitter, rawBody }, submit);
  });

  app.get('/entries/:index', { schema: entrySchema }, async (request) => {
    const index = uint64Parameter(request.params, 'index');
    const entry = await readEntry(context.database, index);
    if (entry === undefined) throw new MpayError('NOT_FOUND', 'entry');
    return {
      index: jsonNumber(entry.index),
      hash: base64Of(entry.messageHash),
      kind: entry.kind,
      transactionId: entry.transactionId,
      metadata: JSON.parse(entry.metadata) as unknown,
      submitter: entry.submitter,
      submittedAt: entry.submittedAt.toISOString(),
      leafData: entry.leafData,
      leafHash: base64Of(entry.leafHash),
    };
  });
}
