import { createHash } from 'node:crypto';
import { validateTransfer } from '@mpay/ledger';
import { canonicalize, isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import { afterCommit, type Database, type Sql } from '@mpay/storage';
import type { EventLog } from '../key-depository/context.ts';
import type { BankObservations } from '../metrics.ts';
import { lockAccounts } from '../store/accounts.ts';
import { correctInTransaction } from '../store/corrections.ts';
import { createTransferInTransaction, retryOnUniqueViolation } from '../store/create-transfer.ts';
import { ensureSettlementAccount } from './accounts.ts';
import type { ConsentContext } from './authorisation.ts';
import { selectOrder } from './orders-store.ts';
import type { Interbank } from './peers.ts';
import { verifyMerchantRefundAuthorisation } from './refund-authorisation.ts';
import { refundTransferId } from './refund-ids.ts';
import {
  insertRefundOrder,
  insertRefundOrderRefusal,
  type RefundOrder,
  reservedByRefundOrders,
  selectRefundOrder,
} from './refund-orders-store.ts';
import { OrderRefusal } from './refusal.ts';

/**
 * What the FSP asks the merchant's bank to pay back, already checked by the
 * route's schema: the refund id, the original payment (the customer's bank's
 * order id and that bank), merchant and customer by party id, the amount, and
 * the merchant's signed refund. No account: this bank finds the merchant's
 * from the credit it received, and the customer's bank credits the account it
 * debited for the original order.
 */
export interface RefundOrderInput {
  readonly id: string;
  readonly originalOrderId: string;
  readonly originalBank: string;
  readonly payerId: string;
  readonly payeeId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
  readonly authorisation: string;
}

export interface RefundOrderContext extends ConsentContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly log: EventLog;
  /** Where refund orders placed are counted once committed (metrics.ts); none: not counted. */
  readonly observations?: BankObservations | undefined;
}

/** The money the original payment brought the merchant at this bank, as this bank's records say. */
interface OriginalCredit {
  /** The account credited: the one the refund debits, and the one the merchant's binding must name. */
  readonly merchantAccountId: string;
  readonly amount: bigint;
  /** A payment within this bank: its posted transfer (the order id) and the customer's account. */
  readonly local?: { readonly originalTransferId: string; readonly customerAccountId: string } | undefined;
}

function requestHashOf(input: RefundOrderInput): string {
  return createHash('sha256')
    .update(canonicalize({ ...input, amount: input.amount.toString() }))
    .digest('hex');
}

function sameOrder(existing: RefundOrder, hash: string): RefundOrder {
  if (existing.requestHash !== hash) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  return existing;
}

const unknownOriginal = (reason: string) => new OrderRefusal('REFUND_ORIGINAL_UNKNOWN', reason);

/**
 * A payment within this bank: its payment order, completed, paid to this
 * merchant by this customer in this currency; its row stays locked until the
 * refund commits, so refunds of one payment are decided one after the other.
 */
async function localCredit(sql: Sql, input: RefundOrderInput): Promise<OriginalCredit> {
  const order = await selectOrder(sql, input.originalOrderId, true);
  if (
    order === undefined ||
    order.state !== 'completed' ||
    order.creditorBank !== input.originalBank ||
    order.creditAccountId === null ||
    order.payeeId !== input.payerId ||
    order.payerId !== input.payeeId ||
    order.ledger !== input.currency
  ) {
    throw unknownOriginal(`no completed payment order ${input.originalOrderId} to ${input.payerId}`);
  }
  return {
    merchantAccountId: order.creditAccountId,
    amount: order.amount,
    local: { originalTransferId: order.id, customerAccountId: order.debitAccountId },
  };
}

/**
 * A payment from another bank: the credit this bank decided on that bank's
 * funds-transfer message for the order, credited to this merchant in this
 * currency. Its row stays locked until the refund commits.
 */
