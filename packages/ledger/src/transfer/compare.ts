import { MpayError } from '@mpay/protocol';
import type { Transfer, TransferRequest } from './transfer.ts';

type ComparedField = Exclude<keyof Transfer, 'id' | 'createdAt'>;

/** The fields each kind's request names; a post without an amount matches whatever amount was posted. */
function requestedFields(request: TransferRequest): readonly ComparedField[] {
  switch (request.kind) {
    case 'posted':
      return ['debitAccountId', 'creditAccountId', 'amount', 'ledger', 'reference'];
    case 'pending':
      return ['debitAccountId', 'creditAccountId', 'amount', 'ledger', 'timeoutSeconds', 'reference'];
    case 'post_pending':
      return request.amount === undefined ? ['pendingId', 'reference'] : ['pendingId', 'amount', 'reference'];
    case 'void_pending':
      return ['pendingId', 'reference'];
  }
}

/**
 * Idempotency by id: retrying a transfer with the same fields is 'same' (the
 * caller returns the original); any difference is TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS,
 * naming the first differing field.
 */
export function compareTransfer(existing: Transfer, request: TransferRequest): 'same' {
  if (existing.id !== request.id) throw new Error('assertion failed: compare transfers with the same id');
  if (existing.kind !== request.kind) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', 'kind');
  const requested = request as Partial<Record<ComparedField, unknown>>;
  for (const field of requestedFields(request)) {
    if (existing[field] !== requested[field])
      throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', field);
  }
  return 'same';
}
