// Test-only helpers shared by the envelope tests.
import { type ErrorCode, isMpayError } from '@mpay/protocol';
import { expect } from 'vitest';
import { encodeBase64url, encodeUtf8 } from '../encoding.ts';
import type { VerificationKeyResolver } from '../jws/verify-compact.ts';
import { importPrivateKey } from '../keys/import.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';

export const T0_MILLISECONDS = Date.UTC(2030, 0, 1);
export const T0_SECONDS = T0_MILLISECONDS / 1000;

export function clockAt(seconds: number): () => number {
  return () => seconds * 1000;
}

export function resolverFor(...keys: PublicJwk[]): VerificationKeyResolver {
  return (kid) => keys.find((key) => key.kid === kid);
}

export async function expectMpayError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMpayError(error, code)) {
    throw new Error(
      `expected MpayError ${code}, got ${error instanceof Error ? `${error.name}: ${error.message} ${String((error as { code?: string }).code)}` : String(error)}`,
    );
  }
}

export function base64urlJson(value: unknown): string {
  return encodeBase64url(encodeUtf8(JSON.stringify(value)));
}

/** Replaces one segment of a compact serialization. */
export function withSegment(compact: string, index: number, segment: string): string {
  const segments = compact.split('.');
  segments[index] = segment;
  return segments.join('.');
}

export function expectFrozen(value: object): void {
  expect(Object.isFrozen(value)).toBe(true);
}

/** A compact ES256 JWS with exactly `headerText` as header, signed by hand with WebCrypto (no jose checks). */
export async function signRawEs256(
  headerText: string,
  payload: Uint8Array,
  privateJwk: PrivateJwk,
): Promise<string> {
  const privateKey = await importPrivateKey(privateJwk);
  const signingInput = `${encodeBase64url(encodeUtf8(headerText))}.${encodeBase64url(payload)}`;
  const parameters = { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await crypto.subtle.sign(parameters, privateKey.cryptoKey, encodeUtf8(signingInput));
  return `${signingInput}.${encodeBase64url(new Uint8Array(signature))}`;
}
