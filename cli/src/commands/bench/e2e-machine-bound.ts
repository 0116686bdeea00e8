/**
 * What the machine leaves the servers, read from one `mpay bench e2e` run:
 * the driver (the phones and the merchants) and a local PostgreSQL server
 * share the machine's cores with the servers, so they bound payments/s, and
 * the crypto ratio with it, whatever the servers cost. An upper bound: it
 * counts every core as fully used, by nothing but the run.
 */

/** The crypto ratio the performance study aims at (docs/benchmarks.md): measured payments/s over the ceiling. */
export const targetCryptoRatio = 0.3;

export interface MachineBoundInput {
  /** Cores this process may use (os.availableParallelism()). */
  readonly cores: number;
  /** The crypto-only ceiling of the run, payments/s on one core. */
  readonly ceilingPerSecond: number;
  /** The driver's CPU per payment, ms. */
  readonly driverMs: number;
  /** The PostgreSQL server's CPU per payment, ms; undefined when it is inside the servers (PGlite) or not measured. */
  readonly databaseMs: number | undefined;
}

export interface MachineBound {
  readonly cores: number;
  /** Payments/s the cores would hold if the servers cost nothing: cores over the driver's and the database's CPU. */
  readonly payments_per_second_without_servers: number | null;
  /** That over the ceiling: the highest ratio this machine allows with this driver and database. */
  readonly ratio_without_servers: number | null;
  /**
   * The servers' CPU per payment, ms, at which the cores would just hold the
   * target ratio (targetCryptoRatio); zero or less: out of reach on this
   * machine with this driver and database.
   */
  readonly servers_cpu_ms_for_target_ratio: number | null;
  readonly target_ratio: number;
  /** Whether the database server's CPU is in (a local PostgreSQL it could read); else the driver's alone. */
  readonly database_counted: boolean;
}

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;

export function machineBound(input: MachineBoundInput): MachineBound {
  if (!Number.isSafeInteger(input.cores) || input.cores < 1)
    throw new Error('machine bound: cores must be a positive integer');
  const others = input.driverMs + (input.databaseMs ?? 0);
  const budgetMs = input.cores * 1000;
  const usable = input.ceilingPerSecond > 0 && Number.isFinite(input.ceilingPerSecond);
  const without = others > 0 ? budgetMs / others : null;
  return {
    cores: input.cores,
    payments_per_second_without_servers: without === null ? null : round(without, 1),
    ratio_without_servers: without === null || !usable ? null : round(without / input.ceilingPerSecond, 3),
    servers_cpu_ms_for_target_ratio: usable
      ? round(budgetMs / (targetCryptoRatio * input.ceilingPerSecond) - others, 1)
      : null,
    target_ratio: targetCryptoRatio,
    database_counted: input.databaseMs !== undefined,
  };
}

/** The text line: `2 cores: with the driver and the PostgreSQL server as they ran, at most 47.5 payments/s even if the servers cost nothing (ratio 0.239); ratio 0.3 is out of reach …`. */
export function machineBoundText(bound: MachineBound): string {
  const others = bound.database_counted ? 'the driver and the PostgreSQL server' : 'the driver';
  if (bound.payments_per_second_without_servers === null) return `${bound.cores} cores; not measured`;
  const ratio = bound.ratio_without_servers === null ? '' : ` (ratio ${bound.ratio_without_servers})`;
  const target = bound.servers_cpu_ms_for_target_ratio;
  const needs =
    target === null
      ? ''
      : target <= 0
        ? `; ratio ${bound.target_ratio} is out of reach on this machine with them`
        : `; ratio ${bound.target_ratio} needs the servers at ≤ ${target} ms/payment`;
  return `${bound.cores} cores: with ${others} as they ran, at most ${bound.payments_per_second_without_servers} payments/s even if the servers cost nothing${ratio}${needs}`;
}
