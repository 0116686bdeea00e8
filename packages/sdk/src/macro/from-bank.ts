import {
  type DecryptionKey,
  decryptWith,
  keyResolverFromJwkSet,
  type PrivateJwk,
  verifyPayload,
} from '@mpay/envelope';
import { isMpayError, MpayError, type Sha256Digest } from '@mpay/protocol';
import { type BankTrust, fetchBankTrust } from '../merchant/seal.ts';

/**
 * What a party's device does with the messages its own bank sends it in a
 * macro payment (PApp_Req and Pay_Confirm to the client, Pay_Confirm to the
 * merchant): open the JWE sealed to its key, verify the bank's JWS inside
 * under the bank's own keys (issuer the bank, audience the party, txn SID_T),
 * and hand the content to the core's strict parser. Any failure is
 * CRYPTO_VERIFICATION_FAILED: nothing unverified is shown as the bank's word.
 */

/** The bank signs its PApp_Req until T_EXP and its statements for a day (services/bank macroBankLimits). */
export const bankMessageAgeSecondsMax = 86_400;
export const sessionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The claims signPayload adds next to a content; the content is what remains. */
const claimNames: ReadonlySet<string> = new Set(['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']);

export function contentOf(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).filter(([name]) => !claimNames.has(name)));
}

/** None of the bank's contents read by a device has a hash to check (only PApp_Resp has). */
export const noDigest: Sha256Digest = () => {
  throw new Error('assertion failed: only PApp_Resp is checked with a digest');
};

/** A JSON object's members, or none for anything else (the caller then refuses the missing fields). */
export function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The bank's JWS for `audience` about SID_T, verified under the bank's keys. */
export function verifyFromBank(bank: BankTrust, audience: string, jws: unknown, sessionId: string) {
  return verifyPayload(
    jws,
    keyResolverFromJwkSet(bank.keys),
    { issuer: bank.id, audience, transactionId: sessionId },
    { maxAgeSeconds: bankMessageAgeSecondsMax },
  ).catch(() => {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', `not from ${bank.id}`);
  });
}

/** Opens what the bank sealed to `key` and verifies the bank's JWS inside: its payload, the JWE and the JWS. */
export async function openFromBank(
  bank: BankTrust,
  key: PrivateJwk | DecryptionKey,
  audience: string,
  sealed: unknown,
  sessionId: string,
): Promise<{ payload: Readonly<Record<string, unknown>>; sealed: string; jws: string }> {
  try {
    const jws = new TextDecoder('utf-8', { fatal: true }).decode(await decryptWith(sealed, [key]));
    const { payload } = await verifyFromBank(bank, audience, jws, sessionId);
    return { payload, sealed: sealed as string, jws };
  } catch (error) {
    if (isMpayError(error, 'CRYPTO_VERIFICATION_FAILED')) throw error;
    throw new MpayError('CRYPTO_VERIFICATION_FAILED', `not from ${bank.id}`);
  }
}

/** A party's own bank as its app knows it: pinned, or read once from the bank's GET /bank. */
export class PinnedBank {
  #bank: Promise<BankTrust> | undefined;

  constructor(
    private readonly bankUrl: string,
    pinned?: BankTrust,
  ) {
    if (pinned !== undefined) this.#bank = Promise.resolve(pinned);
  }

  trust(): Promise<BankTrust> {
    this.#bank ??= fetchBankTrust(this.bankUrl);
    return this.#bank;
  }
}
