import { fileURLToPath } from 'node:url';
import { type HsmOptions, openHsm } from '@mpay/hsm';
import {
  type BackgroundLoop,
  backgroundLoopLimitsOf,
  createBackgroundLoop,
  createHttpServer,
  housekeepingSchedule,
  keepRawJsonBodies,
  type ServerTls,
} from '@mpay/http-server';
import { type Database, migrate, readMigrations, startOutboxLeases } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { BankLink, CustodyContext, CustodyIdentity, FspLink, Logger, LogLink } from './context.ts';
import { type CustodyLimits, createCustodyLimits } from './limits.ts';
import { createCustodyMetrics, registerCustodyMetrics, timeHsmSignatures } from './metrics.ts';
import { runOutboxRound } from './outbox/outbox.ts';
import { forgetExpiredLogins } from './pin/logins.ts';
import { PinServer } from './pin/opaque-server.ts';
import { registerCustodyRoutes } from './routes/routes.ts';

export const custodyMigrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

export interface CustodyServiceOptions {
  readonly database: Database;
  readonly custody: CustodyIdentity;
  readonly fsp: FspLink;
  readonly banks: readonly BankLink[];
  /** The HSM holding the customers' keys (PKCS#11): opened at start; missing or locked, custody does not start. */
  readonly hsm: HsmOptions;
  readonly transactionLog?: LogLink;
  readonly limits?: Partial<CustodyLimits>;
  readonly logger?: boolean | { level: string };
  /** TLS for its port (@mpay/pki: institutionServerTls or publicServerTls); absent: plain HTTP. */
  readonly tls?: ServerTls | undefined;
  /**
   * With `tls`, HTTP/2 beside HTTP/1.1 on its port (default true): a phone
   * whose key custody holds sends its PIN logins, confirmations and inbox
   * polls on one connection, each header once (HPACK).
   */
  readonly http2?: boolean;
  readonly backgroundIntervalMs?: number;
  /**
   * The longest wait of the background loop while it finds nothing due (default custodyIdleIntervalMaxMs,
   * at least backgroundIntervalMs); equal to backgroundIntervalMs, it polls as before (the idle benchmark's baseline).
   */
  readonly backgroundIdleIntervalMaxMs?: number;
  readonly clock?: () => Date;
  /** The bearer token GET /metrics asks for (Prometheus's scrape credential); none: nobody scrapes. */
  readonly metricsToken?: string;
  /**
   * This instance's name on its database (1-63 of a-z, 0-9 and -): a start takes back at once the
   * outbox rows its last start under that name was delivering when it was killed. Instances sharing
   * a database need a name each. None: the rows it claims wait out their lease (outboxLeaseMs).
   */
  readonly instanceName?: string;
}

export interface CustodyService {
  readonly app: FastifyInstance;
  readonly context: CustodyContext;
  listen(port?: number, host?: string): Promise<string>;
  runBackgroundOnce(): Promise<void>;
  close(): Promise<void>;
}

/** The longest an idle custody waits before it looks for due retries again. */
export const custodyIdleIntervalMaxMs = 2_000;
/** How often custody forgets expired PIN logins and nonces, by its clock. */
export const custodyHousekeepingIntervalMs = 30_000;

