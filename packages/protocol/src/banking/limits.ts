import { MpayError } from '../errors/index.ts';

/** The limits of SA2pMP banking that the bank and the device agree on, as named options. */
export interface BankingLimits {
  /** A login must reach its code step within this (OPAQUE KE2 to the finish with the device's signature). */
  readonly loginLifetimeSeconds: number;
  /** Digits of the one-time code sent to the registered MSISDN. */
  readonly codeDigits: number;
  /** A code is good for this long after it was sent. */
  readonly codeLifetimeSeconds: number;
  /** Wrong codes one login may take; the next failure ends the login (a new login sends a new code). */
  readonly codeTriesPerLoginMax: number;
  /**
   * Failed logins in a row per customer, across devices and factors (password,
   * device signature, phone number, code), then the customer is blocked until
   * the bank unblocks (DESIGN.md: at most five, then a block with an alert).
   */
  readonly loginFailuresMax: number;
  /** A session ends this long after it was opened, whatever its use. */
  readonly sessionLifetimeSeconds: number;
  /** A session ends after this long without a request. */
  readonly sessionIdleSeconds: number;
  /** Longest lifetime (exp − iat) of a signed banking request. */
  readonly requestLifetimeSecondsMax: number;
  /** Statement lines per page, at most. */
  readonly statementPageSizeMax: number;
  /** A renewal notice is sent this many days before a binding expires. */
  readonly renewalNoticeDays: number;
}

export const defaultBankingLimits: BankingLimits = Object.freeze({
  loginLifetimeSeconds: 300,
  codeDigits: 6,
  codeLifetimeSeconds: 300,
  codeTriesPerLoginMax: 3,
  loginFailuresMax: 5,
  sessionLifetimeSeconds: 1_800,
  sessionIdleSeconds: 600,
  requestLifetimeSecondsMax: 120,
  statementPageSizeMax: 100,
  renewalNoticeDays: 30,
});

/** The widest each limit may be set: beyond these a setting is a mistake, not a choice. */
export const bankingLimitsCeiling: BankingLimits = Object.freeze({
  loginLifetimeSeconds: 1_800,
  codeDigits: 9,
  codeLifetimeSeconds: 900,
  codeTriesPerLoginMax: 5,
  loginFailuresMax: 10,
  sessionLifetimeSeconds: 43_200,
  sessionIdleSeconds: 3_600,
  requestLifetimeSecondsMax: 300,
  statementPageSizeMax: 500,
  renewalNoticeDays: 365,
});

const floors: Partial<Record<keyof BankingLimits, number>> = { codeDigits: 6, loginLifetimeSeconds: 10 };

/** Validated limits: each a positive safe integer within the ceiling (codes of at least six digits). */
export function createBankingLimits(options: Partial<BankingLimits> = {}): BankingLimits {
  const limits = { ...defaultBankingLimits, ...options };
  for (const name of Object.keys(defaultBankingLimits) as (keyof BankingLimits)[]) {
    const value = limits[name];
    const floor = floors[name] ?? 1;
    if (!Number.isSafeInteger(value) || value < floor || value > bankingLimitsCeiling[name]) {
      throw new MpayError(
        'REQUEST_INVALID',
        `banking limit ${name} must be an integer in ${floor}..${bankingLimitsCeiling[name]}`,
      );
    }
  }
  if (limits.sessionIdleSeconds > limits.sessionLifetimeSeconds) {
    throw new MpayError('REQUEST_INVALID', 'banking limit sessionIdleSeconds exceeds sessionLifetimeSeconds');
  }
  return Object.freeze(limits);
}