async function interbankCredit(sql: Sql, input: RefundOrderInput): Promise<OriginalCredit> {
  const { rows } = await sql.query<{
    outcome: string;
    payee_id: string | null;
    credit_account_id: string | null;
    amount: string;
    ledger: string;
  }>(
    `SELECT outcome, payee_id, credit_account_id::text AS credit_account_id, amount::text AS amount, ledger
     FROM interbank_credits WHERE debtor_bank = $1 AND id = $2 FOR UPDATE`,
    [input.originalBank, input.originalOrderId],
  );
  const credit = rows[0];
  if (
    credit === undefined ||
    credit.outcome !== 'credited' ||
    credit.payee_id !== input.payerId ||
    credit.credit_account_id === null ||
    credit.ledger !== input.currency
  ) {
    throw unknownOriginal(
      `no credit of ${input.originalBank} order ${input.originalOrderId} to ${input.payerId}`,
    );
  }
  return { merchantAccountId: credit.credit_account_id, amount: BigInt(credit.amount) };
}

/** A same-bank refund: one posted transfer, a correction of the original's, within its amount. */
async function refundLocally(
  context: RefundOrderContext,
  sql: Sql,
  input: RefundOrderInput,
  local: NonNullable<OriginalCredit['local']>,
  now: Date,
): Promise<void> {
  try {
    await correctInTransaction(
      sql,
      {
        kind: 'refund',
        id: refundTransferId(input.id),
        originalId: local.originalTransferId,
        amount: input.amount,
        reference: input.reference,
      },
      now,
      context.limits,
    );
  } catch (error) {
    if (isMpayError(error, 'REFUND_EXCEEDS_ORIGINAL')) {
      throw new OrderRefusal('REFUND_EXCEEDS_ORIGINAL', error.detail ?? 'refunds exceed the original');
    }
    throw error;
  }
}

/** A refund to another bank's customer: a hold on the merchant's account towards that bank's settlement account. */
async function holdForPeer(
  context: RefundOrderContext,
  sql: Sql,
  input: RefundOrderInput,
  original: OriginalCredit,
  now: Date,
): Promise<void> {
  const reserved = await reservedByRefundOrders(sql, input.originalBank, input.originalOrderId);
  if (reserved + input.amount > original.amount) {
    throw new OrderRefusal(
      'REFUND_EXCEEDS_ORIGINAL',
      `remaining ${original.amount - reserved} of ${original.amount}, asked ${input.amount}`,
    );
  }
  const peer = context.interbank.peer(input.originalBank).id;
  const settlement = await ensureSettlementAccount(sql, context.interbank, peer, input.currency, now);
  const locked = await lockAccounts(sql, original.merchantAccountId, settlement);
  const { debit: merchant } = locked;
  if (merchant.owner !== input.payerId) throw new MpayError('ACCOUNT_UNKNOWN', 'merchant account');
  const hold = validateTransfer(
    {
      id: refundTransferId(input.id),
      kind: 'pending',
      debitAccountId: original.merchantAccountId,
      creditAccountId: settlement,
      amount: input.amount,
      ledger: input.currency,
      reference: input.reference,
      timeoutSeconds: context.interbank.holdTimeoutSeconds,
    },
    context.limits,
  );
  await createTransferInTransaction(sql, hold, now, { locked });
}

