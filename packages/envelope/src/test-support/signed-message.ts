// Test-only: one signed message shared by the JWS tests.

import { signPayload } from '../jws/sign.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { clockAt, T0_SECONDS } from './fixtures.ts';

export const claims = {
  issuer: 'merkur.trade@merchant.xbank',
  audience: 'gateway',
  transactionId: 'txn-1',
  expiresInSeconds: 120,
  now: clockAt(T0_SECONDS),
};
export const expectations = { audience: 'gateway', issuer: claims.issuer, transactionId: 'txn-1' };
export const options = { now: clockAt(T0_SECONDS + 10) };
export const payment = { amount: '1250', currency: 'EUR', payee: 'merkur.trade@merchant.xbank' };

export interface SignedMessageFixture {
  readonly es256: GeneratedKeyPair;
  readonly ed25519: GeneratedKeyPair;
  /** `payment` signed with `es256`. */
  readonly token: string;
}

export async function signedMessageFixture(): Promise<SignedMessageFixture> {
  const es256 = await generateSigningKeyPair();
  const ed25519 = await generateSigningKeyPair('EdDSA');
  return { es256, ed25519, token: await signPayload(payment, claims, es256.privateJwk) };
}
