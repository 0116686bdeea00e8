import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { FastifyRequest } from 'fastify';

/**
 * Bearer tokens of the shop: the merchant's (configuration), a cart's (given
 * when the cart is created) and an order's (given at checkout). Only their
 * SHA-256 is stored; every comparison is constant-time over the hashes.
 */

/** 256 random bits, base64url: what nobody guesses. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Token text as the shop issues it (and the shortest a configured merchant token may be). */
const tokenPattern = /^[A-Za-z0-9_-]{32,256}$/;

export function isWellFormedToken(token: string): boolean {
  return tokenPattern.test(token);
}

/** SHA-256 of a token, hex: what the database keeps. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time: the presented token's hash against a stored one (hex). */
export function tokenMatches(presented: string, storedHash: string): boolean {
  const hash = Buffer.from(tokenHash(presented), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return hash.length === stored.length && timingSafeEqual(hash, stored);
}

/**
 * An order's token, derived from the token of the cart it was checked out
 * from: a retried checkout (the first answer lost) gets the same token back,
 * and the database keeps only its hash.
 */
export function orderTokenFor(cartToken: string, orderId: string): string {
  return createHmac('sha256', cartToken).update(`mpay-shop order token\n${orderId}`).digest('base64url');
}

/** The bearer token of the Authorization header, or undefined (absent or not a token). */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length > 300) return undefined;
  const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header);
  return match?.[1] !== undefined && isWellFormedToken(match[1]) ? match[1] : undefined;
}

/**
 * The merchant's endpoints: the configured bearer token, compared in constant
 * time; anything else is 401 AUTHENTICATION_FAILED, without saying why.
 */
export function merchantAuthenticator(merchantToken: string): (request: FastifyRequest) => Promise<void> {
  if (!isWellFormedToken(merchantToken))
    throw new Error('merchant shop: merchantToken must be 32..256 base64url characters');
  const expected = tokenHash(merchantToken);
  return async (request) => {
    const presented = bearerTokenOf(request);
    if (presented === undefined || !tokenMatches(presented, expected))
      throw new MpayError('AUTHENTICATION_FAILED');
  };
}
