/**
 * Whether the window measured servers that had settled. V8 compiles a
 * service's code with its optimising compiler only once that code has run
 * often enough, and the servers' caches and database connections fill as
 * payments arrive: over their first 20 s of payments the servers took 12–29 %
 * more CPU per payment than from 30 s on, in two runs (docs/benchmarks.md,
 * "The warm-up measured"). The bench reads the servers' CPU at the window's half as well,
 * so every run says whether its window was still part of that warm-up.
 */

/** The servers' CPU per payment in each half of the window, in ms. */
export interface WindowHalves {
  readonly first: number;
  readonly second: number;
}

/**
 * A first half at least this much dearer per payment than the second: the
 * servers were still warming up. Ten-second slices of one settled run varied
 * by up to 12 % here; the first slices after the first payments were 22–23 %
 * dearer than the next.
 */
export const stillWarmingRatio = 1.2;

/**
 * Each half's CPU per payment (rounded to 0.1 ms), or null when it cannot be
 * told: the CPU not read, or a half in which no payment completed.
 */
export function cpuPerPaymentByHalf(
  cpuMs: number | undefined,
  firstHalfCpuMs: number | undefined,
  payments: number,
  paymentsFirstHalf: number,
): WindowHalves | null {
  if (cpuMs === undefined || firstHalfCpuMs === undefined) return null;
  const paymentsSecondHalf = payments - paymentsFirstHalf;
  if (paymentsFirstHalf < 1 || paymentsSecondHalf < 1) return null;
  const round1 = (value: number) => Math.round(value * 10) / 10;
  return {
    first: round1(firstHalfCpuMs / paymentsFirstHalf),
    second: round1(Math.max(0, cpuMs - firstHalfCpuMs) / paymentsSecondHalf),
  };
}

/** Whether the first half cost at least stillWarmingRatio times the second per payment. */
export function stillWarming(halves: WindowHalves | null): boolean {
  return halves !== null && halves.second > 0 && halves.first / halves.second >= stillWarmingRatio;
}

/** The report's line when the window was still warming up; undefined otherwise. */
export function stillWarmingLine(halves: WindowHalves | null): string | undefined {
  if (halves === null || !stillWarming(halves)) return undefined;
  const more = Math.round((halves.first / halves.second - 1) * 100);
  return `the window's first half took ${more} % more server CPU per payment than its second (${halves.first} against ${halves.second} ms): the servers were still warming up; a longer --warmup measures them settled`;
}
