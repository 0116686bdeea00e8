import { createHttpServer } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { MerchantClient } from '@mpay/sdk';
import type { FastifyInstance } from 'fastify';

export interface Notification {
  receivedAt: string;
  /** The compact JWS exactly as received. */
  jws: string;
  event: string;
  payment: Record<string, unknown>;
}

export interface MerchantShop {
  app: FastifyInstance;
  notifications(paymentId: string): Notification[];
  /** Resolves when a notification for the payment with that status arrives. */
  waitForNotification(paymentId: string, status: string, timeoutMs: number): Promise<Notification>;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const notificationsKeptMax = 10_000;
const notificationsPerPaymentMax = 8;

/**
 * The merchant's own backend: receives the FSP's signed webhooks, verifies
 * them with the merchant SDK before believing them (iMS: "if the merchant
 * receives a positive confirmation, the supplier is authorized to initiate
 * shipment"), and keeps them for the shop to show.
 */
export function createMerchantShop(merchant: MerchantClient): MerchantShop {
  const app = createHttpServer({ name: 'merchant-shop', bodyLimitBytes: 64 * 1024 });
  const received = new Map<string, Notification[]>();
  const waiters = new Set<() => void>();
  app.post('/webhooks/mpay', async (request) => {
    if (typeof request.body !== 'string') throw new MpayError('REQUEST_INVALID');
    const { event, payment } = await merchant.verifyNotification(request.body);
    const id = String(payment.id);
    if (received.size >= notificationsKeptMax && !received.has(id))
      received.delete(received.keys().next().value!);
    const known = received.get(id) ?? [];
    // A redelivery (or a replayed capture) of the same status changes nothing.
    if (
      known.some((n) => n.payment.status === payment.status) ||
      known.length >= notificationsPerPaymentMax
    ) {
      return { received: true };
    }
    received.set(id, [
      ...known,
      { receivedAt: new Date().toISOString(), jws: request.body.trim(), event, payment },
    ]);
    for (const wake of waiters) wake();
    return { received: true };
  });
  app.get('/notifications/:id', async (request) => received.get((request.params as { id: string }).id) ?? []);
  const notifications = (paymentId: string) => received.get(paymentId) ?? [];
  return {
    app,
    notifications,
    waitForNotification(paymentId, status, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = notifications(paymentId).find((n) => n.payment.status === status);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new MpayError('SERVICE_UNAVAILABLE', 'no notification in time'));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    listen: (port = 0, host = '127.0.0.1') => app.listen({ port, host }),
    close: () => app.close(),
  };
}
