import { describe, expect, it } from 'vitest';
import { accountOf, epoch, ledgerIdOf } from '../test-fixtures.ts';
import type { Transfer } from '../transfer/transfer.ts';
import { checkInvariants } from './check.ts';
import { balancesFromTransfers } from './recompute.ts';

describe('checkInvariants', () => {
  it('is ok for balanced ledgers and reports totals per ledger', () => {
    const report = checkInvariants([
      accountOf(1, 'funding', { debitsPosted: 100n, debitsPending: 5n }),
      accountOf(2, 'customer', { creditsPosted: 100n, creditsPending: 5n }),
      { ...accountOf(3, 'funding'), ledger: 'USD' },
    ]);
    expect(report.ok).toBe(true);
    expect(report.violations).toEqual([]);
    expect(report.ledgers).toEqual([
      {
        ledger: 'EUR',
        accounts: 2,
        debitsPending: 5n,
        debitsPosted: 100n,
        creditsPending: 5n,
        creditsPosted: 100n,
      },
      {
        ledger: 'USD',
        accounts: 1,
        debitsPending: 0n,
        debitsPosted: 0n,
        creditsPending: 0n,
        creditsPosted: 0n,
      },
    ]);
  });

  it('reports unbalanced ledgers, overdrawn accounts and negative fields', () => {
    const overdrawn = accountOf(2, 'customer', { debitsPosted: 10n, creditsPosted: 5n, debitsPending: 1n });
    const negative = accountOf(3, 'funding', { creditsPending: -1n });
    const report = checkInvariants([accountOf(1, 'funding', { creditsPosted: 6n }), overdrawn, negative]);
    expect(report.ok).toBe(false);
    expect(report.violations).toEqual([
      { rule: 'debits_must_not_exceed_credits', ledger: 'EUR', accountId: overdrawn.id },
      { rule: 'balance_not_negative', ledger: 'EUR', accountId: negative.id },
      { rule: 'debits_posted_equal_credits_posted', ledger: 'EUR' },
      { rule: 'debits_pending_equal_credits_pending', ledger: 'EUR' },
    ]);
  });

  it('reports a credit-capped account beyond its debits', () => {
    const capped = {
      ...accountOf(1, 'settlement', { creditsPosted: 3n, debitsPosted: 2n }),
      flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: true },
    };
    const other = accountOf(2, 'funding', { debitsPosted: 3n, creditsPosted: 2n });
    expect(checkInvariants([capped, other]).violations).toEqual([
      { rule: 'credits_must_not_exceed_debits', ledger: 'EUR', accountId: capped.id },
    ]);
  });
});

describe('balancesFromTransfers', () => {
  it('replays posted, held, partly posted and voided transfers', () => {
    const [a, b] = [ledgerIdOf(1), ledgerIdOf(2)];
    const base = {
      debitAccountId: a,
      creditAccountId: b,
      ledger: 'EUR',
      reference: '',
      createdAt: epoch,
    } as const;
    const transfers: Transfer[] = [
      { ...base, id: ledgerIdOf(10), kind: 'posted', amount: 7n },
      { ...base, id: ledgerIdOf(11), kind: 'pending', amount: 10n, timeoutSeconds: 9 },
      { ...base, id: ledgerIdOf(12), kind: 'post_pending', amount: 4n, pendingId: ledgerIdOf(11) },
      { ...base, id: ledgerIdOf(13), kind: 'pending', amount: 5n, timeoutSeconds: 9 },
      { ...base, id: ledgerIdOf(14), kind: 'void_pending', amount: 5n, pendingId: ledgerIdOf(13) },
      { ...base, id: ledgerIdOf(15), kind: 'pending', amount: 3n, timeoutSeconds: 9 },
    ];
    const balances = balancesFromTransfers(transfers);
    expect(balances.get(a)).toEqual({
      debitsPending: 3n,
      debitsPosted: 11n,
      creditsPending: 0n,
      creditsPosted: 0n,
    });
    expect(balances.get(b)).toEqual({
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 3n,
      creditsPosted: 11n,
    });
  });
});
