import { describe, expect, it } from 'vitest';
import { balanceMax } from '../limits.ts';
import { accountOf, epoch, errorCodeOf, ledgerIdOf } from '../test-fixtures.ts';
import { applyTransfer } from './apply.ts';
import type { Transfer } from './transfer.ts';

const customer = accountOf(1, 'customer', { creditsPosted: 100n });
const merchant = accountOf(2, 'merchant');
const funding = accountOf(3, 'funding');

function transferOf(overrides: Partial<Transfer> = {}): Transfer {
  return {
    id: ledgerIdOf(100),
    debitAccountId: customer.id,
    creditAccountId: merchant.id,
    amount: 40n,
    ledger: 'EUR',
    kind: 'posted',
    reference: '',
    createdAt: epoch,
    ...overrides,
  };
}

const hold = transferOf({ kind: 'pending', timeoutSeconds: 60 });

describe('applyTransfer', () => {
  it('posts: debits the payer and credits the payee', () => {
    const { debit, credit } = applyTransfer(customer, merchant, transferOf());
    expect([debit.debitsPosted, debit.creditsPosted]).toEqual([40n, 100n]);
    expect(credit.creditsPosted).toBe(40n);
    expect(customer.debitsPosted).toBe(0n);
  });

  it('holds: a pending transfer moves only the pending balances', () => {
    const { debit, credit } = applyTransfer(customer, merchant, hold);
    expect([debit.debitsPending, debit.debitsPosted, credit.creditsPending, credit.creditsPosted]).toEqual([
      40n,
      0n,
      40n,
      0n,
    ]);
  });

  it('posts part of a hold and releases the rest; voids release everything', () => {
    const held = applyTransfer(customer, merchant, hold);
    const post = transferOf({ id: ledgerIdOf(101), kind: 'post_pending', pendingId: hold.id, amount: 25n });
    const posted = applyTransfer(held.debit, held.credit, post, hold);
    expect([posted.debit.debitsPending, posted.debit.debitsPosted]).toEqual([0n, 25n]);
    expect([posted.credit.creditsPending, posted.credit.creditsPosted]).toEqual([0n, 25n]);
    const voided = applyTransfer(
      held.debit,
      held.credit,
      { ...post, kind: 'void_pending', amount: 40n },
      hold,
    );
    expect([voided.debit.debitsPending, voided.debit.debitsPosted, voided.credit.creditsPending]).toEqual([
      0n,
      0n,
      0n,
    ]);
  });

  it('counts pending debits against the funds: a hold of 80 leaves 20 to spend', () => {
    const held = applyTransfer(customer, merchant, { ...hold, amount: 80n });
    expect(errorCodeOf(() => applyTransfer(held.debit, merchant, transferOf({ amount: 21n })))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(applyTransfer(held.debit, merchant, transferOf({ amount: 20n })).debit.debitsPosted).toBe(20n);
  });

  it('refuses insufficient funds exactly one unit above the balance', () => {
    expect(errorCodeOf(() => applyTransfer(customer, merchant, transferOf({ amount: 101n })))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(applyTransfer(customer, merchant, transferOf({ amount: 100n })).debit.debitsPosted).toBe(100n);
  });

  it('lets the funding account go negative', () => {
    const { debit } = applyTransfer(
      funding,
      customer,
      transferOf({ debitAccountId: funding.id, creditAccountId: customer.id, amount: 10n ** 15n }),
    );
    expect(debit.debitsPosted).toBe(10n ** 15n);
  });

  it('enforces creditsMustNotExceedDebits on the credit side', () => {
    const capped = {
      ...merchant,
      flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: true },
      debitsPosted: 30n,
    };
    expect(errorCodeOf(() => applyTransfer(customer, capped, transferOf({ amount: 31n })))).toBe(
      'LIMIT_EXCEEDED',
    );
    expect(applyTransfer(customer, capped, transferOf({ amount: 30n })).credit.creditsPosted).toBe(30n);
  });

  it('refuses a currency mismatch, the same account and closed accounts', () => {
    const dollars = { ...merchant, ledger: 'USD' as const };
    expect(errorCodeOf(() => applyTransfer(customer, dollars, transferOf()))).toBe('CURRENCY_MISMATCH');
    expect(errorCodeOf(() => applyTransfer(customer, merchant, transferOf({ ledger: 'USD' })))).toBe(
      'CURRENCY_MISMATCH',
    );
    const same = transferOf({ creditAccountId: customer.id });
    expect(errorCodeOf(() => applyTransfer(customer, customer, same))).toBe('ACCOUNTS_MUST_BE_DIFFERENT');
    const closed = { ...merchant, closed: true };
    expect(errorCodeOf(() => applyTransfer(customer, closed, transferOf()))).toBe('ACCOUNT_CLOSED');
    expect(errorCodeOf(() => applyTransfer(customer, closed, hold))).toBe('ACCOUNT_CLOSED');
  });

  it('still releases a hold on an account closed since', () => {
    const held = applyTransfer(customer, merchant, hold);
    const voidHold = transferOf({ id: ledgerIdOf(101), kind: 'void_pending', pendingId: hold.id });
    const closedCredit = { ...held.credit, closed: true };
    expect(applyTransfer(held.debit, closedCredit, voidHold, hold).credit.creditsPending).toBe(0n);
    const post = { ...voidHold, kind: 'post_pending' as const };
    expect(errorCodeOf(() => applyTransfer(held.debit, closedCredit, post, hold))).toBe('ACCOUNT_CLOSED');
  });

  it('refuses a balance beyond what storage holds', () => {
    const full = { ...merchant, creditsPosted: balanceMax };
    expect(errorCodeOf(() => applyTransfer(customer, full, transferOf({ amount: 1n })))).toBe(
      'LIMIT_EXCEEDED',
    );
  });

  it('asserts programmer errors: wrong accounts, a post without its hold', () => {
    expect(() => applyTransfer(merchant, customer, transferOf())).toThrow(/assertion failed/);
    const post = transferOf({ kind: 'post_pending', pendingId: hold.id });
    expect(() => applyTransfer(customer, merchant, post)).toThrow(/assertion failed/);
    expect(() => applyTransfer(customer, merchant, { ...post, amount: 41n }, hold)).toThrow(
      /assertion failed/,
    );
  });
});
