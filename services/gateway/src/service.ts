import { fileURLToPath } from 'node:url';
import { createHttpServer, forgetIdempotencyKeys } from '@mpay/http';
import { type Database, migrate, readMigrations } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { FspIdentity, GatewayContext, GatewayLimits, Logger } from './context.ts';
import { DeviceHub } from './devices/hub.ts';
import { advanceLogEntries, type TransactionLogLink } from './log/outbox.ts';
import { forgetExpiredNonces } from './payments/nonces.ts';
import { settlePayment } from './payments/settle.ts';
import { expiredPaymentIds, transitionPayment, unsettledPaymentIds } from './payments/store.ts';
import { registerDeviceRoutes } from './routes/devices.ts';
import { registerEvidenceRoutes } from './routes/evidence.ts';
import { registerPaymentRoutes } from './routes/payments.ts';
import { registerRegistryRoutes } from './routes/registry.ts';
import { defaultWebhookLimits, deliverDueWebhooks } from './webhooks/outbox.ts';

export const gatewayMigrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

export const defaultGatewayLimits: GatewayLimits = {
  paymentExpirySeconds: 300,
  messageAgeSecondsMax: 600,
  clockSkewSeconds: 60,
  certificateValidityDays: 365,
  bodyLimitBytes: 64 * 1024,
  settlementRetryAfterSeconds: 5,
  webhooks: defaultWebhookLimits,
};

export interface GatewayServiceOptions {
  database: Database;
  fsp: FspIdentity;
  limits?: Partial<GatewayLimits>;
  /** Bearer token for /admin routes; admin routes refuse everything when unset. */
  operatorToken?: string;
  logger?: boolean | { level: string };
  /** How often background work (webhooks, expiry, settlement retries) runs. */
  backgroundIntervalMs?: number;
  /** The transaction log to log completed payments to. */
  transactionLog?: TransactionLogLink;
}

export interface GatewayService {
  app: FastifyInstance;
  context: GatewayContext;
  listen(port?: number, host?: string): Promise<string>;
  /** One round of background work; exposed so tests can drive it deterministically. */
  runBackgroundOnce(): Promise<void>;
  close(): Promise<void>;
}

async function backgroundRound(context: GatewayContext): Promise<void> {
  for (const id of await expiredPaymentIds(context.database, 100)) {
    await context.database
      .transaction(async (sql) => {
        const { rows } = await sql.query<{ state: string }>(
          'SELECT state FROM payments WHERE id = $1 FOR UPDATE',
          [id],
        );
        const from = rows[0]?.state as 'merchant_request_verified' | 'awaiting_customer_signature';
        await transitionPayment(sql, id, from, 'request_expired', {
          detail: 'no answer from the customer in time',
        });
      })
      .catch((error: unknown) => context.log.warn({ err: error, id }, 'expiry failed'));
  }
  for (const id of await unsettledPaymentIds(
    context.database,
    context.limits.settlementRetryAfterSeconds,
    20,
  )) {
    await settlePayment(context, id).catch((error: unknown) =>
      context.log.warn({ err: error, id }, 'settlement retry failed'),
    );
  }
  await deliverDueWebhooks(context.database, context.limits.webhooks);
  if (context.transactionLog !== undefined) {
    const submitter = { id: context.fsp.id, key: context.fsp.signing.privateJwk };
    await advanceLogEntries(context.database, context.transactionLog, submitter, new Date());
  }
  await forgetExpiredNonces(context.database, context.limits.messageAgeSecondsMax);
  await forgetIdempotencyKeys(context.database, { keptSeconds: 86_400, inProgressSeconds: 600 });
}

export async function createGatewayService(options: GatewayServiceOptions): Promise<GatewayService> {
  await migrate(options.database, await readMigrations(gatewayMigrationsFolder));
  const limits = { ...defaultGatewayLimits, ...options.limits };
  const app = createHttpServer({
    name: 'gateway',
    logger: options.logger ?? false,
    bodyLimitBytes: limits.bodyLimitBytes,
  });
  const log: Logger = app.log;
  const context: GatewayContext = {
    database: options.database,
    fsp: options.fsp,
    hub: new DeviceHub(),
    limits,
    log,
    transactionLog: options.transactionLog,
  };
  registerRegistryRoutes(app, context, options.operatorToken);
  registerPaymentRoutes(app, context);
  registerEvidenceRoutes(app, context, options.operatorToken);
  registerDeviceRoutes(app, context);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const runBackgroundOnce = () => {
    running = running
      .then(() => backgroundRound(context))
      .catch((error: unknown) => log.error({ err: error }, 'background round failed'));
    return running;
  };
  return {
    app,
    context,
    runBackgroundOnce,
    async listen(port = 0, host = '127.0.0.1') {
      const address = await app.listen({ port, host });
      timer = setInterval(() => void runBackgroundOnce(), options.backgroundIntervalMs ?? 500);
      timer.unref();
      return address;
    },
    async close() {
      clearInterval(timer);
      context.hub.close();
      await running;
      await app.close();
    },
  };
}
