import { isMpayError } from '@mpay/protocol';
import { type Account, type AccountKind, openAccount } from './account/account.ts';

/** A deterministic ledger id (UUID text) for tests: ledgerIdOf(7) → '00000000-0000-4000-8000-000000000007'. */
export function ledgerIdOf(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

export function accountOf(index: number, kind: AccountKind, balances: Partial<Account> = {}): Account {
  const owner =
    kind === 'merchant'
      ? `shop${index}@merchant.xbank`
      : kind === 'customer'
        ? `person${index}@person.xbank`
        : 'xbank';
  return { ...openAccount({ id: ledgerIdOf(index), ledger: 'EUR', owner, kind }), ...balances };
}

export const epoch = new Date('2026-01-01T00:00:00.000Z');

export function secondsAfter(start: Date, seconds: number): Date {
  return new Date(start.getTime() + seconds * 1000);
}

/** The MpayError code `work` throws, or undefined when it returns; any other error is rethrown. */
export function errorCodeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
  return undefined;
}
