import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { minorOf } from '../shop/api.ts';
import { Busy, Button, Card, ErrorNotice } from '../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../ui/format.ts';
import type { OrderSummaryView, TillClient } from './api.ts';

/** How many recent orders the list shows, and how often it looks for new ones. */
const ordersListed = 20;
export const ordersPollMs = 3_000;

const statusWords: Readonly<Record<string, string>> = {
  awaiting_payment: 'Awaiting payment',
  paid: 'Paid: to ship',
  packed: 'Packed: to ship',
  shipped: 'Shipped',
  delivered: 'Delivered',
  payment_failed: 'Not paid',
  cancelled: 'Cancelled',
  on_hold: 'On hold',
};

const statusTone: Readonly<Record<string, string>> = {
  paid: 'badge badge-warn',
  packed: 'badge badge-warn',
  shipped: 'badge badge-good',
  delivered: 'badge badge-good',
  payment_failed: 'badge badge-bad',
  cancelled: 'badge badge-bad',
  on_hold: 'badge badge-bad',
};

function OrderItem(props: {
  readonly till: TillClient;
  readonly order: OrderSummaryView;
  readonly onChanged: () => void;
}): JSX.Element {
  const { order } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const label = shortId(order.orderId);
  const act = async (actions: readonly ('pack' | 'ship' | 'deliver')[]) => {
    setBusy(true);
    setError(undefined);
    try {
      // Each step repeated changes nothing at the shop, so a retry after a lost answer is safe.
      for (const action of actions) await props.till.shipment(order.orderId, action);
      props.onChanged();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li data-testid="order">
      <div class="line">
        <strong title={order.orderId}>Order {label}</strong>
        <strong>{formatMoney(minorOf(order.total), order.total.currency)}</strong>
      </div>
      <p class="muted small">
        <span class={statusTone[order.status] ?? 'badge'}>{statusWords[order.status] ?? order.status}</span>{' '}
        {formatTime(order.createdAt)} · {order.customer}
      </p>
      <ErrorNotice
        error={error}
        onRetry={() => void act(order.status === 'packed' ? ['ship'] : ['pack', 'ship'])}
      />
      {order.status === 'paid' || order.status === 'packed' ? (
        <button
          type="button"
          class="button button-primary"
          disabled={busy}
          aria-busy={busy}
          aria-label={`Ship order ${label}`}
          onClick={() => void act(order.status === 'paid' ? ['pack', 'ship'] : ['ship'])}
        >
          Ship
        </button>
      ) : null}
      {order.status === 'shipped' ? (
        <Button kind="secondary" busy={busy} onClick={() => void act(['deliver'])}>
          Mark delivered
        </Button>
      ) : null}
    </li>
  );
}

/** The shop's orders for the staff: a paid one is packed and shipped from here (the shop ships by hand). */
export function OrdersDesk(props: { readonly till: TillClient }): JSX.Element {
  const [orders, setOrders] = useState<readonly OrderSummaryView[] | undefined>();
  const [error, setError] = useState<unknown>();
  const load = useCallback(async () => {
    try {
      setOrders(await props.till.orders(ordersListed));
      setError(undefined);
    } catch (caught) {
      setError(caught);
    }
  }, [props.till]);
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), ordersPollMs);
    return () => clearInterval(timer);
  }, [load]);
  return (
    <Card title="Shop orders">
      <ErrorNotice error={error} onRetry={() => void load()} />
      {orders === undefined ? (
        error === undefined ? (
          <Busy label="Loading orders…" />
        ) : null
      ) : orders.length === 0 ? (
        <p class="muted">No orders yet.</p>
      ) : (
        <ul class="list" aria-label="Orders">
          {orders.map((order) => (
            <OrderItem key={order.orderId} till={props.till} order={order} onChanged={() => void load()} />
          ))}
        </ul>
      )}
    </Card>
  );
}
