import { type ErrorCode, isErrorCode } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Notice } from '../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../ui/format.ts';
import { minorOf, type OrderStatus, type OrderView, type ShopClient } from './api.ts';
import type { OrderHandle } from './session.ts';

/** How often the page asks the shop for the order while it can still change. */
export const orderPollMs = 1_500;
/** After a failed read, the page waits longer before the next (up to this). */
const orderPollBackoffMsMax = 15_000;

/** Statuses after which nothing changes for the customer (delivered, or nothing was paid). */
const finalStatuses: ReadonlySet<OrderStatus> = new Set<OrderStatus>([
  'delivered',
  'payment_failed',
  'cancelled',
  'on_hold',
]);

const titles: Readonly<Record<OrderStatus, string>> = {
  awaiting_payment: 'Waiting for your payment',
  paid: 'Paid',
  packed: 'Packed',
  shipped: 'Shipped',
  delivered: 'Delivered',
  payment_failed: 'Not paid',
  cancelled: 'Not paid',
  on_hold: 'On hold',
};

const steps: readonly { readonly status: OrderStatus; readonly label: string }[] = [
  { status: 'awaiting_payment', label: 'Confirm on your phone' },
  { status: 'paid', label: 'Paid' },
  { status: 'packed', label: 'Packed' },
  { status: 'shipped', label: 'Shipped' },
  { status: 'delivered', label: 'Delivered' },
];

/** Why an order was not paid, as a stable code the page has words for. */
export function failureCodeOf(order: OrderView): ErrorCode | undefined {
  if (order.status !== 'payment_failed' && order.status !== 'cancelled') return undefined;
  if (isErrorCode(order.payment.failureCode)) return order.payment.failureCode;
  switch (order.payment.status) {
    case 'expired':
      return 'PAYMENT_EXPIRED';
    case 'cancelled':
      return 'PAYMENT_CANCELLED';
    case 'declined':
      return 'PAYMENT_DECLINED';
    default:
      return order.status === 'cancelled' ? 'PAYMENT_CANCELLED' : 'PAYMENT_DECLINED';
  }
}

/**
 * Follows the order as the shop stores it, asking again every `orderPollMs`
 * until it can no longer change: every status shown is one the shop
 * answered (it moves only on the FSP's signed notification and on the
 * merchant's shipment steps).
 */
function useOrder(client: ShopClient, handle: OrderHandle) {
  const [order, setOrder] = useState<OrderView | undefined>();
  const [error, setError] = useState<unknown>();
  const [checkedAt, setCheckedAt] = useState<Date | undefined>();
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delayMs = orderPollMs;
    const read = async () => {
      try {
        const current = await client.order(handle.orderId, handle.orderToken);
        if (stopped) return;
        setOrder(current);
        setError(undefined);
        setCheckedAt(new Date());
        delayMs = orderPollMs;
        if (finalStatuses.has(current.status)) return;
      } catch (caught) {
        if (stopped) return;
        setError(caught);
        delayMs = Math.min(delayMs * 2, orderPollBackoffMsMax);
      }
      timer = setTimeout(() => void read(), delayMs);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, handle.orderId, handle.orderToken]);
  return { order, error, checkedAt };
}

function Progress(props: { readonly status: OrderStatus }): JSX.Element | null {
  const reached = steps.findIndex((step) => step.status === props.status);
  if (reached < 0) return null;
  return (
    <ol class="progress" aria-label="Order progress">
      {steps.map((step, index) => (
        <li
          key={step.status}
          class={index < reached ? 'progress-done' : index === reached ? 'progress-current' : 'progress-todo'}
          aria-current={index === reached ? 'step' : undefined}
        >
          {step.label}
        </li>
      ))}
    </ol>
  );
}

export function OrderStatusView(props: {
  readonly client: ShopClient;
  readonly handle: OrderHandle;
  readonly onShopAgain: () => void;
}): JSX.Element {
  const { order, error, checkedAt } = useOrder(props.client, props.handle);
  if (order === undefined) {
    return error === undefined ? <Busy label="Loading your order…" /> : <ErrorNotice error={error} />;
  }
  const failure = failureCodeOf(order);
  const total = formatMoney(minorOf(order.total), order.total.currency);
  const tone =
    failure !== undefined || order.status === 'on_hold'
      ? 'bad'
      : order.status === 'awaiting_payment'
        ? 'default'
        : 'good';
  return (
    <>
      <Card tone={tone} testId="order-status">
        <h2 aria-live="polite">{titles[order.status]}</h2>
        <Progress status={order.status} />
        {order.status === 'awaiting_payment' ? (
          <Notice>
            <p>
              Open your mpay wallet and confirm <strong>{total}</strong> to Merkur Trade. This page follows
              the payment by itself.
            </p>
          </Notice>
        ) : null}
        {failure === undefined ? null : <ErrorNotice error={{ code: failure }} />}
        {order.status === 'on_hold' ? (
          <Notice tone="warn">
            The payment did not match this order. The shop checks it; nothing ships until then.
          </Notice>
        ) : null}
        {order.shipment?.status === 'shipped' || order.shipment?.status === 'delivered' ? (
          <p>
            {order.shipment.carrier === null ? 'On its way.' : `With ${order.shipment.carrier}.`}
            {order.shipment.trackingReference === null ? null : (
              <>
                {' '}
                Tracking: <span class="mono">{order.shipment.trackingReference}</span>
              </>
            )}
          </p>
        ) : null}
        {error === undefined ? null : (
          <Notice tone="warn">The connection to the shop was lost; the page keeps trying.</Notice>
        )}
        {checkedAt === undefined ? null : <p class="muted small">Checked {checkedAt.toLocaleTimeString()}</p>}
      </Card>
      <Card title="Your order">
        <ul class="list" aria-label="Order lines">
          {order.lines.map((line) => (
            <li key={line.productId} class="line">
              <span>
                {line.quantity} × {line.name}
              </span>
              <strong>{formatMoney(minorOf(line.lineTotal), line.lineTotal.currency)}</strong>
            </li>
          ))}
        </ul>
        <p class="row shop-total">
          <span>Total</span>
          <strong>{total}</strong>
        </p>
        <Facts
          items={[
            ['Order', <span title={order.orderId}>{shortId(order.orderId)}</span>],
            ['Placed', formatTime(order.createdAt)],
          ]}
        />
        <Button kind={finalStatuses.has(order.status) ? 'primary' : 'secondary'} onClick={props.onShopAgain}>
          Shop again
        </Button>
      </Card>
    </>
  );
}
