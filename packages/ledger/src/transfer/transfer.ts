import type { CurrencyCode } from '@mpay/protocol';

/**
 * TigerBeetle's transfer kinds: a `posted` transfer moves money at once; a
 * `pending` transfer holds it until a `post_pending` (the whole amount or
 * less) or a `void_pending` resolves it, or until its timeout expires.
 */
export const transferKinds = ['posted', 'pending', 'post_pending', 'void_pending'] as const;
export type TransferKind = (typeof transferKinds)[number];

/** An immutable, committed movement between two accounts of one ledger. Its id is its idempotency key. */
export interface Transfer {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  /** Minor units moved (posted or held); for post_pending the amount posted; for void_pending the amount released. */
  readonly amount: bigint;
  readonly ledger: CurrencyCode;
  readonly kind: TransferKind;
  /** The pending transfer that a post_pending or void_pending resolves. */
  readonly pendingId?: string | undefined;
  /** How long a pending transfer holds its amount (only on `pending`). */
  readonly timeoutSeconds?: number | undefined;
  readonly reference: string;
  readonly createdAt: Date;
}

/** What a client asks for, before validation (the edge has already turned the amount text into a bigint). */
export interface TransferInput {
  readonly id: string;
  readonly kind: string;
  readonly debitAccountId?: string | undefined;
  readonly creditAccountId?: string | undefined;
  readonly amount?: bigint | undefined;
  readonly ledger?: string | undefined;
  readonly pendingId?: string | undefined;
  readonly timeoutSeconds?: number | undefined;
  readonly reference?: string | undefined;
}

interface MovementRequest {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly ledger: CurrencyCode;
  readonly reference: string;
}

export interface PostedTransferRequest extends MovementRequest {
  readonly kind: 'posted';
}

export interface PendingTransferRequest extends MovementRequest {
  readonly kind: 'pending';
  readonly timeoutSeconds: number;
}

/** Accounts, ledger and (when omitted) amount are taken from the pending transfer. */
export interface PostPendingTransferRequest {
  readonly kind: 'post_pending';
  readonly id: string;
  readonly pendingId: string;
  readonly amount?: bigint | undefined;
  readonly reference: string;
}

export interface VoidPendingTransferRequest {
  readonly kind: 'void_pending';
  readonly id: string;
  readonly pendingId: string;
  readonly reference: string;
}

/** A validated request: `validateTransfer` is the only way to build one from client input. */
export type TransferRequest =
  | PostedTransferRequest
  | PendingTransferRequest
  | PostPendingTransferRequest
  | VoidPendingTransferRequest;

export type NewTransferRequest = PostedTransferRequest | PendingTransferRequest;
export type ResolveTransferRequest = PostPendingTransferRequest | VoidPendingTransferRequest;

export function isResolveRequest(request: TransferRequest): request is ResolveTransferRequest {
  return request.kind === 'post_pending' || request.kind === 'void_pending';
}

/** The transfer a posted or pending request commits at `now`. */
export function recordTransfer(request: NewTransferRequest, now: Date): Transfer {
  return Object.freeze({ ...request, createdAt: now });
}
