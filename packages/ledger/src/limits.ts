import { amountMinorMax } from '@mpay/protocol';

/** Every limit the ledger rules enforce, as named options (units last). */
export interface LedgerLimits {
  /** Largest amount of one transfer, in minor units. */
  readonly amountMax: bigint;
  /** Longest transfer reference, in characters. */
  readonly referenceLengthMax: number;
  /** Longest hold a pending transfer may place. */
  readonly timeoutSecondsMax: number;
}

/** Largest value of any balance field: what a `numeric(38, 0)` column holds (TigerBeetle uses u128). */
export const balanceMax = 10n ** 38n - 1n;

/** Hard ceilings for the options (the storage columns are sized for them). */
export const referenceLengthCeiling = 128;
export const timeoutSecondsCeiling = 366 * 24 * 60 * 60;

export const defaultLedgerLimits: LedgerLimits = Object.freeze({
  amountMax: amountMinorMax,
  referenceLengthMax: referenceLengthCeiling,
  timeoutSecondsMax: 30 * 24 * 60 * 60,
});

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Defaults overridden by `options`; a limit out of range is a configuration error and throws. */
export function createLedgerLimits(options: Partial<LedgerLimits> = {}): LedgerLimits {
  const limits = { ...defaultLedgerLimits, ...options };
  if (typeof limits.amountMax !== 'bigint' || limits.amountMax < 1n || limits.amountMax > amountMinorMax) {
    throw new Error(`ledger limits: amountMax must be 1..${amountMinorMax}`);
  }
  if (!isIntegerIn(limits.referenceLengthMax, 0, referenceLengthCeiling)) {
    throw new Error(`ledger limits: referenceLengthMax must be 0..${referenceLengthCeiling}`);
  }
  if (!isIntegerIn(limits.timeoutSecondsMax, 1, timeoutSecondsCeiling)) {
    throw new Error(`ledger limits: timeoutSecondsMax must be 1..${timeoutSecondsCeiling}`);
  }
  return Object.freeze(limits);
}
