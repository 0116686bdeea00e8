import type { Amount } from '../money/index.ts';
import type { OrderEventKind } from './state-machine.ts';

/** What the shop asked the FSP for: the order's total and the payer the merchant's own signed message named. */
export interface OrderPaymentTerms {
  readonly amount: Amount;
  /**
   * The payer's party id as the merchant's signed request named it (an MSISDN
   * resolved by the FSP's alias before signing); null if no request was sent.
   */
  readonly payer: string | null;
}

/** The payment as the FSP's verified notification describes it (iMS step 9). */
export interface PaymentNotice {
  /** The payment's public status (`completed`, `declined` …). */
  readonly status: string;
  readonly amount: { readonly currency: string; readonly minor: bigint };
  readonly payer: string;
}

/** Which term of a completed payment differs from the order's, first found in this order. */
export type PaymentMismatch = 'currency' | 'amount' | 'payer';

export interface PaymentNoticeReading {
  /** The order event the notice stands for; undefined for a status that changes no order (refunded …). */
  readonly event: OrderEventKind | undefined;
  readonly mismatch: PaymentMismatch | undefined;
}

const eventByStatus: Readonly<Record<string, OrderEventKind>> = Object.freeze({
  requested: 'payment_requested',
  awaiting_customer: 'payment_requested',
  authorised: 'payment_requested',
  declined: 'payment_declined',
  failed: 'payment_failed',
  expired: 'payment_expired',
  cancelled: 'payment_cancelled',
});

/**
 * Reads a verified payment notification against the order it is for. Only a
 * `completed` payment of exactly the order's currency, amount and payer is
 * `payment_completed` (the positive confirmation that authorises shipment);
 * a completed payment that differs in any of them is `payment_mismatched`,
 * and nothing ships.
 */
export function readPaymentNotice(terms: OrderPaymentTerms, notice: PaymentNotice): PaymentNoticeReading {
  if (notice.status === 'completed') {
    const mismatch = mismatchOf(terms, notice);
    return Object.freeze({
      event: mismatch === undefined ? 'payment_completed' : 'payment_mismatched',
      mismatch,
    });
  }
  const event = Object.hasOwn(eventByStatus, notice.status) ? eventByStatus[notice.status] : undefined;
  return Object.freeze({ event, mismatch: undefined });
}

function mismatchOf(terms: OrderPaymentTerms, notice: PaymentNotice): PaymentMismatch | undefined {
  if (notice.amount.currency !== terms.amount.currency) return 'currency';
  if (notice.amount.minor !== terms.amount.minor) return 'amount';
  if (terms.payer === null || notice.payer !== terms.payer) return 'payer';
  return undefined;
}
