import { fileURLToPath } from 'node:url';
import {
  type BackgroundLoop,
  backgroundLoopLimitsOf,
  createBackgroundLoop,
  createHttpServer,
  documentSecurity,
  housekeepingSchedule,
  type SecurityRequirement,
  type ServerTls,
} from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { MerchantClient } from '@mpay/sdk';
import { type Database, migrate, readMigrations, startOutboxLeases } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { merchantAuthenticator } from './auth/tokens.ts';
import { forgetStaleCarts } from './cart/store.ts';
import { createCatalogue, demoCatalogue, type ProductInput } from './catalogue/catalogue.ts';
import type { Logger, ShopContext, ShopHooks } from './context.ts';
import { createShopLimits, type ShopLimits } from './limits.ts';
import { listNotifications, type PaymentNotification } from './notifications/store.ts';
import { findOrder, type Order } from './orders/store.ts';
import { runOutboxRound } from './outbox/round.ts';
import { registerCustomerRoutes } from './routes/customer.ts';
import { paymentNotifications, registerMerchantRoutes } from './routes/merchant.ts';
import { registerTillRoutes } from './routes/till.ts';
import { registerWebhookRoutes } from './routes/webhook.ts';
import { onSaleClaimed } from './till/claim.ts';
import { createTillConfig, type TillOptions } from './till/config.ts';

export const merchantShopMigrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

const cartBearer: readonly SecurityRequirement[] = [{ cartToken: [] }];
const merchantBearer: readonly SecurityRequirement[] = [{ merchantToken: [] }];
/**
 * What each route requires, for GET /openapi.json (keyed by `METHOD url`);
 * the others are public (the catalogue, a new cart) or signed in their body
 * (the FSP's webhook).
 */
const shopSecurity: Readonly<Record<string, readonly SecurityRequirement[]>> = {
  'GET /carts/:cartId': cartBearer,
  'PUT /carts/:cartId/lines/:productId': cartBearer,
  'DELETE /carts/:cartId/lines/:productId': cartBearer,
  'POST /carts/:cartId/checkout': cartBearer,
  'GET /orders/:orderId': cartBearer,
  'GET /merchant/orders': merchantBearer,
  'GET /merchant/orders/:orderId': merchantBearer,
  'POST /merchant/orders/:orderId/shipment': merchantBearer,
  'GET /merchant/notifications': merchantBearer,
  'GET /notifications/:paymentId': merchantBearer,
  'POST /till/sales': merchantBearer,
  'GET /till/sales': merchantBearer,
  'GET /till/sales/:saleId': merchantBearer,
  'POST /till/sales/:saleId/cancellation': merchantBearer,
  'GET /till/payments': merchantBearer,
  'POST /till/refunds': merchantBearer,
};

export interface MerchantShopOptions extends ShopHooks {
  /** The shop's own schema on the platform's database (migrated at start). */
  readonly database: Database;
  /** The merchant's SDK client: signs payment requests to the FSP, verifies the FSP's webhooks. */
  readonly merchant: MerchantClient;
  /** Bearer token of the merchant's endpoints (orders, shipment, notifications): 32..256 base64url characters. */
  readonly merchantToken: string;
  /** What the shop sells (validated at start); the demo catalogue when absent. */
  readonly catalogue?: readonly ProductInput[];
  readonly limits?: Partial<ShopLimits>;
  /** The till (m-trade): how its QR codes name the merchant, its currency and limits. */
  readonly till?: TillOptions;
  readonly logger?: boolean | { level: string };
  /** TLS for its port (@mpay/pki: institutionServerTls or publicServerTls); absent: plain HTTP. */
  readonly tls?: ServerTls | undefined;
  /** How often the background delivers the outbox and forgets stale carts. */
  readonly backgroundIntervalMs?: number;
  /**
   * The longest wait of the background loop while it finds nothing due (default shopIdleIntervalMaxMs,
   * at least backgroundIntervalMs); equal to backgroundIntervalMs, it polls as before (the idle benchmark's baseline).
   */
  readonly backgroundIdleIntervalMaxMs?: number;
  readonly clock?: () => Date;
  /**
   * This instance's name on its database (1-63 of a-z, 0-9 and -): a start takes back at once the
   * outbox rows its last start under that name held when it was killed (a payment request it was
   * sending, a notification it was handing to its hook). Instances sharing a database need a name
   * each. None: those rows wait out their lease (outboxLeaseMs).
   */
  readonly instanceName?: string;
}

export interface MerchantShop {
  readonly app: FastifyInstance;
  readonly context: ShopContext;
  /** A payment's verified notifications, oldest first (read from the database). */
  notifications(paymentId: string): Promise<PaymentNotification[]>;
  /** Resolves when a notification for the payment with that status is stored; SERVICE_UNAVAILABLE after `timeoutMs`. */
  waitForNotification(paymentId: string, status: string, timeoutMs: number): Promise<PaymentNotification>;
  /** An order as the shop stores it (for the merchant's own code and tests). */
  order(orderId: string): Promise<Order | undefined>;
  runBackgroundOnce(): Promise<void>;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** Callers waiting for a notification, woken when one is stored (and polling, for other shop processes). */
class NotificationWaiters {
  readonly #waiting = new Set<() => void>();

