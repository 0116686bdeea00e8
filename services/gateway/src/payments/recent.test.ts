import { describe, expect, it } from 'vitest';
import { RecentPayments } from './recent.ts';
import type { Payment } from './store.ts';

/** Only the id matters to the cache; the rest of a payment is carried as it is. */
function paymentOf(id: string, version = 1): Payment {
  return { id, version } as unknown as Payment;
}

describe('recent payments', () => {
  it('gives a remembered payment as it was remembered, until it is forgotten', () => {
    const recent = new RecentPayments(4);
    const payment = paymentOf('a');
    recent.remember(payment);
    expect(recent.get('a')).toBe(payment);
    expect(recent.get('a')).toBe(payment);
    recent.forget('a');
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('never')).toBeUndefined();
  });

  it('keeps the latest of a payment remembered twice', () => {
    const recent = new RecentPayments(4);
    recent.remember(paymentOf('a', 1));
    recent.remember(paymentOf('a', 2));
    expect(recent.size).toBe(1);
    expect(recent.get('a')?.version).toBe(2);
  });

  it('holds at most entriesMax, dropping the oldest first', () => {
    const recent = new RecentPayments(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) recent.remember(paymentOf(id));
    expect(recent.size).toBe(3);
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('b')).toBeUndefined();
    expect(['c', 'd', 'e'].map((id) => recent.get(id)?.id)).toEqual(['c', 'd', 'e']);
  });

  it('refuses a size that is not a positive integer', () => {
    for (const size of [0, -1, 1.5, Number.NaN]) expect(() => new RecentPayments(size)).toThrow(/entriesMax/);
  });
});
