import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { refusalOf, refusalSqlState } from './refusals.ts';

const now = new Date('2026-12-07T12:00:30.000Z');
const raised = (message: string, detail: unknown, code: string = refusalSqlState) =>
  Object.assign(new Error(message), { code, detail });

describe('refusalOf', () => {
  it('reads a rate refusal back with its party and a Retry-After to the end of the oldest bucket’s window', () => {
    const oldest = Date.parse('2026-12-07T12:00:00.000Z');
    const refusal = refusalOf(raised('REQUEST_RATE_LIMITED', `customer ${oldest}`), now, 60);
    expect(isMpayError(refusal, 'REQUEST_RATE_LIMITED')).toBe(true);
    expect(refusal).toMatchObject({ detail: 'customer', retryAfterSeconds: 31 });
  });

  it('reads a replay back as MESSAGE_REPLAYED of the transaction id', () => {
    expect(refusalOf(raised('MESSAGE_REPLAYED', 'transactionId'), now, 60)).toMatchObject({
      code: 'MESSAGE_REPLAYED',
      detail: 'transactionId',
    });
  });

  it('leaves anything else as it came: another SQLSTATE, another code, a detail of another shape', () => {
    const cases = [
      raised('REQUEST_RATE_LIMITED', 'merchant 1', '23505'),
      raised('MESSAGE_REPLAYED', 'transactionId', 'P0001'),
      raised('PAYMENT_UNKNOWN', 'merchant 1'),
      raised('REQUEST_RATE_LIMITED', 'operator 1'),
      raised('REQUEST_RATE_LIMITED', 'merchant -1'),
      raised('REQUEST_RATE_LIMITED', `merchant ${'9'.repeat(16)}`),
      raised('REQUEST_RATE_LIMITED', undefined),
      raised('MESSAGE_REPLAYED', `transactionId${' '.repeat(80)}`),
      'MP002',
      null,
    ];
    for (const error of cases) expect(refusalOf(error, now, 60)).toBeUndefined();
  });
});
