import { MpayError } from '@mpay/protocol';
import { rateRetryAfterSeconds } from './rate-window.ts';

/** The SQLSTATE of a refusal raised inside a statement (migration 0020, `mpay_refuse`). */
export const refusalSqlState = 'MP002';

/** Longest detail read back: what `insertPayment` raises is a role and a time in ms. */
const refusalDetailLengthMax = 64;

/**
 * The refusal a statement raised (`mpay_refuse(code, detail)`), as the
 * MpayError the step would have thrown had it checked in code: its message is
 * the code, its detail what the answer needs. REQUEST_RATE_LIMITED's detail
 * is the party's role and the oldest bucket of its window (ms since the
 * epoch), from which Retry-After is computed; MESSAGE_REPLAYED's the field.
 * Anything else (another error, a refusal this code does not know) is
 * undefined: the caller throws the error as it came.
 */
export function refusalOf(error: unknown, now: Date, windowSeconds: number): MpayError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, detail } = error as { code?: unknown; message?: unknown; detail?: unknown };
  if (code !== refusalSqlState || typeof detail !== 'string' || detail.length > refusalDetailLengthMax)
    return undefined;
  if (message === 'MESSAGE_REPLAYED' && detail === 'transactionId')
    return new MpayError('MESSAGE_REPLAYED', 'transactionId');
  const rate = /^(merchant|customer) (\d{1,15})$/.exec(detail);
  if (message === 'REQUEST_RATE_LIMITED' && rate !== null) {
    const [, party, oldestMs] = rate;
    const retryAfterSeconds = rateRetryAfterSeconds(new Date(Number(oldestMs)), now, windowSeconds);
    return new MpayError('REQUEST_RATE_LIMITED', party, { retryAfterSeconds });
  }
  return undefined;
}
