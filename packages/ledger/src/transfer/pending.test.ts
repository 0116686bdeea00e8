import { describe, expect, it } from 'vitest';
import { epoch, errorCodeOf, ledgerIdOf, secondsAfter } from '../test-fixtures.ts';
import {
  assertPendingTransition,
  expirePendingTransfer,
  pendingExpiresAt,
  pendingStateOf,
  pendingStates,
  pendingTransitions,
  resolvePendingTransfer,
} from './pending.ts';
import type { ResolveTransferRequest, Transfer } from './transfer.ts';

const hold: Transfer = {
  id: ledgerIdOf(100),
  debitAccountId: ledgerIdOf(1),
  creditAccountId: ledgerIdOf(2),
  amount: 40n,
  ledger: 'EUR',
  kind: 'pending',
  timeoutSeconds: 60,
  reference: 'hold',
  createdAt: epoch,
};
const post: ResolveTransferRequest = {
  kind: 'post_pending',
  id: ledgerIdOf(101),
  pendingId: hold.id,
  reference: '',
};
const voidHold: ResolveTransferRequest = {
  kind: 'void_pending',
  id: ledgerIdOf(102),
  pendingId: hold.id,
  reference: '',
};
const beforeExpiry = secondsAfter(epoch, 59);
const atExpiry = secondsAfter(epoch, 60);

describe('pending transfer states', () => {
  it('has exactly one live state; every final state refuses every transition', () => {
    expect(pendingTransitions.pending).toEqual(['posted', 'voided', 'expired']);
    for (const state of pendingStates.filter((s) => s !== 'pending')) {
      expect(pendingTransitions[state]).toEqual([]);
    }
    expect(errorCodeOf(() => assertPendingTransition('posted', 'voided'))).toBe('TRANSFER_ALREADY_POSTED');
    expect(errorCodeOf(() => assertPendingTransition('voided', 'posted'))).toBe('TRANSFER_ALREADY_VOIDED');
    expect(errorCodeOf(() => assertPendingTransition('expired', 'posted'))).toBe('TRANSFER_EXPIRED');
    expect(() => assertPendingTransition('pending', 'pending')).toThrow(/assertion failed/);
  });

  it('derives the state from the resolution and the clock', () => {
    expect(pendingExpiresAt(hold)).toEqual(atExpiry);
    expect(pendingStateOf(hold, undefined, beforeExpiry)).toBe('pending');
    expect(pendingStateOf(hold, undefined, atExpiry)).toBe('expired');
    const posted = resolvePendingTransfer(post, hold, undefined, beforeExpiry);
    expect(pendingStateOf(hold, posted, atExpiry)).toBe('posted');
    const voided = resolvePendingTransfer(voidHold, hold, undefined, beforeExpiry);
    expect(pendingStateOf(hold, voided, atExpiry)).toBe('voided');
    const swept = expirePendingTransfer(hold, undefined, ledgerIdOf(103), atExpiry);
    expect(pendingStateOf(hold, swept, atExpiry)).toBe('expired');
  });
});

describe('resolvePendingTransfer', () => {
  it('posts the whole hold by default, or part of it, between the hold accounts', () => {
    expect(resolvePendingTransfer(post, hold, undefined, beforeExpiry)).toEqual({
      id: post.id,
      debitAccountId: hold.debitAccountId,
      creditAccountId: hold.creditAccountId,
      amount: 40n,
      ledger: 'EUR',
      kind: 'post_pending',
      pendingId: hold.id,
      reference: '',
      createdAt: beforeExpiry,
    });
    expect(resolvePendingTransfer({ ...post, amount: 40n }, hold, undefined, beforeExpiry).amount).toBe(40n);
    expect(resolvePendingTransfer({ ...post, amount: 1n }, hold, undefined, beforeExpiry).amount).toBe(1n);
  });

  it('voids the whole hold', () => {
    expect(resolvePendingTransfer(voidHold, hold, undefined, beforeExpiry).amount).toBe(40n);
  });

  it('refuses to post more than held, twice, after a void, after expiry, or a transfer that is not pending', () => {
    expect(
      errorCodeOf(() => resolvePendingTransfer({ ...post, amount: 41n }, hold, undefined, beforeExpiry)),
    ).toBe('POST_AMOUNT_EXCEEDS_PENDING');
    const posted = resolvePendingTransfer(post, hold, undefined, beforeExpiry);
    const voided = resolvePendingTransfer(voidHold, hold, undefined, beforeExpiry);
    const again = { ...post, id: ledgerIdOf(104) };
    expect(errorCodeOf(() => resolvePendingTransfer(again, hold, posted, beforeExpiry))).toBe(
      'TRANSFER_ALREADY_POSTED',
    );
    expect(errorCodeOf(() => resolvePendingTransfer(voidHold, hold, posted, beforeExpiry))).toBe(
      'TRANSFER_ALREADY_POSTED',
    );
    expect(errorCodeOf(() => resolvePendingTransfer(again, hold, voided, beforeExpiry))).toBe(
      'TRANSFER_ALREADY_VOIDED',
    );
    expect(
      errorCodeOf(() =>
        resolvePendingTransfer({ ...voidHold, id: ledgerIdOf(104) }, hold, voided, beforeExpiry),
      ),
    ).toBe('TRANSFER_ALREADY_VOIDED');
    expect(errorCodeOf(() => resolvePendingTransfer(post, hold, undefined, atExpiry))).toBe(
      'TRANSFER_EXPIRED',
    );
    expect(errorCodeOf(() => resolvePendingTransfer(voidHold, hold, undefined, atExpiry))).toBe(
      'TRANSFER_EXPIRED',
    );
    const notPending = { ...hold, kind: 'posted' as const, timeoutSeconds: undefined };
    expect(errorCodeOf(() => resolvePendingTransfer(post, notPending, undefined, beforeExpiry))).toBe(
      'TRANSFER_NOT_PENDING',
    );
  });
});

describe('expirePendingTransfer', () => {
  it('voids an expired hold under the expiry reference and refuses a live or resolved one', () => {
    const swept = expirePendingTransfer(hold, undefined, ledgerIdOf(103), atExpiry);
    expect(swept).toMatchObject({
      kind: 'void_pending',
      amount: 40n,
      pendingId: hold.id,
      reference: 'expired',
    });
    expect(() => expirePendingTransfer(hold, undefined, ledgerIdOf(103), beforeExpiry)).toThrow(
      /assertion failed/,
    );
    expect(() => expirePendingTransfer(hold, swept, ledgerIdOf(104), atExpiry)).toThrow(/assertion failed/);
  });
});
