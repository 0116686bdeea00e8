import { decryptWith, encryptTo } from '@mpay/envelope';
import type { BankEncryptionKey } from '../bank-identity.ts';
import { jweContentType } from './sealed-code.ts';
import type { TotpAlgorithm, TotpParameters } from './totp.ts';

/** The JWE `cty` of a TOTP secret the bank sealed to itself, so that it never opens as anything else. */
const storedSecretContentType = 'mpay-totp-secret+json';

/** A party's TOTP secret with what generates its codes, as the bank keeps it (sealed). */
export interface TotpSecret extends TotpParameters {
  readonly partyId: string;
  /** Base32 (RFC 4648), no padding. */
  readonly secret: string;
}

const members = ['algorithm', 'digits', 'partyId', 'periodSeconds', 'secret'].join();
const algorithms: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

/**
 * Seals a secret for storage: a JWE to the bank's own encryption key. A
 * copy of the database alone reads no secret; the plaintext names the
 * party, so a sealed secret moved onto another party's row does not open.
 */
export function sealTotpSecret(secret: TotpSecret, key: BankEncryptionKey): Promise<string> {
  return encryptTo(JSON.stringify(secret), key.publicJwk, { contentType: storedSecretContentType });
}

/**
 * Opens a stored secret of `partyId`. It was written by this bank, so any
 * failure is a corrupted row or a bank key that changed under its data: an
 * error (500), never a refusal the customer could cause.
 */
export async function openTotpSecret(
  sealed: string,
  key: BankEncryptionKey,
  partyId: string,
): Promise<TotpSecret> {
  const plaintext = await decryptWith(sealed, [key.privateJwk]);
  if (jweContentType(sealed) !== storedSecretContentType) {
    throw new Error('assertion failed: a stored TOTP secret');
  }
  const secret = JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
  const wellFormed =
    Object.keys(secret).sort().join() === members &&
    secret.partyId === partyId &&
    typeof secret.secret === 'string' &&
    /^[A-Z2-7]{16,128}$/.test(secret.secret) &&
    algorithms.includes(secret.algorithm as TotpAlgorithm) &&
    Number.isSafeInteger(secret.digits) &&
    (secret.digits as number) >= 6 &&
    (secret.digits as number) <= 8 &&
    Number.isSafeInteger(secret.periodSeconds) &&
    (secret.periodSeconds as number) >= 1;
  if (!wellFormed) throw new Error(`assertion failed: the stored TOTP secret of ${partyId}`);
  return Object.freeze(secret as unknown as TotpSecret);
}
