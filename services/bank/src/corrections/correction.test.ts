import type { Transfer } from '@mpay/ledger';
import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CorrectedSoFar,
  type CorrectionRequest,
  compareCorrection,
  correctionAmount,
  correctionMovement,
} from './correction.ts';

const original: Transfer = Object.freeze({
  id: '00000000-0000-4000-8000-000000000001',
  debitAccountId: '00000000-0000-4000-8000-00000000000a',
  creditAccountId: '00000000-0000-4000-8000-00000000000b',
  amount: 100n,
  ledger: 'EUR',
  kind: 'posted',
  reference: 'order 1',
  createdAt: new Date('2026-01-01T00:00:00Z'),
} as Transfer);

function refund(amount: bigint | undefined, id = '00000000-0000-4000-8000-000000000002'): CorrectionRequest {
  return { kind: 'refund', id, originalId: original.id, amount, reference: 'returned' };
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

describe('correctionAmount', () => {
  it('never lets the corrections of one transfer add up to more than its amount', () => {
    const requests = fc.array(fc.option(fc.bigInt({ min: 1n, max: 120n }), { nil: undefined }), {
      maxLength: 30,
    });
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 100n }),
        requests,
        fc.integer({ min: 1, max: 10 }),
        (amount, asked, countMax) => {
          const paid = { ...original, amount };
          let so: CorrectedSoFar = { count: 0, amount: 0n };
          for (const requested of asked) {
            const remaining = amount - so.amount;
            const expected =
              so.count >= countMax
                ? 'LIMIT_EXCEEDED'
                : remaining === 0n || (requested ?? remaining) > remaining
                  ? 'REFUND_EXCEEDS_ORIGINAL'
                  : undefined;
            let granted = 0n;
            const code = codeOf(() => {
              granted = correctionAmount(paid, so, refund(requested), countMax);
            });
            expect(code).toBe(expected);
            if (code === undefined) {
              expect(granted).toBe(requested ?? remaining);
              so = { count: so.count + 1, amount: so.amount + granted };
            }
            expect(so.amount).toBeLessThanOrEqual(amount);
          }
        },
      ),
    );
  });

  it('refunds everything left when no amount is named; a reversal likewise', () => {
    expect(correctionAmount(original, { count: 1, amount: 30n }, refund(undefined), 10)).toBe(70n);
    const reversal: CorrectionRequest = { ...refund(undefined), kind: 'reversal' };
    expect(correctionAmount(original, { count: 2, amount: 99n }, reversal, 10)).toBe(1n);
  });

  it.each([
    ['pending', 'TRANSFER_NOT_POSTED'],
    ['void_pending', 'TRANSFER_NOT_POSTED'],
    ['post_pending', undefined],
    ['posted', undefined],
  ] as const)('a %s transfer: %s', (kind, code) => {
    const transfer = { ...original, kind, ...(kind === 'pending' ? { timeoutSeconds: 60 } : {}) };
    expect(codeOf(() => correctionAmount(transfer, { count: 0, amount: 0n }, refund(5n), 10))).toBe(code);
  });
});

describe('compareCorrection', () => {
  const stored = { kind: 'refund', originalId: original.id } as const;
  const request = refund(40n);
  const existing: Transfer = {
    ...original,
    id: request.id,
    ...correctionMovement(original, 40n),
    reference: 'returned',
  };

  it('answers the stored correction for the same request, with or without the amount', () => {
    expect(compareCorrection(existing, stored, request)).toEqual({ ...stored, transfer: existing });
    expect(compareCorrection(existing, stored, refund(undefined)).transfer).toBe(existing);
  });

  it.each([
    ['a plain transfer with this id', undefined, request, 'kind'],
    ['a reversal with this id', { ...stored, kind: 'reversal' }, request, 'kind'],
    ['another original', { ...stored, originalId: existing.id }, request, 'originalId'],
    ['another amount', stored, refund(41n), 'amount'],
    ['another reference', stored, { ...request, reference: 'other' }, 'reference'],
  ] as const)('refuses %s, naming the field', (_name, storedAs, asked, field) => {
    expect(() => compareCorrection(existing, storedAs, asked)).toThrow(
      expect.objectContaining({ code: 'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS', detail: field }),
    );
  });
});

describe('correctionMovement', () => {
  it('swaps the accounts and keeps the ledger', () => {
    expect(correctionMovement(original, 7n)).toEqual({
      debitAccountId: original.creditAccountId,
      creditAccountId: original.debitAccountId,
      amount: 7n,
      ledger: 'EUR',
    });
  });
});
