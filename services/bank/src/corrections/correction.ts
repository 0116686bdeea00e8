import type { Transfer } from '@mpay/ledger';
import { assert, MpayError } from '@mpay/protocol';

/**
 * Corrections are new transfers, never updates: a refund (the payee gives back
 * all or part of a payment) or a reversal (an operator takes back whatever of
 * it is not yet refunded) is a posted transfer in the opposite direction.
 */
export const correctionKinds = ['refund', 'reversal'] as const;
export type CorrectionKind = (typeof correctionKinds)[number];

export interface CorrectionRequest {
  readonly kind: CorrectionKind;
  /** The id of the correcting transfer: its idempotency key. */
  readonly id: string;
  readonly originalId: string;
  /** A refund's amount; undefined (and always for a reversal): everything not yet corrected. */
  readonly amount?: bigint | undefined;
  readonly reference: string;
}

export interface Correction {
  readonly kind: CorrectionKind;
  readonly originalId: string;
  readonly transfer: Transfer;
}

/** What an original transfer has had corrected so far. */
export interface CorrectedSoFar {
  readonly count: number;
  readonly amount: bigint;
}

/** Only money that moved can move back: a posted transfer or the post of a hold. */
export function checkCorrectable(original: Transfer): void {
  if (original.kind !== 'posted' && original.kind !== 'post_pending') {
    throw new MpayError('TRANSFER_NOT_POSTED', `got ${original.kind}`);
  }
}

/**
 * The amount of the next correction of `original`: the requested amount or,
 * when none, everything not yet corrected. The corrections of one original
 * never add up to more than its amount (REFUND_EXCEEDS_ORIGINAL) and are at
 * most `countMax` (LIMIT_EXCEEDED).
 */
export function correctionAmount(
  original: Transfer,
  corrected: CorrectedSoFar,
  request: CorrectionRequest,
  countMax: number,
): bigint {
  checkCorrectable(original);
  assert(request.originalId === original.id, 'the request names this original');
  assert(
    corrected.amount >= 0n && corrected.amount <= original.amount,
    'corrections stay within the original',
  );
  assert(request.kind === 'refund' || request.amount === undefined, 'a reversal takes no amount');
  if (corrected.count >= countMax) throw new MpayError('LIMIT_EXCEEDED', 'corrections per transfer');
  const remaining = original.amount - corrected.amount;
  const amount = request.amount ?? remaining;
  if (remaining === 0n || amount > remaining) {
    throw new MpayError('REFUND_EXCEEDS_ORIGINAL', `remaining ${remaining}`);
  }
  return amount;
}

function firstDifference(
  existing: Transfer,
  stored: Omit<Correction, 'transfer'>,
  request: CorrectionRequest,
): string | undefined {
  if (stored.kind !== request.kind) return 'kind';
  if (stored.originalId !== request.originalId) return 'originalId';
  if (request.amount !== undefined && request.amount !== existing.amount) return 'amount';
  if (request.reference !== existing.reference) return 'reference';
  return undefined;
}

/**
 * Idempotency by the correcting transfer's id: the same request again answers
 * the stored correction; any difference is TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS
 * naming the first differing field. An existing transfer that corrects nothing
 * differs in its kind.
 */
export function compareCorrection(
  existing: Transfer,
  stored: Omit<Correction, 'transfer'> | undefined,
  request: CorrectionRequest,
): Correction {
  assert(existing.id === request.id, 'compare a correction with the same id');
  if (stored === undefined) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', 'kind');
  const differing = firstDifference(existing, stored, request);
  if (differing !== undefined) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', differing);
  return { kind: stored.kind, originalId: stored.originalId, transfer: existing };
}

/** The transfer fields of a correction: the original's accounts swapped, its ledger. */
export function correctionMovement(original: Transfer, amount: bigint) {
  return {
    debitAccountId: original.creditAccountId,
    creditAccountId: original.debitAccountId,
    amount,
    ledger: original.ledger,
  } as const;
}