/** Long polls of phones, woken when their customer's inbox gets an event. */
class InboxWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();
  #closed = false;

  notify(partyId: string): void {
    const waiting = this.#waiting.get(partyId);
    if (waiting === undefined) return;
    this.#waiting.delete(partyId);
    for (const wake of waiting) wake();
  }

  /** Resolves when the inbox is notified or `ms` is over: true; false once the service is closing (answer now). */
  wait(partyId: string, ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiting = this.#waiting.get(partyId) ?? new Set<() => void>();
      const wake = () => {
        clearTimeout(timer);
        waiting.delete(wake);
        resolve(!this.#closed);
      };
      const timer = setTimeout(wake, ms);
      waiting.add(wake);
      this.#waiting.set(partyId, waiting);
    });
  }

  /** Wakes every waiting poll and answers every later one at once: the service is closing. */
  close(): void {
    this.#closed = true;
    for (const partyId of [...this.#waiting.keys()]) this.notify(partyId);
  }
}

/**
 * The trusted mobile certificate server of iMS §5 as a service: customers'
 * keys in the HSM, PINs checked and counted here (OPAQUE), messages between
 * the FSP and the customers' phones, delegate signatures, and the log.
 */
export async function createCustodyService(options: CustodyServiceOptions): Promise<CustodyService> {
  const limits = createCustodyLimits(options.limits);
  const hsm = await openHsm(options.hsm);
  const clock = options.clock ?? (() => new Date());
  let pins: PinServer;
  let leases: { readonly bootId: string; readonly released: number } | undefined;
  try {
    await migrate(options.database, await readMigrations(custodyMigrationsFolder));
    pins = await PinServer.load(options.database, hsm, clock());
    leases =
      options.instanceName === undefined
        ? undefined
        : await startOutboxLeases(options.database, options.instanceName, clock());
  } catch (error) {
    // The HSM's module is one per process: a start that fails must not leave its session open.
    hsm.close();
    throw error;
  }
  const app = createHttpServer({
    name: 'custody',
    logger: options.logger ?? false,
    tls: options.tls,
    http2: options.tls !== undefined && options.http2 !== false,
    bodyLimitBytes: limits.bodyLimitBytes,
    inFlightRequestsMax: limits.inFlightRequestsMax,
    readiness: [{ name: 'database', check: () => options.database.query('SELECT 1') }],
  });
  const metrics = createCustodyMetrics(options.database, clock);
  timeHsmSignatures(hsm, metrics);
  registerCustodyMetrics(app, metrics, options.metricsToken);
  const log: Logger = app.log;
  if (leases !== undefined && leases.released > 0)
    log.info({ released: leases.released }, 'outbox rows the last start was delivering are due again');
  const waiters = new InboxWaiters();
  let running: Promise<void> = Promise.resolve();
  let pending = false;
  const context: CustodyContext & { waitForInbox: (partyId: string, ms: number) => Promise<boolean> } = {
    database: options.database,
    custody: options.custody,
    fsp: options.fsp,
    banks: options.banks,
    transactionLog: options.transactionLog,
    hsm,
    pins,
    limits,
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
        .then(() => undefined)
        .catch((error: unknown) => log.error({ err: error }, 'outbox round failed'));
    },
    notifyInbox: (partyId) => waiters.notify(partyId),
    waitForInbox: (partyId, ms) => waiters.wait(partyId, ms),
    observations: metrics,
  };
  const housekeeping = housekeepingSchedule(custodyHousekeepingIntervalMs, context.clock);
  /** The outbox's due deliveries, and the housekeeping when due or `always`. Resolves whether it found work. */
  const runRound = (always: boolean) => {
    let foundWork = false;
    running = running
      .then(async () => {
        foundWork = (await runOutboxRound(context)) > 0;
        if (!always && !housekeeping.due()) return;
        await forgetExpiredLogins(context);
        await context.database.query('DELETE FROM used_nonces WHERE expires_at <= $1', [
          context.clock().toISOString(),
        ]);
        housekeeping.ran();
      })
      .catch((error: unknown) => log.error({ err: error }, 'background round failed'));
    return running.then(() => foundWork);
  };
  const runBackgroundOnce = () => runRound(true).then(() => undefined);
  keepRawJsonBodies(app);
  registerCustodyRoutes(app, context);
  let loop: BackgroundLoop | undefined;
  return {
    app,
    context,
    runBackgroundOnce,
    async listen(port = 0, host = '127.0.0.1') {
      const address = await app.listen({ port, host });
      // New effects are delivered at once (deliverNow, kickOutbox); the loop is for retries and housekeeping.
      loop ??= createBackgroundLoop(
        () => runRound(false),
        backgroundLoopLimitsOf(options, custodyIdleIntervalMaxMs),
        (error) => log.error({ err: error }, 'background round failed'),
      );
      loop.start();
      return address;
    },
    async close() {
      await loop?.stop();
      waiters.close();
      await running;
      await app.close();
      hsm.close();
    },
  };
}
