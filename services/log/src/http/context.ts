import type { Database } from '@mpay/storage';
import type { LogLimits } from '../limits.ts';
import type { Submitter } from './authenticate.ts';
import type { GroupCommit } from './group-commit.ts';

export interface LogRouteContext {
  readonly database: Database;
  readonly origin: string;
  readonly submitters: readonly Submitter[];
  readonly limits: LogLimits;
  readonly clockSkewSeconds: number;
  readonly clock: () => Date;
  readonly submissions: GroupCommit;
}
