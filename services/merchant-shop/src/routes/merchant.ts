import {
  MpayError,
  type OrderPublicStatus,
  type OrderState,
  orderStateMachine,
  orderStates,
} from '@mpay/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ShopContext } from '../context.ts';
import {
  listNotifications,
  type NotificationEvent,
  type PaymentNotification,
} from '../notifications/store.ts';
import { advanceShipment, type ShipmentAction, shipmentActions } from '../orders/shipment.ts';
import { findOrder, listOrderEvents, listOrders } from '../orders/store.ts';
import {
  merchantOrderAnswer,
  notificationsAnswer,
  orderListAnswer,
  paymentNotificationsAnswer,
} from './answers.ts';
import { uuidPattern } from './customer.ts';
import { merchantOrderView, orderSummaryView } from './views.ts';

const publicStatuses = [...new Set(orderStates.map((state) => orderStateMachine[state].publicStatus))];

const orderParams = {
  type: 'object',
  additionalProperties: false,
  required: ['orderId'],
  properties: { orderId: { type: 'string', pattern: uuidPattern } },
} as const;

/** `limit` (checked against pageSizeMax in the handler) and `before` (a seq or id) arrive as query strings. */
const pageQuery = (extra: Record<string, object>) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
      before: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' },
      ...extra,
    },
  }) as const;

const printable = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7e]+$' } as const;

const shipmentBody = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    action: { type: 'string', enum: [...shipmentActions] },
    carrier: printable,
    trackingReference: printable,
  },
} as const;

const identifier = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$' } as const;

function pageSize(context: ShopContext, limit: string | undefined): number {
  if (limit === undefined) return context.limits.pageSizeDefault;
  const size = Number(limit);
  if (size > context.limits.pageSizeMax) throw new MpayError('REQUEST_INVALID', 'limit');
  return size;
}

/**
 * The merchant's own endpoints: orders, shipment actions (operator: pack and
 * ship; courier: deliver) and the FSP's notifications, which name payers and
 * amounts. Every one requires the merchant's bearer token, checked before
 * the request is even validated (401 AUTHENTICATION_FAILED, the same for a
 * missing and a wrong token).
 */
const tags = ['merchant'];

export function registerMerchantRoutes(
  app: FastifyInstance,
  context: ShopContext,
  authenticate: (request: FastifyRequest) => Promise<void>,
): void {
  const preValidation = authenticate;

  app.get(
    '/merchant/orders',
    {
      preValidation,
      schema: {
        summary: 'Orders, newest first (merchant)',
        tags,
        querystring: pageQuery({ status: { type: 'string', enum: publicStatuses } }),
        response: { 200: orderListAnswer },
      },
    },
    async (request) => {
      const query = request.query as { limit?: string; before?: string; status?: OrderPublicStatus };
      const states: OrderState[] | undefined =
        query.status === undefined
          ? undefined
          : orderStates.filter((state) => orderStateMachine[state].publicStatus === query.status);
      const orders = await listOrders(context.database, {
        states,
        beforeSeq: query.before,
        limit: pageSize(context, query.limit),
      });
      return { orders: orders.map(orderSummaryView) };
    },
  );

  app.get(
    '/merchant/orders/:orderId',
    {
      preValidation,
      schema: {
        summary: 'An order with its parties, payment, refund and history (merchant)',
        tags,
        params: orderParams,
        response: { 200: merchantOrderAnswer },
      },
    },
    async (request) => {
      const order = await findOrder(context.database, (request.params as { orderId: string }).orderId);
      if (order === undefined) throw new MpayError('ORDER_UNKNOWN');
      return merchantOrderView(order, await listOrderEvents(context.database, order.id));
    },
  );

  app.post(
    '/merchant/orders/:orderId/shipment',
    {
      preValidation,
      schema: {
        summary: "Advances an order's shipment: pack, ship, deliver (merchant)",
        tags,
        params: orderParams,
        body: shipmentBody,
        response: { 200: merchantOrderAnswer },
      },
    },
    async (request) => {
      const { orderId } = request.params as { orderId: string };
      const body = request.body as { action: ShipmentAction; carrier?: string; trackingReference?: string };
      const order = await advanceShipment(context, orderId, body.action, {
        carrier: body.carrier,
        trackingReference: body.trackingReference,
      });
      return merchantOrderView(order, await listOrderEvents(context.database, order.id));
    },
  );

  app.get(
    '/merchant/notifications',
    {
      preValidation,
      schema: {
        summary: "The FSP's notifications, newest first (merchant)",
        tags,
        response: { 200: notificationsAnswer },
        querystring: pageQuery({
          event: { type: 'string', enum: ['payment.updated', 'trade.claimed', 'refund.updated'] },
          subject: identifier,
          status: { type: 'string', pattern: '^[a-z][a-z_]{0,31}$' },
        }),
      },
    },
    async (request) => {
      const query = request.query as {
        limit?: string;
        before?: string;
        event?: NotificationEvent;
        subject?: string;
        status?: string;
      };
      const notifications = await listNotifications(context.database, {
        event: query.event,
        subject: query.subject,
        status: query.status,
        beforeId: query.before,
        limit: pageSize(context, query.limit),
      });
      return { notifications };
    },
  );

  // One payment's notifications, oldest first (the path the shop has always had; now the merchant's only).
  app.get(
    '/notifications/:paymentId',
    {
      preValidation,
      schema: {
        summary: "One payment's notifications, oldest first (merchant)",
        tags,
        response: { 200: paymentNotificationsAnswer },
        params: {
          type: 'object',
          additionalProperties: false,
          required: ['paymentId'],
          properties: { paymentId: identifier },
        },
      },
    },
    async (request) => paymentNotifications(context, (request.params as { paymentId: string }).paymentId),
  );
}

/** A payment's notifications, oldest first. */
export async function paymentNotifications(
  context: ShopContext,
  paymentId: string,
): Promise<PaymentNotification[]> {
  const newestFirst = await listNotifications(context.database, {
    event: 'payment.updated',
    subject: paymentId,
    limit: context.limits.notificationsPerSubjectMax,
  });
  return newestFirst.reverse() as PaymentNotification[];
}
