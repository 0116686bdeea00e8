import { type DecryptionKey, decodeBase64url, decryptWith, type PrivateJwk } from '@mpay/envelope';
import { isPartyId, MpayError } from '@mpay/protocol';

/**
 * The JWE `cty` of a sealed one-time code, as the wallet's sealSecondFactor
 * (@mpay/sdk) writes it. The protected header is authenticated, so after
 * decryption it says what the plaintext is: nothing else sealed to the
 * bank's key (a stored secret, say) opens as a code.
 */
export const secondFactorContentType = 'mpay-second-factor+json';

/** Longest sealed code accepted, in characters (one is about 400). */
export const sealedSecondFactorLengthMax = 2_048;

/** What the customer sealed: the code, for exactly one payment of one payer. */
export interface OpenedSecondFactor {
  readonly code: string;
  readonly transactionId: string;
  readonly payerId: string;
}

const members = ['code', 'payerId', 'transactionId'].join();
const codePattern = /^[0-9]{6,8}$/;
const transactionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function invalid(cause?: unknown): never {
  throw new MpayError('SECOND_FACTOR_INVALID', undefined, cause === undefined ? undefined : { cause });
}

/**
 * The `cty` of a compact JWE's protected header. Read after decryption
 * succeeded: the header is authenticated (it is the AES-GCM additional
 * data), so then it says what the sender wrote.
 */
export function jweContentType(jwe: string): unknown {
  const header = decodeBase64url(jwe.slice(0, Math.max(jwe.indexOf('.'), 0)));
  try {
    return header === undefined
      ? undefined
      : (JSON.parse(new TextDecoder().decode(header)) as { cty?: unknown }).cty;
  } catch {
    return undefined;
  }
}

/**
 * Opens the customer's sealed code (address.from.secondFactor of the iMS
 * message): a compact JWE to the bank's key (ECDH-ES, A256GCM) whose
 * protected header says `cty: mpay-second-factor+json`, and whose plaintext
 * is exactly `{ code, transactionId, payerId }`: 6 to 8 digits, a lower-case
 * UUID, a party id in canonical form. Anything else, whatever failed (size,
 * header, key, tag, content), is SECOND_FACTOR_INVALID without saying what.
 * Whether the code and its names fit the order is the caller's check.
 */
export async function openSecondFactor(
  jwe: unknown,
  bankDecryptionKey: PrivateJwk | DecryptionKey,
): Promise<OpenedSecondFactor> {
  if (typeof jwe !== 'string' || jwe.length > sealedSecondFactorLengthMax) invalid();
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWith(jwe, [bankDecryptionKey], {
      compactLengthMax: sealedSecondFactorLengthMax,
    });
  } catch (cause) {
    invalid(cause);
  }
  if (jweContentType(jwe) !== secondFactorContentType) invalid();
  let content: unknown;
  try {
    content = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch (cause) {
    invalid(cause);
  }
  if (typeof content !== 'object' || content === null || Array.isArray(content)) invalid();
  const record = content as Record<string, unknown>;
  const { code, transactionId, payerId } = record;
  const wellFormed =
    Object.keys(record).sort().join() === members &&
    typeof code === 'string' &&
    codePattern.test(code) &&
    typeof transactionId === 'string' &&
    transactionIdPattern.test(transactionId) &&
    isPartyId(payerId);
  if (!wellFormed) invalid();
  return Object.freeze({ code, transactionId, payerId });
}
