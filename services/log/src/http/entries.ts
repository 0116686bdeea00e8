import {
  arrayOf,
  booleanSchema,
  exactObject,
  integerSchema,
  isoTime,
  respondIdempotently,
  type StoredResponse,
  signedRequest,
  stringSchema,
} from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { BatchOutcome } from '../metrics.ts';
import { readEntry } from '../store/entries.ts';
import { base64Of } from '../store/hex.ts';
import { authenticateSubmitter } from './authenticate.ts';
import type { LogRouteContext } from './context.ts';
import { jsonNumber, uint64Parameter } from './query.ts';
import { parseSubmission, parseSubmissionBatch } from './submission.ts';

/**
 * POST /entries (authenticated submitters): queues an entry, 202 `{ index }`;
 * the same hash and transaction id again gives 200 with the same index.
 * POST /entry-batches (authenticated submitters): queues up to
 * `submissionBatchEntriesMax` entries under one signature, 200
 * `{ entries: [{ index, created, transactionId }] }` in the order sent; as safe
 * to send again.
 * GET /entries/:index (public): the entry and its RFC 9162 leaf data.
 */
const tags = ['entries'];
const indexAnswer = exactObject({ index: integerSchema });
const entryFields = exactObject(
  { hash: stringSchema, kind: stringSchema, transactionId: stringSchema, metadata: { type: 'object' } },
  ['metadata'],
);
/** POST /entries: read as text and checked by parseSubmission (strict, canonical), not by a validator. */
const submitSchema: FastifySchema = {
  summary: 'Queues an entry (authenticated submitters)',
  tags,
  security: signedRequest,
  rawBody: {
    contentTypes: ['application/json'],
    description: 'Strict: no other fields, a canonical base64 SHA-256, metadata a bounded JSON object',
    schema: entryFields,
  },
  response: {
    200: { ...indexAnswer, description: 'The same entry again: its index' },
    202: { ...indexAnswer, description: 'Queued: the index it will have' },
  },
};
/** POST /entry-batches: read as text and checked by parseSubmissionBatch, as POST /entries. */
const batchSchema: FastifySchema = {
  summary: 'Queues several entries under one signature (authenticated submitters)',
  tags,
  security: signedRequest,
  rawBody: {
    contentTypes: ['application/json'],
    description:
      'Strict: `entries` only, 1 to submissionBatchEntriesMax (64) of them, each as POST /entries takes one; one wrong entry refuses them all',
    schema: exactObject({ entries: arrayOf(entryFields) }),
  },
  response: {
    200: {
      ...exactObject({
        entries: arrayOf(
          exactObject({ index: integerSchema, created: booleanSchema, transactionId: stringSchema }),
        ),
      }),
      description:
        'Each entry in the order sent: its index, created false for one the log already had, and its transaction',
    },
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

/** Each POST /entry-batches answered 200: how many of its entries were new (for the metrics). */
export const batchOutcomes = new WeakMap<FastifyRequest, BatchOutcome>();

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

  app.post(
    '/entry-batches',
    { schema: batchSchema, bodyLimit: context.limits.submissionBatchBodyLimitBytes },
    async (request, reply) => {
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const submitter = await authenticateSubmitter(request, rawBody, context);
      const submit = async (): Promise<StoredResponse> => {
        const { metadataBytesMax, submissionBatchEntriesMax } = context.limits;
        const submissions = parseSubmissionBatch(rawBody, metadataBytesMax, submissionBatchEntriesMax);
        // All join the group commit at once (or none, when its queue is full), written with whatever
        // else is waiting.
        const results = await context.submissions.submitAll(submissions, submitter);
        const appended = results.filter((result) => result.created).length;
        batchOutcomes.set(request, { appended, duplicate: results.length - appended });
        return {
          statusCode: 200,
          body: {
            entries: results.map(({ index, created }, i) => ({
              index: jsonNumber(index),
              created,
              transactionId: submissions[i]?.transactionId,
            })),
          },
        };
      };
      const answered = await respondIdempotently(
        context.database,
        request,
        reply,
        { scope: submitter, rawBody },
        submit,
      );
      // An answer stored under the same Idempotency-Key and this very body, sent again without
      // submitting: each of its entries counts as one the log already had, as on a first answer.
      if (reply.statusCode === 200 && !batchOutcomes.has(request)) {
        const sent = (JSON.parse(rawBody) as { entries: unknown[] }).entries.length;
        batchOutcomes.set(request, { appended: 0, duplicate: sent });
      }
      return answered;
    },
  );

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
