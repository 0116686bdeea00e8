import { createLedgerLimits, type LedgerLimits } from '@mpay/ledger';

/** Every limit of the bank service, as named options; the ledger's own limits included. */
export interface BankLimits extends LedgerLimits {
  /** Largest request body accepted (413 above). */
  readonly bodyLimitBytes: number;
  /** Most holds one expiry sweep voids; run it again for more. */
  readonly expiryBatchSizeMax: number;
  /** Most accounts one audit reads into memory. */
  readonly auditAccountsMax: number;
  /** Statement entries per page when the client names no limit. */
  readonly statementPageSizeDefault: number;
  /** Most statement entries (and open holds) one page answers. */
  readonly statementPageSizeMax: number;
  /** Most refunds and reversals one transfer may have. */
  readonly correctionsPerTransferMax: number;
  /** How long an enrolment code the operator issued stays usable. */
  readonly enrolmentCodeValiditySeconds: number;
  /** Failed enrolment attempts per party before its code is blocked (until the operator issues another). */
  readonly enrolmentAttemptsMax: number;
  /** Longest lifetime of an enrolment's proof of possession (exp - iat). */
  readonly enrolmentProofLifetimeSecondsMax: number;
  /** Validity of a key binding from its enrolment. */
  readonly keyBindingValidityDays: number;
  /**
   * Longest lifetime (exp - iat) of a customer's authorisation of a payment
   * order: the customer's signature is short-lived, and checked for expiry
   * when the order is first placed.
   */
  readonly customerAuthorisationLifetimeSecondsMax: number;
  /** Clock difference tolerated between the customer's device and the bank on that check. */
  readonly customerAuthorisationClockSkewSeconds: number;
  /**
   * Time steps accepted on either side of the bank's current one for a
   * one-time code (RFC 6238 §5.2: one step back for the delay of the network
   * and of a code typed at the end of its step, one forward for clocks).
   */
  readonly secondFactorWindowSteps: number;
  /** Wrong one-time codes in a row per party before its second factor is blocked (until the operator resets it). */
  readonly secondFactorAttemptsMax: number;
}

const bankDefaults = {
  bodyLimitBytes: 16 * 1024,
  expiryBatchSizeMax: 1_000,
  auditAccountsMax: 100_000,
  statementPageSizeDefault: 50,
  statementPageSizeMax: 200,
  correctionsPerTransferMax: 100,
  enrolmentCodeValiditySeconds: 86_400,
  enrolmentAttemptsMax: 5,
  enrolmentProofLifetimeSecondsMax: 300,
  keyBindingValidityDays: 365,
  customerAuthorisationLifetimeSecondsMax: 300,
  customerAuthorisationClockSkewSeconds: 60,
  secondFactorWindowSteps: 1,
  secondFactorAttemptsMax: 5,
};

/** Hard ceiling of `statementPageSizeMax`: the page size is three digits on the wire. */
export const statementPageSizeCeiling = 999;

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`bank limits: ${name} must be an integer in ${min}..${max}`);
  }
}

export function createBankLimits(options: Partial<BankLimits> = {}): BankLimits {
  const {
    bodyLimitBytes,
    expiryBatchSizeMax,
    auditAccountsMax,
    statementPageSizeDefault,
    statementPageSizeMax,
    correctionsPerTransferMax,
    enrolmentCodeValiditySeconds,
    enrolmentAttemptsMax,
    enrolmentProofLifetimeSecondsMax,
    keyBindingValidityDays,
    customerAuthorisationLifetimeSecondsMax,
    customerAuthorisationClockSkewSeconds,
    secondFactorWindowSteps,
    secondFactorAttemptsMax,
    ...ledger
  } = { ...bankDefaults, ...options };
  checkInteger('bodyLimitBytes', bodyLimitBytes, 256, 1024 * 1024);
  checkInteger('expiryBatchSizeMax', expiryBatchSizeMax, 1, 100_000);
  checkInteger('auditAccountsMax', auditAccountsMax, 1, 10_000_000);
  checkInteger('statementPageSizeMax', statementPageSizeMax, 1, statementPageSizeCeiling);
  checkInteger('statementPageSizeDefault', statementPageSizeDefault, 1, statementPageSizeMax);
  checkInteger('correctionsPerTransferMax', correctionsPerTransferMax, 1, 10_000);
  checkInteger('enrolmentCodeValiditySeconds', enrolmentCodeValiditySeconds, 60, 30 * 86_400);
  // PSD2 RTS Art. 4: at most five tries before a block.
  checkInteger('enrolmentAttemptsMax', enrolmentAttemptsMax, 1, 5);
  checkInteger('enrolmentProofLifetimeSecondsMax', enrolmentProofLifetimeSecondsMax, 1, 3_600);
  checkInteger('keyBindingValidityDays', keyBindingValidityDays, 1, 3 * 365);
  // The envelope's bounds: a signed message lives at most a day, clocks differ by at most 300 s.
  checkInteger('customerAuthorisationLifetimeSecondsMax', customerAuthorisationLifetimeSecondsMax, 1, 86_400);
  checkInteger('customerAuthorisationClockSkewSeconds', customerAuthorisationClockSkewSeconds, 0, 300);
  // Each step more is one more code a guess may hit; two steps is already ±60 s.
  checkInteger('secondFactorWindowSteps', secondFactorWindowSteps, 0, 2);
  // PSD2 RTS Art. 4(3)(b): at most five failed attempts in a row.
  checkInteger('secondFactorAttemptsMax', secondFactorAttemptsMax, 1, 5);
  return Object.freeze({
    ...createLedgerLimits(ledger),
    bodyLimitBytes,
    expiryBatchSizeMax,
    auditAccountsMax,
    statementPageSizeDefault,
    statementPageSizeMax,
    correctionsPerTransferMax,
    enrolmentCodeValiditySeconds,
    enrolmentAttemptsMax,
    enrolmentProofLifetimeSecondsMax,
    keyBindingValidityDays,
    customerAuthorisationLifetimeSecondsMax,
    customerAuthorisationClockSkewSeconds,
    secondFactorWindowSteps,
    secondFactorAttemptsMax,
  });
}
