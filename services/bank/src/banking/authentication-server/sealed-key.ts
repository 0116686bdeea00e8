import { decryptWith, encryptTo } from '@mpay/envelope';
import { bankingSessionKeyBytes } from '@mpay/protocol';
import type { BankEncryptionKey } from '../../bank-identity.ts';
import type { BankingContext } from '../context.ts';

/**
 * A session key at rest: sealed to the bank's own encryption key (JWE,
 * ECDH-ES + A256GCM), so that a copy of banking_sessions opens no session
 * without that key. Opened only in memory, for the request that needs it.
 */

function encryptionKeyOf(context: BankingContext): BankEncryptionKey {
  const key = context.bank.encryption;
  // The service refuses to start banking without it (service.ts).
  if (key === undefined) throw new Error('assertion failed: mobile banking has the bank encryption key');
  return key;
}

export async function sealSessionKey(context: BankingContext, sessionKey: Uint8Array): Promise<string> {
  if (sessionKey.length !== bankingSessionKeyBytes)
    throw new Error('assertion failed: a 32-byte session key');
  return encryptTo(sessionKey, encryptionKeyOf(context).publicJwk);
}

/** The session key a row holds; a row the bank's key does not open is a broken invariant, not a caller's error. */
export async function openSessionKey(context: BankingContext, sealed: string): Promise<Uint8Array> {
  let key: Uint8Array;
  try {
    key = await decryptWith(sealed, [encryptionKeyOf(context).privateJwk]);
  } catch (cause) {
    throw new Error('assertion failed: a stored session key opens with the bank encryption key', { cause });
  }
  if (key.length !== bankingSessionKeyBytes) throw new Error('assertion failed: a 32-byte session key');
  return key;
}
