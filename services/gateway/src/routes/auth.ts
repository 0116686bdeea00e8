import { timingSafeEqual } from 'node:crypto';
import { authorizationScheme, verifySignedRequest } from '@mpay/http-client';
import { rawBodyOf } from '@mpay/http-server';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { recordNonce } from '../payments/nonces.ts';
import { keyLookup, partySigningKeyResolver } from '../registry/keys.ts';

/** The verified signer of a request's `Authorization: MPay …` token, and the token itself (evidence). */
export interface AuthenticatedParty {
  readonly partyId: string;
  /** The kid of the key that signed the token (a device's binding or a merchant's certificate). */
  readonly kid: string;
  readonly token: string;
}

/**
 * The party that signed this request's `Authorization: MPay …` token; any
 * failure is AUTHENTICATION_FAILED, and a token already used is
 * MESSAGE_REPLAYED (each request signs a new one).
 */
export async function authenticateParty(
  context: GatewayContext,
  request: FastifyRequest,
): Promise<AuthenticatedParty> {
  const owner: { partyId?: string; kid?: string } = {};
  const authorization = request.headers.authorization;
  const verified = await verifySignedRequest(
    {
      method: request.method,
      path: request.url,
      body: rawBodyOf(request),
      authorization,
    },
    { audience: context.fsp.id, resolveKey: partySigningKeyResolver(keyLookup(context), undefined, owner) },
  ).catch((error: unknown) => {
    throw isMpayError(error) && error.category === 'retryable'
      ? error
      : new MpayError('AUTHENTICATION_FAILED');
  });
  // The token's issuer must be the party whose binding or certificate holds the key, not just any registered party.
  if (owner.partyId === undefined || owner.kid === undefined || owner.partyId !== verified.issuer)
    throw new MpayError('AUTHENTICATION_FAILED');
  // A token is used once: its nonce is kept until it expires, so a copy (a log, a proxy) cannot be sent again.
  await recordNonce(context.database, verified.issuer, verified.nonce, verified.expiresAtSeconds);
  const token = (authorization ?? '').slice(authorizationScheme.length + 1);
  return { partyId: verified.issuer, kid: owner.kid, token };
}

/** The operator's bearer token for administration (registering banks and merchants, aliases, revocations). */
export function authenticateOperator(operatorToken: string | undefined, request: FastifyRequest): void {
  const header = request.headers.authorization ?? '';
  const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(operatorToken ?? '');
  if (expected.length < 16 || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new MpayError('AUTHENTICATION_FAILED');
  }
}
