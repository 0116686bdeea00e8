/** The limits of the macro payment, as named, validated options. */
export interface MacroLimits {
  /**
   * T_EXP − the time the MPASP accepted step 1: how long the client has for
   * the customer's part of the protocol (steps 2–7, up to the approval). One
   * deadline for the whole request, as the paper's T_EXP is "the timestamp
   * when the transaction request expires".
   */
  readonly transactionLifetimeSeconds: number;
  /**
   * Failed decryption tries of the challenge (step 3) after which it is
   * deleted. §3: "If the client tries to decrypt the message more than 3
   * times, the message will be deleted at client device."
   */
  readonly challengeOpenTriesMax: number;
}

/** The largest values accepted: the paper's three tries, and at most 30 minutes for a request. */
export const macroLimitsCeiling: MacroLimits = Object.freeze({
  transactionLifetimeSeconds: 1_800,
  challengeOpenTriesMax: 3,
});

export const defaultMacroLimits: MacroLimits = Object.freeze({
  transactionLifetimeSeconds: 300,
  challengeOpenTriesMax: 3,
});

function checkInteger(name: keyof MacroLimits, value: number, min: number): void {
  const max = macroLimitsCeiling[name];
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`macro limits: ${name} must be an integer in ${min}..${max}`);
  }
}

/** The defaults with `options` applied, each checked against its range; frozen. */
export function createMacroLimits(options: Partial<MacroLimits> = {}): MacroLimits {
  const limits: MacroLimits = Object.freeze({
    transactionLifetimeSeconds:
      options.transactionLifetimeSeconds ?? defaultMacroLimits.transactionLifetimeSeconds,
    challengeOpenTriesMax: options.challengeOpenTriesMax ?? defaultMacroLimits.challengeOpenTriesMax,
  });
  checkInteger('transactionLifetimeSeconds', limits.transactionLifetimeSeconds, 10);
  checkInteger('challengeOpenTriesMax', limits.challengeOpenTriesMax, 1);
  return limits;
}
