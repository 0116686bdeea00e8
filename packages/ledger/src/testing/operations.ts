import fc from 'fast-check';
import type { AccountKind } from '../account/account.ts';

/**
 * One step a client (or the clock) takes against a ledger. Accounts and
 * transfers are named by index into what earlier steps created, modulo the
 * count, so that every generated sequence is meaningful and shrinks well.
 */
export type LedgerOperation =
  | { readonly type: 'open'; readonly kind: AccountKind; readonly ledger: 'EUR' | 'USD' }
  | TransferOperation
  /** A linked chain: all members commit or none; members may name earlier members (a hold and its post). */
  | { readonly type: 'linked'; readonly members: readonly TransferOperation[] }
  | { readonly type: 'advance'; readonly seconds: number }
  | { readonly type: 'expire' };

/** A step that asks for one transfer: a new one, a post or void of an earlier one, or a retry of one. */
export type TransferOperation =
  | {
      readonly type: 'transfer';
      readonly kind: 'posted' | 'pending';
      readonly debit: number;
      readonly credit: number;
      readonly amount: bigint;
      readonly timeoutSeconds: number;
      /** Which side's currency the transfer names: they differ when the accounts' currencies differ. */
      readonly currencyOf: 'debit' | 'credit';
    }
  | { readonly type: 'post'; readonly transfer: number; readonly amount: bigint | undefined }
  | { readonly type: 'void'; readonly transfer: number }
  | { readonly type: 'retry'; readonly transfer: number; readonly alter: boolean };

const index = fc.nat({ max: 63 });
const amount = fc.bigInt({ min: 1n, max: 300n });

const openOperationArbitrary = fc.record({
  type: fc.constant('open' as const),
  kind: fc.constantFrom<AccountKind>('customer', 'merchant', 'settlement', 'funding'),
  ledger: fc.constantFrom<'EUR' | 'USD'>('EUR', 'EUR', 'EUR', 'USD'),
});

const transferOperationArbitrary: fc.Arbitrary<TransferOperation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('transfer' as const),
      kind: fc.constantFrom<'posted' | 'pending'>('posted', 'pending'),
      debit: index,
      credit: index,
      amount,
      timeoutSeconds: fc.integer({ min: 1, max: 120 }),
      currencyOf: fc.constantFrom<'debit' | 'credit'>('debit', 'credit'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('post' as const),
      transfer: index,
      amount: fc.option(amount, { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('void' as const), transfer: index }) },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constant('retry' as const), transfer: index, alter: fc.boolean() }),
  },
);

export const ledgerOperationArbitrary: fc.Arbitrary<LedgerOperation> = fc.oneof(
  { weight: 1, arbitrary: openOperationArbitrary },
  { weight: 13, arbitrary: transferOperationArbitrary },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('linked' as const),
      members: fc.array(transferOperationArbitrary, { minLength: 2, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 90 }) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('expire' as const) }) },
);

/** A few accounts first, then any operations (more accounts among them), up to `lengthMax` in all. */
export function ledgerOperationsArbitrary(lengthMax: number): fc.Arbitrary<LedgerOperation[]> {
  const openings = fc.array(openOperationArbitrary, { minLength: 2, maxLength: 5 });
  const rest = fc.array(ledgerOperationArbitrary, { minLength: 1, maxLength: lengthMax - 5, size: 'max' });
  return fc.tuple(openings, rest).map(([first, then]) => [...first, ...then]);
}
