import type { Database } from '@mpay/storage';
import type { BankIdentity } from '../bank-identity.ts';
import type { BankLimits } from '../limits.ts';

/** Where the bank writes what an operator must see (pino's signature: an object, then the message). */
export interface EventLog {
  info(event: Record<string, unknown>, message: string): void;
  warn(event: Record<string, unknown>, message: string): void;
}

export interface DepositoryContext {
  readonly database: Database;
  readonly bank: BankIdentity;
  readonly limits: BankLimits;
  readonly clock: () => Date;
  readonly newId: () => string;
  readonly log: EventLog;
}
