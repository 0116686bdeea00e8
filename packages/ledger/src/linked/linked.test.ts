import { describe, expect, it } from 'vitest';
import type { Account } from '../account/account.ts';
import { accountOf, epoch, ledgerIdOf } from '../test-fixtures.ts';
import { type NewTransferRequest, recordTransfer } from '../transfer/transfer.ts';
import { applyLinkedTransfers, type TransferResult } from './linked.ts';
import { createLedgerOverlay, ledgerViewOf } from './overlay.ts';

const customer = accountOf(1, 'customer', { creditsPosted: 100n });
const merchant = accountOf(2, 'merchant');

function freshLedger() {
  const accounts = new Map<string, Account>([
    [customer.id, customer],
    [merchant.id, merchant],
  ]);
  return createLedgerOverlay(ledgerViewOf({ accounts, transfers: new Map(), resolutions: new Map() }));
}

function pay(index: number, amount: bigint, kind: 'posted' | 'pending' = 'posted'): NewTransferRequest {
  const movement = {
    id: ledgerIdOf(index),
    debitAccountId: customer.id,
    creditAccountId: merchant.id,
    amount,
    ledger: 'EUR' as const,
    reference: '',
  };
  return kind === 'posted' ? { kind, ...movement } : { kind, ...movement, timeoutSeconds: 60 };
}

function summary(results: readonly TransferResult[]): string[] {
  return results.map((result) =>
    'error' in result ? `${result.error.code} ${result.error.detail}` : `${result.created}`,
  );
}

describe('applyLinkedTransfers', () => {
  it('commits every member of a chain that passes', () => {
    const ledger = freshLedger();
    const results = applyLinkedTransfers(ledger, [pay(10, 30n), pay(11, 70n)], epoch);
    expect(summary(results)).toEqual(['true', 'true']);
    expect(ledger.account(customer.id)?.debitsPosted).toBe(100n);
    expect(ledger.changes().transfers.map((transfer) => transfer.id)).toEqual([
      ledgerIdOf(10),
      ledgerIdOf(11),
    ]);
  });

  it('commits nothing when a member is refused: its own code, the others LINKED_EVENT_FAILED', () => {
    const ledger = freshLedger();
    const results = applyLinkedTransfers(ledger, [pay(10, 30n), pay(11, 71n), pay(12, 1n)], epoch);
    expect(summary(results)).toEqual([
      `LINKED_EVENT_FAILED ${ledgerIdOf(11)}`,
      'INSUFFICIENT_FUNDS undefined',
      `LINKED_EVENT_FAILED ${ledgerIdOf(11)}`,
    ]);
    expect(ledger.account(customer.id)).toBe(customer);
    expect(ledger.transfer(ledgerIdOf(10))).toBeUndefined();
    expect(ledger.changes()).toEqual({ transfers: [], accounts: [] });
  });

  it('lets a member post a hold made earlier in the same chain', () => {
    const ledger = freshLedger();
    const post = {
      kind: 'post_pending',
      id: ledgerIdOf(21),
      pendingId: ledgerIdOf(20),
      reference: '',
    } as const;
    const results = applyLinkedTransfers(ledger, [pay(20, 60n, 'pending'), post], epoch);
    expect(summary(results)).toEqual(['true', 'true']);
    expect(ledger.account(customer.id)).toMatchObject({ debitsPending: 0n, debitsPosted: 60n });
    expect(ledger.resolution(ledgerIdOf(20))?.id).toBe(ledgerIdOf(21));
  });

  it('answers a repeated id inside a chain as a sequential retry would', () => {
    const ledger = freshLedger();
    expect(summary(applyLinkedTransfers(ledger, [pay(30, 10n), pay(30, 10n)], epoch))).toEqual([
      'true',
      'false',
    ]);
    const altered = applyLinkedTransfers(ledger, [pay(31, 10n), pay(31, 11n)], epoch);
    expect(summary(altered)).toEqual([
      `LINKED_EVENT_FAILED ${ledgerIdOf(31)}`,
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS amount',
    ]);
    expect(ledger.account(customer.id)?.debitsPosted).toBe(10n);
  });

  it('a chain of one is a plain transfer, refused alone', () => {
    const ledger = freshLedger();
    expect(summary(applyLinkedTransfers(ledger, [pay(40, 101n)], epoch))).toEqual([
      'INSUFFICIENT_FUNDS undefined',
    ]);
    expect(summary(applyLinkedTransfers(ledger, [pay(41, 100n)], epoch))).toEqual(['true']);
  });

  it('lets assertions through instead of turning them into refusals', () => {
    const ledger = freshLedger();
    const broken = { ...pay(50, 0n) };
    expect(() => applyLinkedTransfers(ledger, [pay(51, 1n), broken], epoch)).toThrow(/assertion failed/);
    expect(() => applyLinkedTransfers(ledger, [], epoch)).toThrow(/assertion failed/);
  });
});

describe('a fork of an overlay', () => {
  it('reaches its parent only on commit, and only once', () => {
    const parent = freshLedger();
    const child = parent.fork();
    child.write({
      created: true,
      transfer: recordTransfer(pay(60, 5n), epoch),
      debit: customer,
      credit: merchant,
    });
    expect(parent.transfer(ledgerIdOf(60))).toBeUndefined();
    expect(child.transfer(ledgerIdOf(60))).toBeDefined();
    child.commit();
    expect(parent.transfer(ledgerIdOf(60))).toBeDefined();
    expect(() => child.commit()).toThrow(/assertion failed/);
  });
});
