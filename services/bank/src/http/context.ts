import type { Database } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import type { BankLedger } from '../store/bank-ledger.ts';

export interface RouteContext {
  readonly database: Database;
  readonly ledger: BankLedger;
  readonly limits: BankLimits;
  /** The service's time: every rule that depends on time gets it from here. */
  readonly clock: () => Date;
  readonly newId: () => string;
}
