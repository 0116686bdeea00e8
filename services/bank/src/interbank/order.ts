import { createHash } from 'node:crypto';
import { type TransferRequest, validateTransfer } from '@mpay/ledger';
import { canonicalize, MpayError } from '@mpay/protocol';
import type { Database, Sql } from '@mpay/storage';
import type { BankLimits } from '../limits.ts';
import { lockAccounts } from '../store/accounts.ts';
import { createTransferInTransaction, retryOnUniqueViolation } from '../store/create-transfer.ts';
import { ensureSettlementAccount } from './accounts.ts';
import { insertOrder, type PaymentOrder, selectOrder } from './orders-store.ts';
import type { Interbank } from './peers.ts';

/** What the FSP asks the customer's bank to pay (iMS step 7), already checked by the route's schema. */
export interface PaymentOrderInput {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditBankId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
}

/** Called under the debit account's lock, before the debit: throws LIMIT_EXCEEDED. */
export type DebitLimitCheck = (sql: Sql, accountId: string, amount: bigint, now: Date) => Promise<void>;

export interface OrderContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly limits: BankLimits;
  readonly checkDebitLimits: DebitLimitCheck;
}

function requestHashOf(input: PaymentOrderInput): string {
  return createHash('sha256')
    .update(canonicalize({ ...input, amount: input.amount.toString() }))
    .digest('hex');
}

/**
 * Locks both accounts (in id order, as the transfer path does), then checks
 * what an FSP may order: only a customer account pays, and a local payee is a
 * customer or merchant, never one of the bank's own accounts. Answers the
 * committed order if a concurrent identical request placed it while this one
 * waited for the locks; otherwise checks the debit limits and debits.
 */
async function debit(
  context: OrderContext,
  sql: Sql,
  request: TransferRequest,
  local: boolean,
  now: Date,
): Promise<PaymentOrder | undefined> {
  if (request.kind !== 'posted' && request.kind !== 'pending') throw new Error('assertion failed: a debit');
  const { debit: payer, credit: payee } = await lockAccounts(
    sql,
    request.debitAccountId,
    request.creditAccountId,
  );
  if (payer.kind !== 'customer') throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  if (local && payee.kind !== 'customer' && payee.kind !== 'merchant') {
    throw new MpayError('ACCOUNT_UNKNOWN', 'creditAccountId');
  }
  const placed = await selectOrder(sql, request.id);
  if (placed !== undefined) return placed;
  await context.checkDebitLimits(sql, request.debitAccountId, request.amount, now);
  await createTransferInTransaction(sql, request, now);
  return undefined;
}

function orderOf(input: PaymentOrderInput, orderedBy: string, hash: string, now: Date): PaymentOrder {
  return {
    id: input.id,
    requestHash: hash,
    orderedBy,
    debitAccountId: input.debitAccountId,
    creditorBank: input.creditBankId,
    creditAccountId: input.creditAccountId,
    amount: input.amount,
    ledger: input.currency,
    reference: input.reference,
    state: 'sending',
    refusalCode: null,
    deadline: now,
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
    answer: null,
    createdAt: now,
  };
}

function sameOrder(existing: PaymentOrder, hash: string): PaymentOrder {
  if (existing.requestHash !== hash) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  return existing;
}

async function placeInTransaction(
  context: OrderContext,
  sql: Sql,
  input: PaymentOrderInput,
  orderedBy: string,
  now: Date,
): Promise<PaymentOrder> {
  const hash = requestHashOf(input);
  const existing = await selectOrder(sql, input.id);
  if (existing !== undefined) return sameOrder(existing, hash);
  const { self } = context.interbank;
  const local = input.creditBankId === self;
  const creditAccountId = local
    ? input.creditAccountId
    : await ensureSettlementAccount(
        sql,
        self,
        context.interbank.peer(input.creditBankId).id,
        input.currency,
        now,
      );
  const transfer = validateTransfer(
    {
      id: input.id,
      kind: local ? 'posted' : 'pending',
      debitAccountId: input.debitAccountId,
      creditAccountId,
      amount: input.amount,
      ledger: input.currency,
      reference: input.reference,
      ...(local ? {} : { timeoutSeconds: context.interbank.holdTimeoutSeconds }),
    },
    context.limits,
  );
  const placed = await debit(context, sql, transfer, local, now);
  if (placed !== undefined) return sameOrder(placed, hash);
  const order = {
    ...orderOf(input, orderedBy, hash, now),
    state: local ? ('completed' as const) : ('sending' as const),
    deadline: new Date(now.getTime() + (local ? 0 : context.interbank.deadlineSeconds * 1000)),
  };
  await insertOrder(sql, order);
  return order;
}

/**
 * Places a payment order at the client bank, in one transaction: a payee at
 * this bank is paid by one posted transfer; a payee at another bank gets a
 * hold (pending transfer, id = order id) on the customer's account towards
 * the settlement account of the merchant bank, plus the outbox row that
 * delivers the funds-transfer message. The order id is the idempotency key:
 * the same order again returns the stored one, different fields are refused.
 */
export async function placeOrder(
  context: OrderContext,
  input: PaymentOrderInput,
  orderedBy: string,
  now: Date,
): Promise<PaymentOrder> {
  return retryOnUniqueViolation(() =>
    context.database.transaction((sql) => placeInTransaction(context, sql, input, orderedBy, now)),
  );
}
