import { type ErrorCode, errorMessageOf, isErrorCode } from '@mpay/protocol';

/**
 * What the customer (or the operator) reads when the bank refuses: for each
 * stable code the platform's banking can answer, one sentence on what it
 * means here and what to do next. The code is always printed too (scripts
 * branch on it, and on `--json`'s `code`). Authentication refusals say no
 * more than the bank said: which factor failed is not known here either.
 */

/** Who the advice is for: the user id of the device file, the party, the bank. */
export interface BankingErrorContext {
  readonly userId?: string | undefined;
  readonly partyId?: string | undefined;
  readonly bank?: string | undefined;
}

type Advice = (context: BankingErrorContext) => string;

const userFlag = (context: BankingErrorContext) => `--user ${context.userId ?? 'USERID'}`;
const partyOf = (context: BankingErrorContext) => context.partyId ?? 'PARTY';

const advice: Readonly<Partial<Record<ErrorCode, Advice>>> = {
  BANKING_LOGIN_FAILED: () =>
    'the login was refused: the password, this device (its key, SIM or phone), the phone number or the SMS code did not match; the bank does not say which. Failed logins are counted, and too many in a row block mobile banking.',
  BANKING_LOGIN_BLOCKED: (context) =>
    `mobile banking is blocked after too many failed logins; the bank must lift the block (its operator: npx mpay banking unblock ${partyOf(context)}).`,
  BANKING_SESSION_INVALID: (context) =>
    `the session has ended (expired, idle too long, or closed when a device was revoked or a key renewed): log in again with npx mpay banking login ${userFlag(context)}.`,
  BANKING_REQUEST_INVALID: (context) =>
    `the bank could not verify this device's request (its key may have been revoked or renewed): log in again (npx mpay banking login ${userFlag(context)}); if that is refused too, this device must be enrolled again.`,
  BANKING_REQUEST_EXPIRED: () =>
    "the request's signature had expired when the bank read it: check this computer's clock and try again.",
  BANKING_REQUEST_REPLAYED: () =>
    'the bank has received this exact request before and did not run it again: send a new one.',
  BANKING_REGISTRATION_FAILED: () =>
    'the bank refused to register this device for mobile banking: the user id must be the one the bank registered for this party, and the account one that the enrolment code named.',
  BANKING_PASSWORD_EXISTS: (context) =>
    `a password is registered for this customer already; the bank resets it before a new one can be set (its operator: POST /banking/customers/${partyOf(context)}/password-reset).`,
  BANKING_CUSTOMER_EXISTS: () =>
    'this party or this user id is registered for mobile banking already (a new phone number is a new registration).',
  BANKING_BILLER_UNKNOWN: () =>
    'this bank has no biller with that id; its operator registers billers with npx mpay banking biller add.',
  BANKING_BILLER_EXISTS: () => 'a biller with this id is registered at this bank already.',
  BANKING_DEVICE_UNKNOWN: (context) =>
    `no device of this customer has that serial: npx mpay banking devices ${userFlag(context)} lists them.`,
  BANKING_RENEWAL_INVALID: () =>
    "the bank refused the key renewal (no open notice for this device, or the new key's proof did not verify); the current key stays in use.",
  INSUFFICIENT_FUNDS: () => 'the account does not hold enough for this: nothing moved.',
  LIMIT_EXCEEDED: () => "this would pass the account's per-transaction or daily debit limit: nothing moved.",
  PAYEE_UNKNOWN: () => "the payee's bank has no account of that payee in this currency: nothing moved.",
  ACCOUNT_UNKNOWN: () => 'the bank has no such account (or the party owns no open customer account there).',
  ACCOUNT_CLOSED: () => 'the account is closed: nothing moved.',
  BANK_UNKNOWN: () => "the payee's bank is not a bank this bank pays through: nothing moved.",
  KEY_BINDING_REVOKED: () =>
    "this device's key has been revoked: it can no longer sign; enrol the device again with a new enrolment code.",
  KEY_BINDING_EXPIRED: () =>
    "this device's key binding has expired: enrol the device again with a new enrolment code.",
  KEY_BINDING_INVALID: () => "the bank's key binding did not verify: the device did not adopt it.",
  ENROLMENT_FAILED: () =>
    'the enrolment was refused: the code is wrong, used or expired, or names another party. Ask the bank for a new code.',
  ENROLMENT_BLOCKED: () =>
    "enrolment is blocked for this party after too many wrong codes; the bank's operator must issue a new code.",
  CRYPTO_VERIFICATION_FAILED: () =>
    "an answer did not verify under the bank's published keys: nothing in it was used.",
  BANK_ANSWER_INVALID: () => "the bank's answer is not what the protocol says: nothing in it was used.",
  BANK_UNAVAILABLE: () => 'the bank cannot be reached: is the platform running (npm start)?',
  SERVICE_UNAVAILABLE: () => 'a service cannot be reached: is the platform running (npm start)?',
  AUTHENTICATION_FAILED: () =>
    "the bank refused the operator's signature (is this the platform's data folder?).",
  NOT_FOUND: () => 'the bank has no such record.',
  PARTY_ID_INVALID: () => 'the bank refused the party id (it must be a person or merchant of this bank).',
};

/** One line for stderr: `CODE: what it means and what to do`, with the bank's detail when it gave one. */
export function describeBankingError(
  code: string,
  detail: string | undefined,
  context: BankingErrorContext = {},
): string {
  const known = isErrorCode(code) ? advice[code] : undefined;
  const text = known?.(context) ?? (isErrorCode(code) ? errorMessageOf(code) : 'unexpected error');
  return `${code}: ${text}${detail === undefined || detail === '' ? '' : ` (${detail})`}`;
}

/** The codes with advice of their own (the rest print the catalogue's message). */
export const bankingErrorCodesAdvised: readonly string[] = Object.keys(advice);
