import { createHttpServer } from '@mpay/http';
import { consistencyProofHashesMax, noteBytesMax } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { AddCheckpointRequest, Witness } from './witness.ts';

const canonicalHashBase64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function invalid(detail: string): MpayError {
  return new MpayError('REQUEST_INVALID', detail);
}

/** `{ checkpoint, proof: [base64], oldSize? }`, strictly. */
export function parseAddCheckpoint(body: unknown): AddCheckpointRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('body must be an object');
  const { checkpoint, proof, oldSize, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid('unknown field');
  if (typeof checkpoint !== 'string' || checkpoint.length > noteBytesMax) throw invalid('checkpoint');
  if (!Array.isArray(proof) || proof.length > consistencyProofHashesMax) throw invalid('proof');
  if (!proof.every((hash) => typeof hash === 'string' && canonicalHashBase64.test(hash)))
    throw invalid('proof');
  if (oldSize !== undefined && (!Number.isSafeInteger(oldSize) || (oldSize as number) < 0))
    throw invalid('oldSize');
  return {
    checkpoint,
    proof: proof.map((hash: string) => new Uint8Array(Buffer.from(hash, 'base64'))),
    oldSize: oldSize === undefined ? undefined : BigInt(oldSize as number),
  };
}

/**
 * The witness's HTTP face, in the spirit of c2sp.org/tlog-witness:
 * POST /witness/add-checkpoint `{ checkpoint, proof, oldSize? }` → 200
 * `{ cosignature, checkpoint }`; a rollback or fork → 409 with
 * CHECKPOINT_ROLLBACK / CHECKPOINT_FORK (and an alarm).
 */
export function createWitnessServer(
  witness: Witness,
  options: { logger?: boolean | { level: string }; bodyLimitBytes?: number } = {},
): FastifyInstance {
  const app = createHttpServer({
    name: `witness ${witness.name}`,
    logger: options.logger ?? false,
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
  });
  app.post('/witness/add-checkpoint', async (request) => {
    const cosigned = await witness.addCheckpoint(parseAddCheckpoint(request.body));
    return { cosignature: cosigned.cosignature, checkpoint: cosigned.checkpoint };
  });
  return app;
}
