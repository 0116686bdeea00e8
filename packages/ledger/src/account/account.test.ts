import { describe, expect, it } from 'vitest';
import { errorCodeOf as codeOf, ledgerIdOf } from '../test-fixtures.ts';
import { accountAvailable, accountBalance, compareAccount, flagsForKind, openAccount } from './account.ts';

const input = { id: ledgerIdOf(1), ledger: 'EUR', owner: 'John.Bernard@person.xbank', kind: 'customer' };

describe('openAccount', () => {
  it('opens a zero-balance account with the flags of its kind and a canonical owner', () => {
    const account = openAccount(input);
    expect(account).toMatchObject({ owner: 'john.bernard@person.xbank', ledger: 'EUR', closed: false });
    expect(account.flags).toEqual({ debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false });
    expect([
      account.debitsPending,
      account.debitsPosted,
      account.creditsPending,
      account.creditsPosted,
    ]).toEqual([0n, 0n, 0n, 0n]);
    expect(Object.isFrozen(account)).toBe(true);
  });

  it('gives deposits a spending limit and the funding and settlement accounts none', () => {
    expect(flagsForKind('merchant').debitsMustNotExceedCredits).toBe(true);
    expect(flagsForKind('funding')).toEqual({
      debitsMustNotExceedCredits: false,
      creditsMustNotExceedDebits: false,
    });
    expect(flagsForKind('settlement').debitsMustNotExceedCredits).toBe(false);
  });

  it.each([
    [{ id: 'not-a-uuid' }, 'REQUEST_INVALID'],
    [{ id: 'ABCDEF00-0000-4000-8000-000000000001' }, 'REQUEST_INVALID'],
    [{ ledger: 'eur' }, 'CURRENCY_INVALID'],
    [{ ledger: 'XXX' }, 'CURRENCY_INVALID'],
    [{ owner: 'nobody@@xbank' }, 'PARTY_ID_INVALID'],
    [{ owner: 'john@person.fsp' }, 'PARTY_ID_INVALID'],
    [{ kind: 'savings' }, 'REQUEST_INVALID'],
  ])('refuses %o with %s', (override, code) => {
    expect(codeOf(() => openAccount({ ...input, ...override }))).toBe(code);
  });
});

describe('compareAccount', () => {
  it('is the same for the same fields and ACCOUNT_EXISTS for any difference', () => {
    const account = openAccount(input);
    expect(compareAccount(account, openAccount(input))).toBe('same');
    expect(codeOf(() => compareAccount(account, openAccount({ ...input, ledger: 'USD' })))).toBe(
      'ACCOUNT_EXISTS',
    );
    expect(codeOf(() => compareAccount(account, openAccount({ ...input, kind: 'merchant' })))).toBe(
      'ACCOUNT_EXISTS',
    );
  });
});

describe('balance and available', () => {
  it('counts posted amounts in the balance and pending debits against what is available', () => {
    const balances = { debitsPending: 30n, debitsPosted: 50n, creditsPending: 7n, creditsPosted: 200n };
    expect(accountBalance(balances)).toBe(150n);
    expect(accountAvailable(balances)).toBe(120n);
  });
});
