import { type ErrorCode, isMpayError } from '@mpay/protocol';
import type { Account } from '../account/account.ts';
import type { TransferResult } from '../linked/linked.ts';
import type { Transfer } from '../transfer/transfer.ts';

/** What one request came to: the transfer (created or replayed) or the refusal's code. */
export type Outcome =
  | { readonly transfer: Transfer; readonly created: boolean }
  | { readonly code: ErrorCode };

/** Refusals a client can provoke; any other error (an assertion) fails the run. */
const expectedRefusals: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ACCOUNTS_MUST_BE_DIFFERENT',
  'CURRENCY_MISMATCH',
  'INSUFFICIENT_FUNDS',
  'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
  'TRANSFER_NOT_PENDING',
  'TRANSFER_ALREADY_POSTED',
  'TRANSFER_ALREADY_VOIDED',
  'TRANSFER_EXPIRED',
  'POST_AMOUNT_EXCEEDS_PENDING',
  'LINKED_EVENT_FAILED',
]);

export function refusalCode(error: unknown): ErrorCode {
  if (isMpayError(error) && expectedRefusals.has(error.code)) return error.code;
  throw error;
}

export function outcomeOf(result: TransferResult): Outcome {
  return 'error' in result ? { code: refusalCode(result.error) } : result;
}

/** A stable text of a transfer or account for comparisons: bigint and Date as text, undefined fields dropped. */
export function describeRecord(record: Transfer | Account): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))),
    (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value),
  );
}

export function describeOutcome(outcome: Outcome): string {
  return 'code' in outcome ? outcome.code : `${outcome.created} ${describeRecord(outcome.transfer)}`;
}

/** The implementation's answer as text; a refusal is an answer too, only an unexpected error rejects. */
export async function describeAnswer(answer: Promise<readonly Outcome[]>): Promise<string> {
  try {
    return (await answer).map(describeOutcome).join('\n');
  } catch (error) {
    return describeOutcome({ code: refusalCode(error) });
  }
}

/**
 * Answers of the implementation still to compare with the model's: all of
 * them at once when the run submits without awaiting (a batching store).
 */
export interface PendingComparison {
  readonly label: string;
  readonly expected: string;
  readonly actual: Promise<string>;
}

export async function compareAll(pending: PendingComparison[]): Promise<void> {
  const due = pending.splice(0, pending.length);
  const actual = await Promise.all(due.map((comparison) => comparison.actual));
  for (const [index, comparison] of due.entries()) {
    if (actual[index] !== comparison.expected) {
      throw new Error(
        `ledger operations: implementation gave ${actual[index]}, model ${comparison.expected} for ${comparison.label}`,
      );
    }
  }
}
