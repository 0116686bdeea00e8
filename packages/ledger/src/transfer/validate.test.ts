import { describe, expect, it } from 'vitest';
import { createLedgerLimits } from '../limits.ts';
import { errorCodeOf, ledgerIdOf } from '../test-fixtures.ts';
import type { TransferInput } from './transfer.ts';
import { validateTransfer } from './validate.ts';

const posted: TransferInput = {
  id: ledgerIdOf(100),
  kind: 'posted',
  debitAccountId: ledgerIdOf(1),
  creditAccountId: ledgerIdOf(2),
  amount: 10n,
  ledger: 'EUR',
};
const pending: TransferInput = { ...posted, kind: 'pending', timeoutSeconds: 60 };
const post: TransferInput = { id: ledgerIdOf(101), kind: 'post_pending', pendingId: ledgerIdOf(100) };
const voidPending: TransferInput = { id: ledgerIdOf(102), kind: 'void_pending', pendingId: ledgerIdOf(100) };

describe('validateTransfer', () => {
  it('accepts each kind with its fields and defaults the reference to empty', () => {
    expect(validateTransfer(posted)).toEqual({ ...posted, reference: '' });
    expect(validateTransfer({ ...pending, reference: 'order 42' })).toEqual({
      ...pending,
      reference: 'order 42',
    });
    expect(validateTransfer({ ...post, amount: 5n })).toEqual({ ...post, amount: 5n, reference: '' });
    expect(validateTransfer(post)).toEqual({ ...post, amount: undefined, reference: '' });
    expect(validateTransfer(voidPending)).toEqual({ ...voidPending, reference: '' });
  });

  it.each([
    ['id not a UUID', { ...posted, id: '42' }, 'REQUEST_INVALID'],
    ['unknown kind', { ...posted, kind: 'reversal' }, 'REQUEST_INVALID'],
    ['missing debit account', { ...posted, debitAccountId: undefined }, 'REQUEST_INVALID'],
    ['same account twice', { ...posted, creditAccountId: ledgerIdOf(1) }, 'ACCOUNTS_MUST_BE_DIFFERENT'],
    ['zero amount', { ...posted, amount: 0n }, 'AMOUNT_INVALID'],
    ['negative amount', { ...posted, amount: -5n }, 'AMOUNT_INVALID'],
    ['missing amount', { ...posted, amount: undefined }, 'AMOUNT_INVALID'],
    ['amount above the maximum', { ...posted, amount: 10n ** 15n + 1n }, 'AMOUNT_TOO_LARGE'],
    ['unsupported currency', { ...posted, ledger: 'XYZ' }, 'CURRENCY_INVALID'],
    ['reference too long', { ...posted, reference: 'r'.repeat(129) }, 'REQUEST_INVALID'],
    ['reference with a control character', { ...posted, reference: 'a\u0000b' }, 'REQUEST_INVALID'],
    ['posted with a timeout', { ...posted, timeoutSeconds: 60 }, 'REQUEST_INVALID'],
    ['posted naming a pending transfer', { ...posted, pendingId: ledgerIdOf(9) }, 'REQUEST_INVALID'],
    ['pending without a timeout', { ...pending, timeoutSeconds: undefined }, 'REQUEST_INVALID'],
    ['pending with a zero timeout', { ...pending, timeoutSeconds: 0 }, 'REQUEST_INVALID'],
    ['pending with a fractional timeout', { ...pending, timeoutSeconds: 1.5 }, 'REQUEST_INVALID'],
    ['pending beyond the timeout limit', { ...pending, timeoutSeconds: 30 * 86_400 + 1 }, 'REQUEST_INVALID'],
    ['post without pendingId', { ...post, pendingId: undefined }, 'REQUEST_INVALID'],
    ['post naming itself', { ...post, pendingId: post.id }, 'REQUEST_INVALID'],
    ['post naming accounts', { ...post, debitAccountId: ledgerIdOf(1) }, 'REQUEST_INVALID'],
    ['post with a zero amount', { ...post, amount: 0n }, 'AMOUNT_INVALID'],
    ['void with an amount', { ...voidPending, amount: 5n }, 'REQUEST_INVALID'],
    ['void with a ledger', { ...voidPending, ledger: 'EUR' }, 'REQUEST_INVALID'],
  ] as const)('refuses %s', (_name, input, code) => {
    expect(errorCodeOf(() => validateTransfer(input))).toBe(code);
  });

  it('applies the configured limits', () => {
    const limits = createLedgerLimits({ amountMax: 100n, referenceLengthMax: 4, timeoutSecondsMax: 10 });
    expect(errorCodeOf(() => validateTransfer({ ...posted, amount: 101n }, limits))).toBe('AMOUNT_TOO_LARGE');
    expect(errorCodeOf(() => validateTransfer({ ...posted, amount: 100n }, limits))).toBeUndefined();
    expect(errorCodeOf(() => validateTransfer({ ...posted, reference: 'abcde' }, limits))).toBe(
      'REQUEST_INVALID',
    );
    expect(errorCodeOf(() => validateTransfer({ ...pending, timeoutSeconds: 11 }, limits))).toBe(
      'REQUEST_INVALID',
    );
  });

  it('refuses limits out of range as a configuration error', () => {
    expect(() => createLedgerLimits({ amountMax: 0n })).toThrow(/amountMax/);
    expect(() => createLedgerLimits({ amountMax: 10n ** 16n })).toThrow(/amountMax/);
    expect(() => createLedgerLimits({ referenceLengthMax: 129 })).toThrow(/referenceLengthMax/);
    expect(() => createLedgerLimits({ timeoutSecondsMax: 0 })).toThrow(/timeoutSecondsMax/);
  });
});
