import { MpayError, parsePartyId } from '@mpay/protocol';
import type { CustomerConsent } from '../../interbank/authorisation.ts';
import { deliverPlacedOrder } from '../../interbank/deliver.ts';
import { type ConsentVerifier, type PaymentOrderInput, placeOrder } from '../../interbank/order.ts';
import type { PaymentOrder } from '../../interbank/orders-store.ts';
import { OrderRefusal } from '../../interbank/refusal.ts';
import {
  lockSessionBinding,
  type OpenedBankingRequest,
  recordOutcomeWithEffect,
} from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { recordBankingTransaction } from '../transaction-log-server-client/record.ts';
import { selectBiller } from './billers.ts';

/**
 * Money requests of the business logic server (seed 003 §5.2: "the BLS
 * interacts with the regular bank"): a transfer to another customer and a
 * bill payment are payment orders of the bank's existing order machinery
 * (interbank/order.ts placeOrder): a payee here is paid by one posted
 * transfer, a payee at another bank through a hold and a signed funds
 * transfer to that bank. The funds, the debit limits (LIMIT_EXCEEDED) and
 * the payee's account (PAYEE_UNKNOWN) are that machinery's; the customer's
 * consent is the device's signed request, checked again here under the
 * binding's row lock (bankingConsentVerifier).
 */

/** The reference of a banking order in the ledger and the funds transfer; the FSP's route refuses it. */
export function bankingOrderReference(requestId: string): string {
  return `banking ${requestId}`;
}

/** The reference of a bill payment: the biller and the customer's reference with it. */
export function billOrderReference(billerId: string, customerReference: string): string {
  return `bill ${billerId} ${customerReference}`;
}

type MoneyKind = 'transfer' | 'bill_payment';

interface BankingOrder {
  readonly kind: MoneyKind;
  readonly input: PaymentOrderInput;
  /** What the bank's signed record says besides the request id, kind, party and ID_C. */
  readonly facts: Readonly<Record<string, unknown>>;
  /** The result's members besides the order's state (stateOf). */
  readonly answer: Readonly<Record<string, unknown>>;
}

/** The payee's bank, as its address names it (`…@person.ybank`): money goes to no other. */
function payeeBankOf(payeeId: string): string {
  const payee = parsePartyId(payeeId, 'payeeId');
  if (!('bank' in payee)) throw new MpayError('PAYEE_UNKNOWN', 'payeeId');
  return payee.bank;
}

/**
 * The consent check placeOrder runs inside the order's transaction, before
 * the debit: the session's binding again, locked until the transaction ends
 * (a revocation that commits while the request was in flight is seen, and
 * none can commit between this check and the debit), its subject the payer,
 * naming the debited account (ID_C's ACCID); then the banking transaction
 * and the request's outcome (its result, with the state the order commits
 * in: recordOutcomeWithEffect) are recorded in the same transaction, so that
 * they exist if and only if the money moved. The answer path records the
 * order's state after its delivery later, when it gets that far.
 */
function bankingConsentVerifier(
  context: BankingContext,
  opened: OpenedBankingRequest,
  expected: BankingOrder,
): ConsentVerifier {
  return async (sql, _consentContext, order, _orderedBy, now): Promise<CustomerConsent> => {
    const bound = await lockSessionBinding(sql, context, opened, now);
    if (bound.binding.subject !== opened.partyId || order.payerId !== opened.partyId) {
      throw new OrderRefusal('BANKING_REQUEST_INVALID', `binding ${bound.serial} is not of the payer`);
    }
    if (!bound.binding.accounts.includes(order.debitAccountId)) {
      throw new OrderRefusal(
        'BANKING_REQUEST_INVALID',
        `binding ${bound.serial} does not name the debited account`,
      );
    }
    if (
      order.id !== expected.input.id ||
      order.debitAccountId !== opened.clientId.accountId ||
      order.payeeId !== expected.input.payeeId ||
      order.amount !== expected.input.amount ||
      order.currency !== expected.input.currency
    ) {
      throw new Error('assertion failed: the order is the one the banking request asks for');
    }
    await recordBankingTransaction(
      sql,
      context,
      opened,
      { kind: expected.kind, transferId: order.id, facts: expected.facts },
      now,
    );
    // The outcome with the debit: placeOrder commits the order in this state, or nothing.
    const placedState = order.creditBankId === context.interbank.self ? 'completed' : 'sending';
    await recordOutcomeWithEffect(sql, opened, resultOf(expected, { id: order.id, state: placedState }));
    return { keyBindingSerial: bound.serial, approval: undefined };
  };
}

