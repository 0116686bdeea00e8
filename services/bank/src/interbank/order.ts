import { createHash } from 'node:crypto';
import { type TransferRequest, validateTransfer } from '@mpay/ledger';
import { canonicalize, isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import { afterCommit, commitWithLastStatements, type Database, type Sql, together } from '@mpay/storage';
import type { EventLog } from '../key-depository/context.ts';
import type { BankObservations } from '../metrics.ts';
import { countedRefusal, SecondFactorRefusal } from '../second-factor/check.ts';
import { lockAccounts } from '../store/accounts.ts';
import { decideOnReads, retryOnUniqueViolation, writeTransfer } from '../store/create-transfer.ts';
import { selectTransfersById } from '../store/transfers.ts';
import { ensureSettlementAccount } from './accounts.ts';
import { type ConsentContext, type CustomerConsent, verifyCustomerAuthorisation } from './authorisation.ts';
import { insertOrder, insertRefusal, type PaymentOrder, selectOrder } from './orders-store.ts';
import { resolvePayeeAccount } from './payee.ts';
import type { Interbank } from './peers.ts';
import { OrderRefusal } from './refusal.ts';

/**
 * What the FSP asks the customer's bank to pay (iMS step 7), already checked
 * by the route's schema: payer and payee by party id (the payee's bank
 * resolves the payee's account), with the customer's signed authorisation.
 */
export interface PaymentOrderInput {
  readonly id: string;
  readonly payerId: string;
  readonly debitAccountId: string;
  readonly payeeId: string;
  readonly creditBankId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
  /** The customer's compact JWS over the iMS message (address.from.sign); absent: refused. */
  readonly authorisation?: string | undefined;
}

/**
 * How the customer's consent to an order is verified, in the order's
 * transaction, before anything is written: the iMS authorisation
 * (verifyCustomerAuthorisation) for the FSP's payment orders; the macro
 * payment's PApp_Resp check for an approval at the client bank (seed 002
 * step 7). Throws to refuse; what it writes commits only with the order.
 */
export type ConsentVerifier = (
  sql: Sql,
  context: ConsentContext,
  order: PaymentOrderInput,
  orderedBy: string,
  now: Date,
) => Promise<CustomerConsent>;

/** Called under the debit account's lock, before the debit: throws LIMIT_EXCEEDED. Reads only (the debit reuses the locked balances). */
export type DebitLimitCheck = (sql: Sql, accountId: string, amount: bigint, now: Date) => Promise<void>;

export interface OrderContext extends ConsentContext {
  readonly database: Database;
  readonly interbank: Interbank;
  readonly checkDebitLimits: DebitLimitCheck;
  readonly log: EventLog;
  /** Where orders placed and refused are counted once committed (metrics.ts); none: not counted. */
  readonly observations?: BankObservations | undefined;
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
 * waited for the locks; otherwise checks the debit limits and the ledger's
 * rules, then writes the debit with `alongside` (the order's own row) and, as
 * nothing follows them in the order's transaction, the COMMIT.
 */
async function debit(
  context: OrderContext,
  sql: Sql,
  request: TransferRequest,
  payerId: string,
  local: boolean,
  now: Date,
  alongside: () => Promise<void>,
): Promise<PaymentOrder | undefined> {
  if (request.kind !== 'posted' && request.kind !== 'pending') throw new Error('assertion failed: a debit');
  // One round trip: the locks, then under them the order as another request may have placed it, the debit
  // limits (whose refusal counts only for an order not placed yet) and the transfer's id in the ledger;
  // checked below in that order.
  const [locked, placed, overLimit, found] = await together([
    lockAccounts(sql, request.debitAccountId, request.creditAccountId),
    selectOrder(sql, request.id),
    context.checkDebitLimits(sql, request.debitAccountId, request.amount, now).then(
      () => undefined,
      (error: unknown) => {
        if (isMpayError(error)) return error;
        throw error;
      },
    ),
    selectTransfersById(sql, [request.id]),
  ]);
  const { debit: payer, credit: payee } = locked;
  // The binding named the account, and an account's owner never changes; checked again where it is locked.
  if (payer.kind !== 'customer' || payer.owner !== payerId) {
    throw new MpayError('ACCOUNT_UNKNOWN', 'debitAccountId');
  }
  if (local && payee.kind !== 'customer' && payee.kind !== 'merchant') {
    throw new MpayError('ACCOUNT_UNKNOWN', 'creditAccountId');
  }
  if (placed !== undefined) return placed;
  if (overLimit !== undefined) throw overLimit;
  // The limit check only reads: the accounts are still as locked above. The ledger's rules decide before
  // anything is written (a refusal rolls back a transaction that wrote nothing); then the transfer, the
  // order's row and the COMMIT leave together, and the COMMIT runs only if both writes succeeded.
  const decision = decideOnReads(request, now, { found, locked: [payer, payee] });
  const written = together([writeTransfer(sql, decision), alongside()]);
  commitWithLastStatements(sql, decision.created ? 2 : 1);
  await written;
  return undefined;
}

function orderOf(
  input: PaymentOrderInput,
  consent: CustomerConsent & { creditAccountId: string | null },
  orderedBy: string,
  hash: string,
  now: Date,
): PaymentOrder {
  return {
    id: input.id,
    requestHash: hash,
    orderedBy,
    payerId: input.payerId,
    payeeId: input.payeeId,
    authorisation: input.authorisation ?? null,
    keyBindingSerial: consent.keyBindingSerial,
    debitAccountId: input.debitAccountId,
    creditorBank: input.creditBankId,
    creditAccountId: consent.creditAccountId,
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
    approval: consent.approval ?? null,
  };
}

function sameOrder(existing: PaymentOrder, hash: string): PaymentOrder {
  if (existing.requestHash !== hash) throw new MpayError('TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS');
  return existing;
}

/**
 * Where the debit goes: for a payee at this bank, the payee's own account as
 * this bank's records bind it to the payee id (PAYEE_UNKNOWN when there is
 * none); for a payee at another bank, the settlement account of that bank,
 * which alone resolves the payee's account when the funds transfer arrives.
 */
async function creditAccountOf(
  context: OrderContext,
  sql: Sql,
  input: PaymentOrderInput,
  now: Date,
): Promise<{ local: boolean; creditAccountId: string; payeeAccountId: string | null }> {
  const { self } = context.interbank;
  // The payee's address names its bank (`…@merchant.ybank`): money goes to no other bank than that one,
  // whatever the FSP says in creditBankId.
  const payee = parsePartyId(input.payeeId, 'payeeId');
  if (!('bank' in payee) || payee.bank !== input.creditBankId) {
    throw new OrderRefusal('PAYEE_UNKNOWN', `${input.payeeId} is not a party of ${input.creditBankId}`);
  }
  if (input.creditBankId !== self) {
    const peer = context.interbank.peer(input.creditBankId).id;
    const settlement = await ensureSettlementAccount(sql, context.interbank, peer, input.currency, now);
    return { local: false, creditAccountId: settlement, payeeAccountId: null };
  }
  const payeeAccountId = await resolvePayeeAccount(sql, input.payeeId, input.currency);
  if (payeeAccountId === undefined) {
    throw new OrderRefusal('PAYEE_UNKNOWN', `no open ${input.currency} account of ${input.payeeId}`);
  }
  return { local: true, creditAccountId: payeeAccountId, payeeAccountId };
}

async function placeInTransaction(
  context: OrderContext,
  sql: Sql,
  input: PaymentOrderInput,
  orderedBy: string,
  now: Date,
  verifyConsent: ConsentVerifier,
): Promise<PaymentOrder> {
  const hash = requestHashOf(input);
  const existing = await selectOrder(sql, input.id);
  // A retry of a placed order is answered from the record, without verifying again: the
  // authorisation was verified when the order was placed and may have expired since.
  if (existing !== undefined) return sameOrder(existing, hash);
  const consent = await verifyConsent(sql, context, input, orderedBy, now);
  const { local, creditAccountId, payeeAccountId } = await creditAccountOf(context, sql, input, now);
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
  const order = {
    ...orderOf(input, { ...consent, creditAccountId: payeeAccountId }, orderedBy, hash, now),
    state: local ? ('completed' as const) : ('sending' as const),
    deadline: new Date(now.getTime() + (local ? 0 : context.interbank.deadlineSeconds * 1000)),
  };
  const placed = await debit(context, sql, transfer, input.payerId, local, now, () =>
    insertOrder(sql, order).then(() => {
      // Counted once the order's transaction committed: sending, or completed at once (a payee here).
      const { observations } = context;
      if (observations !== undefined)
        afterCommit(sql, () => observations.orderEntered(order.state, now, now));
    }),
  );
  if (placed !== undefined) return sameOrder(placed, hash);
  return order;
}

/**
 * The order's transaction. A refused one-time code is the one refusal that
 * commits: its count (and the block at the limit) is written under the
 * party's lock in this transaction, and the refusal is thrown after the
 * commit. The check runs before the order writes anything, so the count is
 * all that commits.
 */
async function placeOrRefuse(
  context: OrderContext,
  input: PaymentOrderInput,
  orderedBy: string,
  now: Date,
  verifyConsent: ConsentVerifier,
): Promise<PaymentOrder> {
  const outcome = await context.database.transaction(async (sql) => {
    try {
      return await placeInTransaction(context, sql, input, orderedBy, now, verifyConsent);
    } catch (error) {
      if (error instanceof SecondFactorRefusal) return countedRefusal(sql, context, error, now);
      throw error;
    }
  });
  if (outcome instanceof OrderRefusal) throw outcome;
  return outcome;
}

/**
 * Places a payment order at the client bank, in one transaction: a payee at
 * this bank is paid by one posted transfer; a payee at another bank gets a
 * hold (pending transfer, id = order id) on the customer's account towards
 * the settlement account of the merchant bank, plus the outbox row that
 * delivers the funds-transfer message. The order id is the idempotency key:
 * the same order again returns the stored one, different fields are refused.
 * `verifyConsent` checks the customer's consent (default: the iMS
 * authorisation the order carries).
 */
export async function placeOrder(
  context: OrderContext,
  input: PaymentOrderInput,
  orderedBy: string,
  now: Date,
  verifyConsent: ConsentVerifier = verifyCustomerAuthorisation,
): Promise<PaymentOrder> {
  try {
    return await retryOnUniqueViolation(() => placeOrRefuse(context, input, orderedBy, now, verifyConsent));
  } catch (error) {
    if (isMpayError(error)) await recordRefusal(context, input, orderedBy, error, now);
    throw error;
  }
}

const warnedCodes: ReadonlySet<string> = new Set([
  'CUSTOMER_AUTHORISATION_REQUIRED',
  'CUSTOMER_AUTHORISATION_INVALID',
  'SECURITY_LEVEL_TOO_LOW',
  'SECOND_FACTOR_INVALID',
]);

/**
 * Every refusal of an order, after its transaction rolled back (nothing
 * moved): one append-only row and one log line with the precise reason,
 * which the FSP is not told. A refused authorisation is a warning: a
 * compromised or faulty FSP, or an attack.
 */
async function recordRefusal(
  context: OrderContext,
  input: PaymentOrderInput,
  orderedBy: string,
  error: MpayError,
  now: Date,
): Promise<void> {
  const reason = (error instanceof OrderRefusal ? error.reason : (error.detail ?? error.message)).slice(
    0,
    500,
  );
  const event = { orderId: input.id, orderedBy, payerId: input.payerId, code: error.code, reason };
  const refusal = { ...event, reason: reason === '' ? error.code : reason, createdAt: now };
  const recorded = await insertRefusal(context.database, refusal).then(
    () => true,
    (cause: unknown) => {
      context.log.warn({ ...event, error: String(cause) }, 'payment order refusal not recorded');
      return false;
    },
  );
  if (recorded) context.observations?.orderRefused();
  // A refused authorisation, level or code: a compromised or faulty FSP, a stolen device, or an attack.
  if (warnedCodes.has(error.code)) context.log.warn(event, 'payment order refused');
  else context.log.info(event, 'payment order refused');
}