async function placeInTransaction(
  context: RefundOrderContext,
  sql: Sql,
  input: RefundOrderInput,
  orderedBy: string,
  now: Date,
): Promise<RefundOrder> {
  const hash = requestHashOf(input);
  const existing = await selectRefundOrder(sql, input.id);
  // A retry of a placed refund is answered from the record, without verifying again: the
  // merchant's signature was verified when it was placed and may have expired since.
  if (existing !== undefined) return sameOrder(existing, hash);
  // The rule first: nothing about the original is looked at for an order the merchant did not sign.
  const { serial, binding } = await verifyMerchantRefundAuthorisation(sql, context, input, orderedBy, now);
  const self = context.interbank.self;
  const merchant = parsePartyId(input.payerId, 'payerId');
  if (!('bank' in merchant) || merchant.bank !== self) {
    throw unknownOriginal(`${input.payerId} is not a party of ${self}`);
  }
  const original =
    input.originalBank === self ? await localCredit(sql, input) : await interbankCredit(sql, input);
  if (!binding.accounts.includes(original.merchantAccountId)) {
    throw new OrderRefusal(
      'REFUND_AUTHORISATION_INVALID',
      `binding ${serial} does not name the credited account`,
    );
  }
  const placed = await selectRefundOrder(sql, input.id);
  if (placed !== undefined) return sameOrder(placed, hash);
  if (original.local !== undefined) await refundLocally(context, sql, input, original.local, now);
  else await holdForPeer(context, sql, input, original, now);
  const order: RefundOrder = {
    id: input.id,
    requestHash: hash,
    orderedBy,
    payerId: input.payerId,
    payeeId: input.payeeId,
    originalOrderId: input.originalOrderId,
    originalBank: input.originalBank,
    authorisation: input.authorisation,
    keyBindingSerial: serial,
    debitAccountId: original.merchantAccountId,
    creditAccountId: original.local?.customerAccountId ?? null,
    transferId: refundTransferId(input.id),
    amount: input.amount,
    ledger: input.currency,
    reference: input.reference,
    state: original.local === undefined ? 'sending' : 'completed',
    refusalCode: null,
    deadline: new Date(
      now.getTime() + (original.local === undefined ? context.interbank.deadlineSeconds * 1000 : 0),
    ),
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
    answer: null,
    createdAt: now,
  };
  await insertRefundOrder(sql, order);
  const { observations } = context;
  if (observations !== undefined) afterCommit(sql, () => observations.refundOrderEntered(order.state));
  return order;
}

/**
 * Every refusal of a refund order, after its transaction rolled back (nothing
 * moved): one append-only row and one log line with the precise reason, which
 * the FSP is not told. A refused merchant signature is a warning: a
 * compromised or faulty FSP, or an attack.
 */
async function recordRefusal(
  context: RefundOrderContext,
  input: RefundOrderInput,
  orderedBy: string,
  error: MpayError,
  now: Date,
): Promise<void> {
  const reason = (error instanceof OrderRefusal ? error.reason : (error.detail ?? error.message)).slice(
    0,
    500,
  );
  const event = { refundId: input.id, orderedBy, payerId: input.payerId, code: error.code, reason };
  await insertRefundOrderRefusal(context.database, {
    refundId: input.id,
    orderedBy,
    payerId: input.payerId,
    code: error.code,
    reason: reason === '' ? error.code : reason,
    createdAt: now,
  }).catch((cause: unknown) =>
    context.log.warn({ ...event, error: String(cause) }, 'refund order refusal not recorded'),
  );
  if (error.code === 'REFUND_AUTHORISATION_INVALID') context.log.warn(event, 'refund order refused');
  else context.log.info(event, 'refund order refused');
}

/**
 * Places a refund order at the merchant's bank, in one transaction: the
 * merchant's signature checked under a key this bank bound to the merchant's
 * credited account; the original payment found in this bank's own records
 * (the payment order for a payment within this bank, the interbank credit for
 * one from another bank) and locked; the refunds of it, this one included,
 * within its amount (REFUND_EXCEEDS_ORIGINAL). Then a customer of this bank is
 * paid back by one posted transfer; a customer of another bank through a hold
 * on the merchant's account and the refund-transfer message the worker
 * delivers (this row is its outbox). The refund id is the idempotency key:
 * the same order again answers the stored one, other fields are refused.
 */
export async function placeRefundOrder(
  context: RefundOrderContext,
  input: RefundOrderInput,
  orderedBy: string,
  now: Date,
): Promise<RefundOrder> {
  try {
    return await retryOnUniqueViolation(() =>
      context.database.transaction((sql) => placeInTransaction(context, sql, input, orderedBy, now)),
    );
  } catch (error) {
    if (isMpayError(error)) await recordRefusal(context, input, orderedBy, error, now);
    throw error;
  }
}
