import { encryptTo } from '@mpay/envelope';
import {
  createAmount,
  formatDecimalAmount,
  MpayError,
  type RefundStatus,
  refundStatusOf,
} from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { custodianOf, redirectToCustody } from '../devices/custody-redirect.ts';
import type { DeviceEvent } from '../devices/hub.ts';
import { paymentOfParty } from '../payments/status.ts';
import { activeBindingOf } from '../registry/bindings.ts';
import { listRefundEvents, type Refund, selectRefund } from './store.ts';

/** A refund as its parties see it (the SDK's RefundAnswer). */
export interface RefundView {
  readonly refundId: string;
  readonly paymentId: string;
  readonly status: RefundStatus;
  readonly amount: { readonly currency: string; readonly value: string };
  readonly reason?: string;
  readonly failureCode?: string;
  /** For the customer: the FSP's signed refund receipt, encrypted to the customer's device key. */
  readonly receipt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly { readonly status: RefundStatus; readonly step: string; readonly at: string }[];
}

export async function refundView(
  context: GatewayContext,
  refund: Refund,
  forCustomer = false,
): Promise<RefundView> {
  const events = await listRefundEvents(context.database, refund.id);
  let receipt: string | undefined;
  if (forCustomer && refund.receipt !== null) {
    const binding = await activeBindingOf(
      context.database,
      refund.customerId,
      context.clock(),
      context.keyCache,
    );
    receipt = await encryptTo(refund.receipt, binding.encryptionJwk);
  }
  return {
    refundId: refund.id,
    paymentId: refund.paymentId,
    status: refundStatusOf(refund.state),
    amount: {
      currency: refund.currency,
      value: formatDecimalAmount(createAmount(refund.currency, refund.amountMinor)),
    },
    ...(refund.reason === null ? {} : { reason: refund.reason }),
    ...(refund.failureCode === null ? {} : { failureCode: refund.failureCode }),
    ...(receipt === undefined ? {} : { receipt }),
    createdAt: refund.createdAt.toISOString(),
    updatedAt: refund.updatedAt.toISOString(),
    history: events.map((event) => ({
      status: refundStatusOf(event.toState),
      step: event.step,
      at: event.createdAt.toISOString(),
    })),
  };
}

/**
 * A refund for the parties of its payment only: to anyone else the payment
 * does not exist (PAYMENT_UNKNOWN), and a refund id of another payment, or
 * none, is REFUND_UNKNOWN.
 */
export async function refundOfParty(
  context: GatewayContext,
  paymentId: string,
  refundId: string,
  callerId: string,
): Promise<{ refund: Refund; isCustomer: boolean }> {
  const payment = await paymentOfParty(context, paymentId, callerId);
  const refund = await selectRefund(context.database, refundId);
  if (refund === undefined || refund.paymentId !== payment.id) throw new MpayError('REFUND_UNKNOWN');
  return { refund, isCustomer: callerId === payment.customer.id };
}

/**
 * The customer's refund receipt, encrypted to the binding's key: pushed to
 * the device's open streams (event 'refund-receipt', id the payment, as
 * Wallet.openRefundReceipt opens it), or, for a customer whose key is in
 * custody, redirected to custody as a payment's receipt is (pushToDevice
 * decides the same way), whose inbox the customer's phones read. Custody must
 * acknowledge, else this throws and the outbox retries. A device that is
 * offline asks for it with GET /payments/:id/refunds/:refundId.
 */
export async function pushRefundReceipt(context: GatewayContext, refundId: string): Promise<void> {
  const rendered = await renderRefundReceipt(context, refundId);
  if (rendered === undefined) return;
  const { refund, binding, data } = rendered;
  const custodian = custodianOf(context, binding);
  if (custodian !== undefined) {
    await redirectToCustody(context, custodian, {
      event: 'refund-receipt',
      paymentId: refund.paymentId,
      refundId: refund.id,
      data,
    });
    return;
  }
  const event: DeviceEvent = { event: 'refund-receipt', id: refund.paymentId, data };
  context.hub.push(refund.customerId, event);
  await context.hub.announce({ kind: 'refund', party: refund.customerId, refundId: refund.id });
}

async function renderRefundReceipt(context: GatewayContext, refundId: string) {
  const refund = await selectRefund(context.database, refundId);
  if (refund?.receipt == null) return undefined;
  const binding = await activeBindingOf(
    context.database,
    refund.customerId,
    context.clock(),
    context.keyCache,
  );
  return { refund, binding, data: await encryptTo(refund.receipt, binding.encryptionJwk) };
}

/** Another instance's notice (devices/relay.ts): the refund's receipt for its customer's streams held here. */
export async function refundEventForStreams(
  context: GatewayContext,
  refundId: string,
): Promise<{ customerId: string; event: DeviceEvent } | undefined> {
  const rendered = await renderRefundReceipt(context, refundId);
  if (rendered === undefined || custodianOf(context, rendered.binding) !== undefined) return undefined;
  const { refund, data } = rendered;
  return { customerId: refund.customerId, event: { event: 'refund-receipt', id: refund.paymentId, data } };
}
