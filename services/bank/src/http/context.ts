import type { Database } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import type { BankObservations } from '../metrics.ts';
import type { BankLedger } from '../store/bank-ledger.ts';

export interface RouteContext {
  readonly database: Database;
  readonly ledger: BankLedger;
  readonly limits: BankLimits;
  /** The service's time: every rule that depends on time gets it from here. */
  readonly clock: () => Date;
  readonly newId: () => string;
  /** Where what the bank's transactions did is counted once they committed (metrics.ts); none: not counted. */
  readonly observations?: BankObservations | undefined;
}
