import { describe, expect, it } from 'vitest';
import { epoch, errorCodeOf, ledgerIdOf } from '../test-fixtures.ts';
import { compareTransfer } from './compare.ts';
import type { Transfer, TransferRequest } from './transfer.ts';

const request: TransferRequest = {
  kind: 'posted',
  id: ledgerIdOf(100),
  debitAccountId: ledgerIdOf(1),
  creditAccountId: ledgerIdOf(2),
  amount: 10n,
  ledger: 'EUR',
  reference: 'order 1',
};
const existing: Transfer = { ...request, createdAt: epoch };

describe('compareTransfer', () => {
  it('is the same for a retry with the same fields', () => {
    expect(compareTransfer(existing, request)).toBe('same');
  });

  it.each([
    ['kind', { ...request, kind: 'pending', timeoutSeconds: 5 }],
    ['debitAccountId', { ...request, debitAccountId: ledgerIdOf(3) }],
    ['creditAccountId', { ...request, creditAccountId: ledgerIdOf(3) }],
    ['amount', { ...request, amount: 11n }],
    ['ledger', { ...request, ledger: 'USD' }],
    ['reference', { ...request, reference: 'order 2' }],
  ] as const)('names %s when it differs', (field, different) => {
    expect(errorCodeOf(() => compareTransfer(existing, different))).toBe(
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
    );
    try {
      compareTransfer(existing, different);
    } catch (error) {
      expect((error as { detail?: string }).detail).toBe(field);
    }
  });

  it('lets a post without an amount match the amount that was posted', () => {
    const post: Transfer = {
      ...existing,
      id: ledgerIdOf(101),
      kind: 'post_pending',
      pendingId: ledgerIdOf(100),
      amount: 7n,
      reference: '',
    };
    const retry = { kind: 'post_pending', id: post.id, pendingId: ledgerIdOf(100), reference: '' } as const;
    expect(compareTransfer(post, retry)).toBe('same');
    expect(compareTransfer(post, { ...retry, amount: 7n })).toBe('same');
    expect(errorCodeOf(() => compareTransfer(post, { ...retry, amount: 6n }))).toBe(
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
    );
    expect(errorCodeOf(() => compareTransfer(post, { ...retry, pendingId: ledgerIdOf(99) }))).toBe(
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
    );
  });
});
