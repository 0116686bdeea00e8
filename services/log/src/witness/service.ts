import { createHttpServer, httpStatusOf, type ServerTls, textAnswer } from '@mpay/http-server';
import { parseAddCheckpoint, treeSizeContentType } from '@mpay/log-client';
import { isMpayError, type MpayError } from '@mpay/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createWitnessMetrics, registerWitnessMetrics } from '../metrics-witness.ts';
import { forkDetails, type Witness } from './witness.ts';

/** The HTTP statuses c2sp.org/tlog-witness names; every other code keeps its usual status. */
function statusOf(error: MpayError): number {
  if (error.code === 'NOTE_KEY_UNKNOWN' || error.code === 'NOTE_SIGNATURE_INVALID') return 403;
  if (error.code === 'CHECKPOINT_FORK' && error.detail === forkDetails.proof) return 422;
  if (error.code === 'PROOF_INVALID') return 422;
  if (error.code === 'CHECKPOINT_ROLLBACK') return 400;
  return httpStatusOf(error.code);
}

function sendRefusal(reply: FastifyReply, error: MpayError): FastifyReply {
  if (error.code === 'CHECKPOINT_OLD_SIZE_MISMATCH' && /^\d+$/.test(error.detail ?? '')) {
    return reply.status(409).type(treeSizeContentType).send(`${error.detail}\n`);
  }
  return reply.status(statusOf(error)).type('application/json').send({ error: error.toJSON() });
}

/** c2sp.org/tlog-witness's add-checkpoint, as GET /openapi.json tells it. */
const addCheckpointSchema = {
  summary: 'Cosigns a checkpoint that is consistent with the last one seen (c2sp.org/tlog-witness)',
  tags: ['witness'],
  rawBody: {
    contentTypes: ['text/plain'],
    schema: { type: 'string' },
    description: '`old <size>`, the consistency proof lines, a blank line, then the signed checkpoint note',
  },
  response: {
    200: textAnswer('text/plain'),
    409: {
      ...textAnswer(treeSizeContentType),
      description: 'The size the witness holds, when `old` is not it',
    },
  },
};

/**
 * The witness's HTTP face, c2sp.org/tlog-witness: POST /add-checkpoint with
 * the text body of parseAddCheckpoint → 200 text/plain cosignature line;
 * 409 text/x.tlog.size with the held size when `old` is not it; otherwise a
 * JSON error with a stable code (LOG_UNKNOWN 404, NOTE_* 403, CHECKPOINT_FORK
 * 409 at the same size or 422 for a failed proof, CHECKPOINT_ROLLBACK 400).
 */
export function createWitnessServer(
  witness: Witness,
  options: {
    logger?: boolean | { level: string };
    bodyLimitBytes?: number;
    /** The bearer token GET /metrics asks for (Prometheus's scrape credential); none: nobody scrapes. */
    metricsToken?: string | undefined;
    /** TLS for its port (@mpay/pki: institutionServerTls for the log's calls); absent: plain HTTP. */
    tls?: ServerTls | undefined;
  } = {},
): FastifyInstance {
  const app = createHttpServer({
    name: 'witness',
    logger: options.logger ?? false,
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
    tls: options.tls,
  });
  registerWitnessMetrics(app, createWitnessMetrics(witness), options.metricsToken);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/add-checkpoint', { schema: addCheckpointSchema }, async (request, reply) => {
    try {
      const cosigned = await witness.addCheckpoint(parseAddCheckpoint(request.body));
      return reply.type('text/plain; charset=utf-8').send(cosigned.cosignature);
    } catch (error) {
      if (!isMpayError(error)) throw error;
      return sendRefusal(reply, error);
    }
  });
  return app;
}