  wakeAll(): void {
    for (const wake of [...this.#waiting]) wake();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#waiting.add(wake);
    });
  }
}

/**
 * The merchant's shop backend (iMS §2.1, mobile e-commerce): a catalogue, the
 * customer's cart, checkout with the phone number or party id (the signed
 * payment request to the FSP), the FSP's signed webhooks verified and stored,
 * and the shipment that only a verified positive confirmation authorises.
 */
/** The longest an idle shop waits before it looks for due retries again. */
export const shopIdleIntervalMaxMs = 2_000;
/** How often the shop forgets carts never checked out, by its clock. */
export const shopHousekeepingIntervalMs = 60_000;

export async function createMerchantShop(options: MerchantShopOptions): Promise<MerchantShop> {
  const limits = createShopLimits(options.limits);
  const catalogue = createCatalogue(options.catalogue ?? demoCatalogue, limits);
  const authenticate = merchantAuthenticator(options.merchantToken);
  const till = createTillConfig(options.till ?? {}, catalogue.products[0]?.price.currency ?? 'EUR');
  await migrate(options.database, await readMigrations(merchantShopMigrationsFolder));
  const clock = options.clock ?? (() => new Date());
  const leases =
    options.instanceName === undefined
      ? undefined
      : await startOutboxLeases(options.database, options.instanceName, clock());
  const app = createHttpServer({
    name: 'merchant-shop',
    logger: options.logger ?? false,
    tls: options.tls,
    bodyLimitBytes: limits.bodyLimitBytes,
    inFlightRequestsMax: limits.inFlightRequestsMax,
    readiness: [{ name: 'database', check: () => options.database.query('SELECT 1') }],
  });
  const log: Logger = app.log;
  if (leases !== undefined && leases.released > 0)
    log.info({ released: leases.released }, 'outbox rows the last start was delivering are due again');
  const waiters = new NotificationWaiters();
  let running: Promise<unknown> = Promise.resolve();
  let pending = false;
  const context: ShopContext = {
    database: options.database,
    merchant: options.merchant,
    catalogue,
    limits,
    hooks: {
      // The till's own sales first (it ignores claims of codes it did not make), then the caller's hook.
      onTradeClaimed: async (claim, notification) => {
        await onSaleClaimed(context, till, claim, notification);
        await options.onTradeClaimed?.(claim, notification);
      },
      ...(options.onRefundUpdated === undefined ? {} : { onRefundUpdated: options.onRefundUpdated }),
    },
    log,
    clock,
    outboxLeaseOwner: leases?.bootId,
    kickOutbox: () => {
      if (pending) return;
      pending = true;
      running = running
        .then(() => {
          pending = false;
          return runOutboxRound(context);
        })
        .catch((error: unknown) => log.error({ err: error }, 'outbox round failed'));
    },
    notificationStored: () => waiters.wakeAll(),
  };
  const housekeeping = housekeepingSchedule(shopHousekeepingIntervalMs, context.clock);
  /** The outbox's due deliveries, and forgetting stale carts when due or `always`. Resolves whether it found work. */
  const runRound = (always: boolean) => {
    let foundWork = false;
    running = running
      .then(async () => {
        foundWork = (await runOutboxRound(context)) > 0;
        if (!always && !housekeeping.due()) return;
        const staleBefore = new Date(context.clock().getTime() - limits.cartLifetimeSeconds * 1000);
        await forgetStaleCarts(context.database, staleBefore);
        housekeeping.ran();
      })
      .catch((error: unknown) => log.error({ err: error }, 'background round failed'));
    return running.then(() => foundWork);
  };
  const runBackgroundOnce = () => runRound(true).then(() => undefined);
  documentSecurity(app, shopSecurity);
  registerCustomerRoutes(app, context);
  registerMerchantRoutes(app, context, authenticate);
  registerWebhookRoutes(app, context);
  registerTillRoutes(app, context, till, authenticate);
  let loop: BackgroundLoop | undefined;
  return {
    app,
    context,
    notifications: (paymentId) => paymentNotifications(context, paymentId),
    async waitForNotification(paymentId, status, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [found] = await listNotifications(context.database, {
          event: 'payment.updated',
          subject: paymentId,
          status,
          limit: 1,
        });
        if (found?.event === 'payment.updated') return found;
        const remainingMs = deadline - Date.now();
        if (remainingMs <= 0) throw new MpayError('SERVICE_UNAVAILABLE', 'no notification in time');
        await waiters.wait(Math.min(remainingMs, limits.notificationPollMs));
      }
    },
    order: (orderId) => findOrder(context.database, orderId),
    runBackgroundOnce,
    async listen(port = 0, host = '127.0.0.1') {
      const address = await app.listen({ port, host });
      // Payment requests are sent by the checkout itself, notifications kick the outbox; the loop is for retries.
      loop ??= createBackgroundLoop(
        () => runRound(false),
        backgroundLoopLimitsOf(options, shopIdleIntervalMaxMs),
        (error) => log.error({ err: error }, 'background round failed'),
      );
      loop.start();
      return address;
    },
    async close() {
      await loop?.stop();
      waiters.wakeAll();
      await app.close();
      await running;
    },
  };
}
