import type { PublicJwk } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';

/** A party allowed to append entries (the gateway, a bank, custody), known by its public signing key. */
export interface Submitter {
  readonly id: string;
  readonly signingJwk: PublicJwk;
}

/**
 * The submitter that signed this request (`Authorization: MPay <jws>` over
 * method, path and body, audience the log's origin). Any failure, including a
 * valid signature by a key of another submitter, is AUTHENTICATION_FAILED.
 */
export async function authenticateSubmitter(
  request: FastifyRequest,
  rawBody: string,
  options: { origin: string; submitters: readonly Submitter[]; clockSkewSeconds: number },
): Promise<string> {
  let submitter: Submitter | undefined;
  const verified = await verifySignedRequest(
    {
      method: request.method,
      path: request.url,
      body: rawBody,
      authorization: request.headers.authorization,
    },
    {
      audience: options.origin,
      clockSkewSeconds: options.clockSkewSeconds,
      resolveKey: (kid) => {
        submitter = options.submitters.find((candidate) => candidate.signingJwk.kid === kid);
        return submitter?.signingJwk;
      },
    },
  );
  if (submitter === undefined || submitter.id !== verified.issuer) {
    request.log.info('authentication failed');
    throw new MpayError('AUTHENTICATION_FAILED');
  }
  return submitter.id;
}
