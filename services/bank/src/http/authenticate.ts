import { rawBodyOf } from '@mpay/http-server';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';

/** What the injected verifier sees: the request exactly as received, body as the raw text. */
export interface RequestToVerify {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: string;
}

/**
 * Authenticates a request (JWS verification in production); throws to
 * refuse: MpayError FORBIDDEN for a known caller outside its rights (403),
 * anything else for AUTHENTICATION_FAILED (401). The caller id scopes
 * idempotency keys. A verifier of single-use tokens also returns the token's
 * nonce and expiry (`once`): the hook then refuses the same token twice.
 */
export type VerifyRequest = (request: RequestToVerify) => Promise<{
  callerId: string;
  once?: { readonly nonce: string; readonly expiresAtSeconds: number };
}>;

/** Records a token's nonce for its caller; false when it was already used. */
export type UseNonce = (callerId: string, nonce: string, expiresAtSeconds: number) => Promise<boolean>;

const callers = new WeakMap<FastifyRequest, string>();
const callerIdLengthMax = 255;

/** The authenticated caller of a request that passed `authenticate`. */
export function callerOf(request: FastifyRequest): string {
  const callerId = callers.get(request);
  if (callerId === undefined) throw new Error('assertion failed: route is authenticated');
  return callerId;
}

/**
 * A preValidation hook: runs after the body is read and before it is
 * validated, so an unauthenticated caller learns nothing about the schema.
 * Any failure is AUTHENTICATION_FAILED, without saying why.
 */
export function authenticate(verifyRequest: VerifyRequest, useNonce?: UseNonce) {
  return async (request: FastifyRequest): Promise<void> => {
    let callerId: unknown;
    let once: { readonly nonce: string; readonly expiresAtSeconds: number } | undefined;
    try {
      ({ callerId, once } = await verifyRequest({
        method: request.method,
        url: request.url,
        headers: request.headers,
        rawBody: rawBodyOf(request),
      }));
    } catch (error) {
      // A verified caller outside its allowed routes may be told so; any other failure says nothing.
      if (isMpayError(error, 'FORBIDDEN')) throw new MpayError('FORBIDDEN');
      request.log.info({ err: error }, 'authentication failed');
      throw new MpayError('AUTHENTICATION_FAILED');
    }
    if (typeof callerId !== 'string' || callerId.length === 0 || callerId.length > callerIdLengthMax) {
      throw new MpayError('AUTHENTICATION_FAILED');
    }
    // A token is used once: a copy sent again (from a log, a proxy) is refused before any route runs.
    if (
      once !== undefined &&
      useNonce !== undefined &&
      !(await useNonce(callerId, once.nonce, once.expiresAtSeconds))
    )
      throw new MpayError('MESSAGE_REPLAYED');
    callers.set(request, callerId);
  };
}
