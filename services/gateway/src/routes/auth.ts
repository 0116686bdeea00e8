import { timingSafeEqual } from 'node:crypto';
import { verifySignedRequest } from '@mpay/http/signed-request';
import { MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { partySigningKeyResolver } from '../registry/keys.ts';

/** The party that signed this request's `Authorization: MPay …` token. */
export async function authenticateParty(context: GatewayContext, request: FastifyRequest): Promise<string> {
  const owner: { partyId?: string } = {};
  const verified = await verifySignedRequest(
    {
      method: request.method,
      path: request.url,
      body: typeof request.body === 'string' ? request.body : '',
      authorization: request.headers.authorization,
    },
    {
      audience: context.fsp.id,
      resolveKey: partySigningKeyResolver(
        context.database,
        context.fsp,
        context.limits.clockSkewSeconds,
        undefined,
        owner,
      ),
    },
  );
  // The token's issuer must be the party whose certificate holds the key, not just any registered party.
  if (owner.partyId === undefined || owner.partyId !== verified.issuer)
    throw new MpayError('AUTHENTICATION_FAILED');
  return verified.issuer;
}

/** The operator's bearer token for administration (registering parties, revoking keys). */
export function authenticateOperator(operatorToken: string | undefined, request: FastifyRequest): void {
  const header = request.headers.authorization ?? '';
  const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(operatorToken ?? '');
  if (expected.length < 16 || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new MpayError('AUTHENTICATION_FAILED');
  }
}
