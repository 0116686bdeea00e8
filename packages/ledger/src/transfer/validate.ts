import { MpayError, parseCurrencyCode } from '@mpay/protocol';
import { parseLedgerId } from '../identifiers.ts';
import { defaultLedgerLimits, type LedgerLimits } from '../limits.ts';
import {
  type NewTransferRequest,
  type ResolveTransferRequest,
  type TransferInput,
  type TransferRequest,
  transferKinds,
} from './transfer.ts';

/** Printable text without control characters (C0, DEL, C1). */
const referencePattern = /^[^\p{Cc}]*$/u;

function parseReference(value: string | undefined, limits: LedgerLimits): string {
  const reference = value ?? '';
  if (typeof reference !== 'string' || reference.length > limits.referenceLengthMax) {
    throw new MpayError('REQUEST_INVALID', 'reference');
  }
  if (!referencePattern.test(reference)) throw new MpayError('REQUEST_INVALID', 'reference');
  return reference;
}

export function parseTransferAmount(value: bigint | undefined, limits: LedgerLimits): bigint {
  if (typeof value !== 'bigint' || value <= 0n) throw new MpayError('AMOUNT_INVALID', 'amount');
  if (value > limits.amountMax) throw new MpayError('AMOUNT_TOO_LARGE', 'amount');
  return value;
}

function forbid(input: TransferInput, fields: readonly (keyof TransferInput)[]): void {
  for (const field of fields) {
    if (input[field] !== undefined)
      throw new MpayError('REQUEST_INVALID', `${field} not allowed for ${input.kind}`);
  }
}

function parseTimeoutSeconds(value: number | undefined, limits: LedgerLimits): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > limits.timeoutSecondsMax
  ) {
    throw new MpayError('REQUEST_INVALID', 'timeoutSeconds');
  }
  return value;
}

function validateNew(
  input: TransferInput,
  kind: 'posted' | 'pending',
  limits: LedgerLimits,
): NewTransferRequest {
  forbid(input, kind === 'posted' ? ['pendingId', 'timeoutSeconds'] : ['pendingId']);
  const debitAccountId = parseLedgerId(input.debitAccountId, 'debitAccountId');
  const creditAccountId = parseLedgerId(input.creditAccountId, 'creditAccountId');
  if (debitAccountId === creditAccountId) throw new MpayError('ACCOUNTS_MUST_BE_DIFFERENT');
  const movement = {
    id: input.id,
    debitAccountId,
    creditAccountId,
    amount: parseTransferAmount(input.amount, limits),
    ledger: parseCurrencyCode(input.ledger, 'ledger'),
    reference: parseReference(input.reference, limits),
  };
  if (kind === 'posted') return Object.freeze({ kind, ...movement });
  return Object.freeze({
    kind,
    ...movement,
    timeoutSeconds: parseTimeoutSeconds(input.timeoutSeconds, limits),
  });
}

function validateResolve(
  input: TransferInput,
  kind: 'post_pending' | 'void_pending',
  limits: LedgerLimits,
): ResolveTransferRequest {
  forbid(input, ['debitAccountId', 'creditAccountId', 'ledger', 'timeoutSeconds']);
  const pendingId = parseLedgerId(input.pendingId, 'pendingId');
  if (pendingId === input.id) throw new MpayError('REQUEST_INVALID', 'pendingId');
  const reference = parseReference(input.reference, limits);
  if (kind === 'void_pending') {
    forbid(input, ['amount']);
    return Object.freeze({ kind, id: input.id, pendingId, reference });
  }
  const amount = input.amount === undefined ? undefined : parseTransferAmount(input.amount, limits);
  return Object.freeze({ kind, id: input.id, pendingId, amount, reference });
}

/**
 * Checks a client's transfer against the rules that need no state: ids,
 * kind, which fields each kind takes, amount, currency, timeout, reference.
 * Throws the stable error of the first violation.
 */
export function validateTransfer(
  input: TransferInput,
  limits: LedgerLimits = defaultLedgerLimits,
): TransferRequest {
  parseLedgerId(input.id, 'id');
  const kind = transferKinds.find((candidate) => candidate === input.kind);
  switch (kind) {
    case 'posted':
    case 'pending':
      return validateNew(input, kind, limits);
    case 'post_pending':
    case 'void_pending':
      return validateResolve(input, kind, limits);
    case undefined:
      throw new MpayError('REQUEST_INVALID', 'kind');
  }
}
