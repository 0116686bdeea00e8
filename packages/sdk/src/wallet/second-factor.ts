import {
  type DecryptionKey,
  decryptWith,
  encryptTo,
  type PrivateJwk,
  type PublicJwk,
  parsePublicJwk,
} from '@mpay/envelope';
import { isPartyId, MpayError } from '@mpay/protocol';
import { TOTP, URI } from 'otpauth';

/**
 * The JWE `cty` of a sealed one-time code; the customer's bank opens only
 * JWEs that say so in their (authenticated) protected header. The bank's
 * openSecondFactor (services/bank) reads exactly what this writes.
 */
export const secondFactorContentType = 'mpay-second-factor+json';
/** The JWE `cty` of the authenticator the bank seals to an enrolling device. */
export const authenticatorContentType = 'mpay-authenticator+json';

/** What the customer seals for the bank: the code, for exactly this payment of this payer. */
export interface SecondFactorInput {
  /** The one-time code the authenticator shows: 6 to 8 digits. */
  readonly code: string;
  /** The payment (the iMS transactionId, the bank's order id). */
  readonly transactionId: string;
  readonly payerId: string;
}

/**
 * The customer's authenticator: an otpauth Key URI
 * (otpauth://totp/BANK:PARTY?secret=…&algorithm=SHA1&digits=6&period=30),
 * what an authenticator app scans. A secret: kept apart from the device's
 * keystore (it stands for the customer's authenticator app).
 */
export type Authenticator = string;

const codePattern = /^[0-9]{6,8}$/;
const transactionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Seals a one-time code to the customer's bank (its encryption key, from
 * GET /bank or the enrolment answer): a compact JWE (ECDH-ES, A256GCM, cty
 * mpay-second-factor+json) of `{ code, transactionId, payerId }`. The wallet
 * puts it into address.from.secondFactor before it signs, so the customer's
 * signature covers it: the FSP can neither read the code nor move it to
 * another payment, and the bank refuses it for any other transaction or
 * payer. SECOND_FACTOR_INVALID for a code that is not 6 to 8 digits.
 */
export async function sealSecondFactor(
  input: SecondFactorInput,
  bankEncryptionJwk: PublicJwk,
): Promise<string> {
  const { code, transactionId, payerId } = input;
  if (typeof code !== 'string' || !codePattern.test(code)) {
    throw new MpayError('SECOND_FACTOR_INVALID', 'code: 6 to 8 digits');
  }
  if (typeof transactionId !== 'string' || !transactionIdPattern.test(transactionId)) {
    throw new MpayError('REQUEST_INVALID', 'transactionId');
  }
  if (!isPartyId(payerId)) throw new MpayError('REQUEST_INVALID', 'payerId');
  const key = parsePublicJwk(bankEncryptionJwk);
  if (key.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return encryptTo(JSON.stringify({ code, transactionId, payerId }), key, {
    contentType: secondFactorContentType,
  });
}

/**
 * Opens the authenticator the bank sealed to the device at enrolment
 * (`sealedAuthenticator`): `{ partyId, uri }` for this party, the uri a TOTP
 * Key URI. Anything else: CRYPTO_DECRYPTION_FAILED.
 */
export async function openAuthenticator(
  jwe: string,
  deviceEncryptionKey: PrivateJwk | DecryptionKey,
  partyId: string,
): Promise<Authenticator> {
  const plaintext = await decryptWith(jwe, [deviceEncryptionKey]);
  let content: { partyId?: unknown; uri?: unknown } | undefined;
  try {
    content = JSON.parse(new TextDecoder().decode(plaintext)) as typeof content;
  } catch {
    content = undefined;
  }
  const uri = content?.uri;
  if (
    content?.partyId !== partyId ||
    typeof uri !== 'string' ||
    Object.keys(content).length !== 2 ||
    !(parseAuthenticator(uri) instanceof TOTP)
  ) {
    throw new MpayError('CRYPTO_DECRYPTION_FAILED');
  }
  return uri;
}

function parseAuthenticator(authenticator: string): TOTP | undefined {
  try {
    const otp = URI.parse(authenticator);
    return otp instanceof TOTP ? otp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The code the customer's authenticator shows at `now` (what the customer
 * types into the wallet): for tests and the demo, which stand in for the
 * customer's authenticator app.
 */
export function authenticatorCode(authenticator: Authenticator, now: Date = new Date()): string {
  const otp = parseAuthenticator(authenticator);
  if (otp === undefined) throw new MpayError('REQUEST_INVALID', 'authenticator');
  return otp.generate({ timestamp: now.getTime() });
}
