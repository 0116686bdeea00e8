import { type AmountView, shopCall } from '../shop/api.ts';

/** The till's answers (services/merchant-shop/src/till/views.ts). */
export type SaleStatus =
  | 'waiting'
  | 'claimed'
  | 'paid'
  | 'declined'
  | 'expired'
  | 'failed'
  | 'cancelled'
  | 'on_hold';

export interface SaleView {
  readonly saleId: string;
  readonly status: SaleStatus;
  readonly state: string;
  readonly amount: AmountView;
  readonly reference: string | null;
  readonly qrPayload: string;
  readonly codeExpiresAt: string;
  readonly customer: string | null;
  readonly claimedAt: string | null;
  readonly securityLevel: string | null;
  readonly failureCode: string | null;
  readonly paidAt: string | null;
  readonly createdAt: string;
}

export type RefundStatus = 'requested' | 'ordered' | 'completed' | 'refused' | 'failed';

export interface RefundView {
  readonly refundId: string;
  readonly paymentId: string;
  readonly kind: 'sale' | 'order';
  readonly amount: AmountView;
  readonly reason: string | null;
  readonly status: RefundStatus;
  readonly failureCode: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface PaidPaymentView {
  readonly kind: 'sale' | 'order';
  readonly paymentId: string;
  readonly saleId: string | null;
  readonly orderId: string | null;
  readonly status: string;
  readonly amount: AmountView;
  readonly description: string;
  readonly customer: string | null;
  readonly shipment: { readonly status: string } | null;
  readonly refunds: readonly RefundView[];
  /** What is left to give back: minor units, may be zero. */
  readonly refundable: { readonly currency: string; readonly minor: string };
  readonly at: string;
}

export interface OrderSummaryView {
  readonly orderId: string;
  readonly status: string;
  readonly customer: string;
  readonly total: AmountView;
  readonly transactionId: string;
  readonly createdAt: string;
}

export type ShipmentAction = 'pack' | 'ship' | 'deliver';

/** Refunds that the banks are still paying back. */
export function isRefundOpen(status: RefundStatus): boolean {
  return status === 'requested' || status === 'ordered';
}

/** The staff's side of the shop: every call carries the merchant's bearer token. */
export class TillClient {
  readonly #base: string;
  readonly #token: string;

  constructor(base: string, token: string) {
    this.#base = base;
    this.#token = token;
  }

  #call<T>(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    return shopCall<T>(this.#base, method, path, { token: this.#token, body, idempotencyKey });
  }

  /** Checks the token: AUTHENTICATION_FAILED for a wrong one. */
  async check(): Promise<void> {
    await this.#call('GET', '/till/sales?limit=1');
  }

  /** A new sale and its signed QR code; the same key again answers the same sale (a retry). */
  createSale(
    idempotencyKey: string,
    amount: { currency: string; minor: bigint },
    reference: string,
  ): Promise<SaleView> {
    return this.#call(
      'POST',
      '/till/sales',
      {
        amount: { currency: amount.currency, minor: amount.minor.toString() },
        ...(reference.trim() === '' ? {} : { reference: reference.trim() }),
      },
      idempotencyKey,
    );
  }

  sale(saleId: string): Promise<SaleView> {
    return this.#call('GET', `/till/sales/${encodeURIComponent(saleId)}`);
  }

  cancelSale(saleId: string): Promise<SaleView> {
    return this.#call('POST', `/till/sales/${encodeURIComponent(saleId)}/cancellation`);
  }

  async payments(limit: number): Promise<readonly PaidPaymentView[]> {
    return (await this.#call<{ payments: PaidPaymentView[] }>('GET', `/till/payments?limit=${limit}`))
      .payments;
  }

  refund(input: {
    paymentId: string;
    refundId: string;
    amount: { currency: string; minor: bigint };
    reason: string;
  }): Promise<RefundView> {
    return this.#call('POST', '/till/refunds', {
      paymentId: input.paymentId,
      refundId: input.refundId,
      amount: { currency: input.amount.currency, minor: input.amount.minor.toString() },
      ...(input.reason.trim() === '' ? {} : { reason: input.reason.trim() }),
    });
  }

  refundStatus(refundId: string): Promise<RefundView> {
    return this.#call('GET', `/till/refunds/${encodeURIComponent(refundId)}`);
  }

  async orders(limit: number): Promise<readonly OrderSummaryView[]> {
    return (await this.#call<{ orders: OrderSummaryView[] }>('GET', `/merchant/orders?limit=${limit}`))
      .orders;
  }

  shipment(orderId: string, action: ShipmentAction): Promise<unknown> {
    return this.#call('POST', `/merchant/orders/${encodeURIComponent(orderId)}/shipment`, { action });
  }
}
