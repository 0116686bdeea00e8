import { assert, MpayError } from '@mpay/protocol';
import type { Account } from '../account/account.ts';
import { balanceMax } from '../limits.ts';
import type { Transfer } from './transfer.ts';

export interface AppliedTransfer {
  readonly debit: Account;
  readonly credit: Account;
}

function checkAccounts(debit: Account, credit: Account, transfer: Transfer): void {
  if (debit.id === credit.id) throw new MpayError('ACCOUNTS_MUST_BE_DIFFERENT');
  if (debit.ledger !== transfer.ledger || credit.ledger !== transfer.ledger) {
    throw new MpayError('CURRENCY_MISMATCH');
  }
  // Releasing a hold is always allowed; anything that moves money in or out of a closed account is not.
  if (transfer.kind !== 'void_pending' && (debit.closed || credit.closed)) {
    throw new MpayError('ACCOUNT_CLOSED', debit.closed ? 'debit' : 'credit');
  }
}

/** The amount a post or void releases from the pending balances: the whole hold. */
function releasedAmount(transfer: Transfer, pending: Transfer | undefined): bigint {
  if (transfer.kind === 'posted' || transfer.kind === 'pending') {
    assert(pending === undefined, 'only a post or void resolves a pending transfer');
    return 0n;
  }
  assert(
    pending !== undefined && pending.id === transfer.pendingId,
    'a post or void needs its pending transfer',
  );
  assert(
    pending.kind === 'pending' && transfer.amount <= pending.amount,
    'a post is at most the held amount',
  );
  assert(
    pending.debitAccountId === transfer.debitAccountId &&
      pending.creditAccountId === transfer.creditAccountId,
    'a post or void moves between the pending transfer accounts',
  );
  return pending.amount;
}

function move(account: Account, side: 'debits' | 'credits', transfer: Transfer, released: bigint): Account {
  const pendingField = side === 'debits' ? 'debitsPending' : 'creditsPending';
  const postedField = side === 'debits' ? 'debitsPosted' : 'creditsPosted';
  const held = transfer.kind === 'pending' ? transfer.amount : 0n;
  const posted = transfer.kind === 'posted' || transfer.kind === 'post_pending' ? transfer.amount : 0n;
  const next = {
    ...account,
    [pendingField]: account[pendingField] + held - released,
    [postedField]: account[postedField] + posted,
  };
  assert(next[pendingField] >= 0n, 'pending balances never go below zero');
  return Object.freeze(next);
}

function checkLimits(debit: Account, credit: Account): void {
  if (
    debit.flags.debitsMustNotExceedCredits &&
    debit.debitsPending + debit.debitsPosted > debit.creditsPosted
  ) {
    throw new MpayError('INSUFFICIENT_FUNDS');
  }
  if (
    credit.flags.creditsMustNotExceedDebits &&
    credit.creditsPending + credit.creditsPosted > credit.debitsPosted
  ) {
    throw new MpayError('LIMIT_EXCEEDED', 'credits must not exceed debits');
  }
  for (const account of [debit, credit]) {
    const fields = [
      account.debitsPending,
      account.debitsPosted,
      account.creditsPending,
      account.creditsPosted,
    ];
    if (fields.some((value) => value > balanceMax)) throw new MpayError('LIMIT_EXCEEDED', 'balance');
  }
}

/**
 * The two accounts after `transfer`, or the stable error that refuses it:
 * same account, currency mismatch, closed account, insufficient funds (pending
 * debits count against the balance), the credit limit, balance overflow.
 * A post or void needs the pending transfer it resolves: its whole held amount
 * leaves the pending balances and the posted amount (≤ held) enters the posted ones.
 */
export function applyTransfer(
  debit: Account,
  credit: Account,
  transfer: Transfer,
  pending?: Transfer,
): AppliedTransfer {
  assert(debit.id === transfer.debitAccountId, 'debit account is the transfer debit account');
  assert(credit.id === transfer.creditAccountId, 'credit account is the transfer credit account');
  assert(transfer.amount > 0n, 'a transfer moves a positive amount');
  checkAccounts(debit, credit, transfer);
  const released = releasedAmount(transfer, pending);
  const next = {
    debit: move(debit, 'debits', transfer, released),
    credit: move(credit, 'credits', transfer, released),
  };
  checkLimits(next.debit, next.credit);
  return Object.freeze(next);
}
