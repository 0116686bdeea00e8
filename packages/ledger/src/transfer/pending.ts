import { assert, type ErrorCode, MpayError } from '@mpay/protocol';
import type { ResolveTransferRequest, Transfer } from './transfer.ts';

/**
 * The life of a pending transfer, as data. Transfers are immutable, so the
 * state is never stored: it is derived from the one transfer that resolves
 * the pending one (if any) and the clock.
 */
export const pendingStates = ['pending', 'posted', 'voided', 'expired'] as const;
export type PendingState = (typeof pendingStates)[number];

export const pendingTransitions: Readonly<Record<PendingState, readonly PendingState[]>> = Object.freeze({
  pending: Object.freeze(['posted', 'voided', 'expired'] as const),
  posted: Object.freeze([]),
  voided: Object.freeze([]),
  expired: Object.freeze([]),
});

/** Why a final state refuses a further transition. */
const refusalByState: Readonly<Record<Exclude<PendingState, 'pending'>, ErrorCode>> = Object.freeze({
  posted: 'TRANSFER_ALREADY_POSTED',
  voided: 'TRANSFER_ALREADY_VOIDED',
  expired: 'TRANSFER_EXPIRED',
});

export function assertPendingTransition(from: PendingState, to: PendingState): void {
  if (pendingTransitions[from].includes(to)) return;
  if (from === 'pending') throw new Error(`assertion failed: pending transfer cannot become ${to}`);
  throw new MpayError(refusalByState[from], `expected pending, got ${from}`);
}

export function pendingExpiresAt(pending: Transfer): Date {
  assert(
    pending.kind === 'pending' && pending.timeoutSeconds !== undefined,
    'a pending transfer has a timeout',
  );
  return new Date(pending.createdAt.getTime() + pending.timeoutSeconds * 1000);
}

/**
 * posted / voided by its resolving transfer; expired once the timeout has
 * passed unresolved, or when the expiry sweep voided it (the sweep is the only
 * writer of a void at or after the expiry time, since clients are refused then).
 */
export function pendingStateOf(pending: Transfer, resolution: Transfer | undefined, now: Date): PendingState {
  const expiresAtMs = pendingExpiresAt(pending).getTime();
  if (resolution !== undefined) {
    assert(resolution.pendingId === pending.id, 'the resolution resolves this pending transfer');
    if (resolution.kind === 'post_pending') return 'posted';
    return resolution.createdAt.getTime() >= expiresAtMs ? 'expired' : 'voided';
  }
  return now.getTime() >= expiresAtMs ? 'expired' : 'pending';
}

function requirePending(pending: Transfer): void {
  if (pending.kind !== 'pending') throw new MpayError('TRANSFER_NOT_PENDING', `got ${pending.kind}`);
}

/**
 * The transfer that posts or voids `pending` at `now`: accounts and ledger are
 * the pending transfer's; a post takes the requested amount (≤ the held
 * amount, the rest is released) or the whole; a void releases everything.
 */
export function resolvePendingTransfer(
  request: ResolveTransferRequest,
  pending: Transfer,
  resolution: Transfer | undefined,
  now: Date,
): Transfer {
  assert(request.pendingId === pending.id, 'the request names this pending transfer');
  requirePending(pending);
  const target = request.kind === 'post_pending' ? 'posted' : 'voided';
  assertPendingTransition(pendingStateOf(pending, resolution, now), target);
  const amount = request.kind === 'post_pending' ? (request.amount ?? pending.amount) : pending.amount;
  if (amount > pending.amount) throw new MpayError('POST_AMOUNT_EXCEEDS_PENDING');
  return Object.freeze({
    id: request.id,
    debitAccountId: pending.debitAccountId,
    creditAccountId: pending.creditAccountId,
    amount,
    ledger: pending.ledger,
    kind: request.kind,
    pendingId: pending.id,
    reference: request.reference,
    createdAt: now,
  });
}

/** The reference the expiry sweep writes on the voids it creates. */
export const expiryReference = 'expired';

/** The void that the expiry sweep writes for a pending transfer whose timeout has passed unresolved. */
export function expirePendingTransfer(
  pending: Transfer,
  resolution: Transfer | undefined,
  id: string,
  now: Date,
): Transfer {
  requirePending(pending);
  assert(resolution === undefined, 'an expired hold is released once');
  assert(pendingStateOf(pending, undefined, now) === 'expired', 'only an expired hold is swept');
  return Object.freeze({
    id,
    debitAccountId: pending.debitAccountId,
    creditAccountId: pending.creditAccountId,
    amount: pending.amount,
    ledger: pending.ledger,
    kind: 'void_pending',
    pendingId: pending.id,
    reference: expiryReference,
    createdAt: now,
  });
}