/**
 * Places the order (id = the request id, ordered by the customer's party)
 * and, for a payee at another bank, delivers its funds transfer once right
 * away, as a macro approval does; the bank's worker retries the rest.
 */
async function placeBankingOrder(
  context: BankingContext,
  opened: OpenedBankingRequest,
  order: BankingOrder,
  now: Date,
): Promise<PaymentOrder> {
  const placed = await placeOrder(
    context,
    order.input,
    opened.partyId,
    now,
    bankingConsentVerifier(context, opened, order),
  );
  return deliverPlacedOrder(context, placed);
}

type OrderStateOf = Pick<PaymentOrder, 'id' | 'state'> & Partial<Pick<PaymentOrder, 'refusalCode'>>;

/** The order's state as the customer sees it; a refusal by the payee's bank names its code (the hold is released). */
function stateOf(order: OrderStateOf): Record<string, unknown> {
  return {
    orderId: order.id,
    state: order.state,
    ...(order.state === 'refused' && order.refusalCode !== undefined && order.refusalCode !== null
      ? { refusalCode: order.refusalCode }
      : {}),
  };
}

/** The request's result: the order's state and what the kind answers besides. */
function resultOf(order: BankingOrder, state: OrderStateOf): Readonly<Record<string, unknown>> {
  return Object.freeze({ ...stateOf(state), ...order.answer });
}

/**
 * transfer {payeeId, amount, currency, reference}: from ID_C's account to
 * another customer, here or at another bank. Result `{orderId, state,
 * payeeId, amount, currency, reference}` (reference: the customer's; the
 * order's own is `banking <requestId>`).
 */
export async function executeTransfer(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  const { request } = opened;
  if (request.kind !== 'transfer') throw new Error('assertion failed: a transfer request');
  const creditBankId = payeeBankOf(request.payeeId);
  const reference = bankingOrderReference(opened.requestId);
  const amount = request.amount.toString();
  const order: BankingOrder = {
    kind: 'transfer',
    input: {
      id: opened.requestId,
      payerId: opened.partyId,
      debitAccountId: opened.clientId.accountId,
      payeeId: request.payeeId,
      creditBankId,
      amount: request.amount,
      currency: request.currency,
      reference,
      authorisation: opened.jws,
    },
    facts: {
      orderId: opened.requestId,
      payeeId: request.payeeId,
      creditBankId,
      amount,
      currency: request.currency,
      reference: request.reference,
      orderReference: reference,
    },
    answer: { payeeId: request.payeeId, amount, currency: request.currency, reference: request.reference },
  };
  return resultOf(order, await placeBankingOrder(context, opened, order, now));
}

/**
 * bill_payment {billerId, customerReference, amount, currency}: an order to
 * the registered biller's payee (BANKING_BILLER_UNKNOWN for another id),
 * reference `bill <billerId> <customerReference>`. Result `{orderId, state,
 * billerId, billerName, customerReference, amount, currency}`.
 */
export async function executeBillPayment(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  const { request } = opened;
  if (request.kind !== 'bill_payment') throw new Error('assertion failed: a bill payment request');
  // Billers are never changed nor removed: reading it before the order's transaction is reading it in it.
  const biller = await selectBiller(context.database, request.billerId);
  if (biller === undefined) throw new MpayError('BANKING_BILLER_UNKNOWN');
  const creditBankId = payeeBankOf(biller.payeeId);
  const reference = billOrderReference(biller.id, request.customerReference);
  const amount = request.amount.toString();
  const order: BankingOrder = {
    kind: 'bill_payment',
    input: {
      id: opened.requestId,
      payerId: opened.partyId,
      debitAccountId: opened.clientId.accountId,
      payeeId: biller.payeeId,
      creditBankId,
      amount: request.amount,
      currency: request.currency,
      reference,
      authorisation: opened.jws,
    },
    facts: {
      orderId: opened.requestId,
      billerId: biller.id,
      billerName: biller.name,
      payeeId: biller.payeeId,
      creditBankId,
      customerReference: request.customerReference,
      amount,
      currency: request.currency,
      orderReference: reference,
    },
    answer: {
      billerId: biller.id,
      billerName: biller.name,
      customerReference: request.customerReference,
      amount,
      currency: request.currency,
    },
  };
  return resultOf(order, await placeBankingOrder(context, opened, order, now));
}
