import { createMacroLimits, defaultMacroLimits, type MacroLimits, macroLimitsCeiling } from '@mpay/protocol';

/**
 * The limits of the MPASP's macro registration, mPIN logins and payments (seed 002 §3,
 * issue 10 §3), as named options: validated once at start, frozen. Units last.
 */
export interface MacroServiceLimits {
  /** The window over which registration attempts are counted. */
  readonly registrationWindowSeconds: number;
  /** Verified registration attempts one party may make per window (429 with Retry-After above). */
  readonly registrationsPerPartyMax: number;
  /** Verified registration attempts of all parties together per window: each costs a bank call, OPAQUE and Argon2id. */
  readonly registrationsPerWindowMax: number;
  /**
   * Failed mPIN logins in a row after which a client id is blocked (DESIGN.md:
   * "at most five, then a block"). Every started login counts as failed until
   * it finishes well; a success resets the count.
   */
  readonly mpinLoginFailuresMax: number;
  /** How long a started login may wait for its finish. */
  readonly mpinLoginLifetimeSeconds: number;
  /** How long an E_SP channel key lives after its login. */
  readonly channelLifetimeSeconds: number;
  /**
   * How long the failed-login count of a client id nobody holds is kept
   * (unknown ids are counted like known ones, so that a block says nothing
   * about which ids exist); a client's own count is kept for good.
   */
  readonly unknownClientTriesKeptSeconds: number;
  /** Stale registration attempts, logins and channels forgotten per background round. */
  readonly housekeepingBatchSizeMax: number;
  /**
   * T_EXP − the time step 1 was accepted (the core's `transactionLifetimeSeconds`):
   * how long the client has for steps 2–7.
   */
  readonly transactionLifetimeSeconds: number;
  /**
   * Failed openings of one challenge after which it is deleted (the core's
   * `challengeOpenTriesMax`; §3: "more than 3 times, the message will be deleted").
   */
  readonly challengeOpenTriesMax: number;
  /**
   * Wrong secret answers (step 5) in a row per client, across payments, after
   * which its macro payments are blocked (MACRO_SECRET_ANSWER_BLOCKED); a valid
   * answer resets the count.
   */
  readonly secretAnswerFailuresMax: number;
  /** Payments of one client not yet past step 5 (and before T_EXP) at a time; step 1 is refused above. */
  readonly openPaymentsPerClientMax: number;
  /** Step-6 requests sent, and step-12 outcomes asked for, per background round (each). */
  readonly clientBankBatchSizeMax: number;
  /**
   * Lifetime (exp − iat) of the MPASP's signature over a step-6 request; signed
   * afresh for every attempt. At most the client bank's accepted age (300 s).
   */
  readonly clientBankRequestLifetimeSeconds: number;
  /** Longest wait between two questions about one payment's outcome at the client bank (step 12). */
  readonly clientBankOutcomeCheckIntervalMsMax: number;
  /**
   * How long after T_EXP the MPASP still waits for the client bank's order to
   * appear before it records the payment as expired: the banks' clocks may
   * differ from the MPASP's, and an approval the CB took just before its T_EXP
   * must not read as expired here.
   */
  readonly clientBankOutcomeGraceSeconds: number;
  /** Largest answer read from the client bank at steps 6 and 12. */
  readonly clientBankAnswerBytesMax: number;
}

export const defaultMacroServiceLimits: MacroServiceLimits = Object.freeze({
  registrationWindowSeconds: 3_600,
  registrationsPerPartyMax: 5,
  registrationsPerWindowMax: 1_000,
  mpinLoginFailuresMax: 5,
  mpinLoginLifetimeSeconds: 120,
  channelLifetimeSeconds: 900,
  unknownClientTriesKeptSeconds: 86_400,
  housekeepingBatchSizeMax: 500,
  transactionLifetimeSeconds: defaultMacroLimits.transactionLifetimeSeconds,
  challengeOpenTriesMax: defaultMacroLimits.challengeOpenTriesMax,
  secretAnswerFailuresMax: 5,
  openPaymentsPerClientMax: 5,
  clientBankBatchSizeMax: 50,
  clientBankRequestLifetimeSeconds: 60,
  clientBankOutcomeCheckIntervalMsMax: 5_000,
  clientBankOutcomeGraceSeconds: 120,
  clientBankAnswerBytesMax: 64 * 1024,
});

/** Inclusive bounds: a value outside them is a configuration error at start. */
const bounds: Readonly<Record<keyof MacroServiceLimits, readonly [number, number]>> = {
  registrationWindowSeconds: [60, 7 * 86_400],
  registrationsPerPartyMax: [1, 100],
  registrationsPerWindowMax: [1, 1_000_000],
  // Five is DESIGN.md's ceiling for any PIN; fewer is allowed.
  mpinLoginFailuresMax: [1, 5],
  mpinLoginLifetimeSeconds: [10, 600],
  channelLifetimeSeconds: [60, 86_400],
  unknownClientTriesKeptSeconds: [60, 30 * 86_400],
  housekeepingBatchSizeMax: [1, 100_000],
  // The core's own bounds (createMacroLimits checks them again).
  transactionLifetimeSeconds: [10, macroLimitsCeiling.transactionLifetimeSeconds],
  challengeOpenTriesMax: [1, macroLimitsCeiling.challengeOpenTriesMax],
  // Five, as for the mPIN: DESIGN.md's ceiling for any PIN.
  secretAnswerFailuresMax: [1, 5],
  openPaymentsPerClientMax: [1, 100],
  clientBankBatchSizeMax: [1, 10_000],
  // The client bank refuses a step-6 signature that lives longer than 300 s.
  clientBankRequestLifetimeSeconds: [10, 300],
  clientBankOutcomeCheckIntervalMsMax: [100, 600_000],
  clientBankOutcomeGraceSeconds: [0, 3_600],
  clientBankAnswerBytesMax: [1_024, 1_048_576],
};

/** Validates and freezes the macro limits; throws naming the first one out of bounds or unknown. */
export function createMacroServiceLimits(options: Partial<MacroServiceLimits> = {}): MacroServiceLimits {
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`macro limits: unknown limit ${name}`);
  }
  const limits: MacroServiceLimits = { ...defaultMacroServiceLimits, ...options };
  for (const name of Object.keys(bounds) as (keyof MacroServiceLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`macro limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  return Object.freeze(limits);
}

/** The core's limits (startMacro, stepMacro) within the service's. */
export function coreMacroLimits(limits: MacroServiceLimits): MacroLimits {
  return createMacroLimits({
    transactionLifetimeSeconds: limits.transactionLifetimeSeconds,
    challengeOpenTriesMax: limits.challengeOpenTriesMax,
  });
}
