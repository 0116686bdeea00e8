import { MpayError, type OrderEventKind, stepOrder } from '@mpay/protocol';
import type { ShopContext } from '../context.ts';
import { findOrder, type Order, persistOrderStep } from './store.ts';

/** What the operator (pack, ship) and the courier (deliver) do to a paid order's shipment. */
export type ShipmentAction = 'pack' | 'ship' | 'deliver';

export const shipmentActions: readonly ShipmentAction[] = Object.freeze(['pack', 'ship', 'deliver']);

const eventOfAction: Readonly<Record<ShipmentAction, OrderEventKind>> = Object.freeze({
  pack: 'packed',
  ship: 'shipped',
  deliver: 'delivered',
});

export interface ShipmentDetails {
  readonly carrier?: string | undefined;
  readonly trackingReference?: string | undefined;
}

/**
 * Moves a paid order's shipment on, as the state table allows: pack after
 * payment, ship after packing, deliver after shipping. The same action
 * repeated changes nothing (a retried request); any other is
 * ORDER_STATE_INVALID, e.g. shipping an order that was never paid.
 */
export async function advanceShipment(
  context: ShopContext,
  orderId: string,
  action: ShipmentAction,
  details: ShipmentDetails,
): Promise<Order> {
  const event = eventOfAction[action];
  const now = context.clock();
  await context.database.transaction(async (sql) => {
    const order = await findOrder(sql, orderId, { lock: true });
    if (order === undefined) throw new MpayError('ORDER_UNKNOWN');
    const result = stepOrder(order.state, event);
    if (!result.changed) return;
    await persistOrderStep(
      sql,
      order,
      event,
      result,
      { actor: 'merchant', carrier: details.carrier, trackingReference: details.trackingReference },
      now,
    );
  });
  const order = await findOrder(context.database, orderId);
  if (order === undefined) throw new Error('assertion failed: the order exists');
  return order;
}
