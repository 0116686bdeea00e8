import { fileURLToPath } from 'node:url';
import {
  type BackgroundLoop,
  backgroundLoopLimitsOf,
  createBackgroundLoop,
  createHttpServer,
  createMetricsRegistry,
  documentSecurity,
  housekeepingSchedule,
  keepRawJsonBodies,
  type ServerTls,
} from '@mpay/http-server';
import type { Mailer } from '@mpay/mail';
import { defaultSecurityPolicy, expiringPaymentStates, type SecurityPolicy } from '@mpay/protocol';
import { type Database, migrate, readMigrations, startOutboxLeases } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { CustodianLink, FspIdentity, GatewayContext, Logger } from './context.ts';
import { DeviceHub } from './devices/hub.ts';
import { type DeviceRelay, startDeviceRelay } from './devices/relay.ts';
import {
  createGatewayLimits,
  type GatewayLimits,
  type GatewayLimitsReload,
  reloadedGatewayLimits,
} from './limits.ts';
import { rememberLastReceipt, type TransactionLogLink } from './log/outbox.ts';
import { releaseMacroLeases } from './macro/client-bank-store.ts';
import type { MacroContext } from './macro/context.ts';
import { createMacroServiceLimits, type MacroServiceLimits } from './macro/limits.ts';
import { MpinServer } from './macro/mpin.ts';
import { registerMacroRoutes, runMacroDueWork } from './macro/routes.ts';
import { forgetStaleMacroState } from './macro/store.ts';
import { outboxKinds } from './outbox/backlog.ts';
import { deliverLeasedRows, deliverLogRows, type LeasedRow, runOutboxRound } from './outbox/deliver.ts';
import { LogLine } from './outbox/log-line.ts';

import { forgetIdempotencyKeys } from './payments/idempotency.ts';
import { forgetExpiredNonces } from './payments/nonces.ts';
import { cancelReceiptPushes, ReceiptPushCancellations } from './payments/receipt-cancellations.ts';
import { RecentPayments } from './payments/recent.ts';
import { createPaymentStatistics } from './payments/statistics.ts';
import { expiredPaymentIds, forgetRateBuckets } from './payments/store.ts';
import { applyEvent } from './payments/transition.ts';
import { forgetEndedDeviceKeys } from './registry/bindings.ts';
import { certifyMerchantNames } from './registry/certificates.ts';
import { listenForRegistryChanges, RegistryKeyCache } from './registry/key-cache.ts';
import { registerAdminOutboxRoutes } from './routes/admin-outboxes.ts';
import { registerAdminPaymentRoutes } from './routes/admin-payments.ts';
import { registerDeviceRoutes } from './routes/devices.ts';
import { registerEvidenceRoutes } from './routes/evidence.ts';
import { registerTradeRoutes } from './routes/m-trade.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import { registerPaymentRoutes } from './routes/payments.ts';
import { registerRefundRoutes } from './routes/refunds.ts';
import { registerRegistryRoutes } from './routes/registry.ts';
import { gatewaySecurity } from './routes/security.ts';

export const gatewayMigrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

export interface GatewayServiceOptions {
  readonly database: Database;
  readonly fsp: FspIdentity;
  /**
   * This instance's name on its database, the same at every start (`mpay up` names its gateway
   * `gateway`, further instances `gateway-2`, …): a start hands back at once the outbox rows its last
   * start was delivering when it ended (a crash), instead of after their lease. Instances on one
   * database need a name each (@mpay/storage's outbox-leases.ts). None: the rows it claims wait out their lease.
   */
  readonly instanceName?: string;
  readonly limits?: Partial<GatewayLimits>;
  /** The security-level policy (default: defaultSecurityPolicy); configuration as JSON is read with parseSecurityPolicy. */
  readonly securityPolicy?: SecurityPolicy;
  /** Bearer token for /admin routes; admin routes refuse everything when unset. */
  readonly operatorToken?: string;
  readonly logger?: boolean | { level: string };
  /** TLS for its port (@mpay/pki: institutionServerTls or publicServerTls); absent: plain HTTP. */
  readonly tls?: ServerTls | undefined;
  /**
   * With `tls`, HTTP/2 beside HTTP/1.1 on its port (default true): a device's
   * event stream and its requests share one connection, and headers are sent
   * once per connection (HPACK) instead of with every request and answer.
   */
  readonly http2?: boolean;
  /** How often background work (outbox, expiry, clean-up) runs. */
  readonly backgroundIntervalMs?: number;
  /**
   * The longest wait of the background loop while it finds nothing due (default gatewayIdleIntervalMaxMs,
   * at least backgroundIntervalMs); equal to backgroundIntervalMs, it polls as before (the idle benchmark's baseline).
   */
  readonly backgroundIdleIntervalMaxMs?: number;
  /** The transaction log every payment outcome is logged to. */
  readonly transactionLog?: TransactionLogLink;
  /** The service's clock (default: the system clock); tests move it to expire requests. */
  readonly clock?: () => Date;
  /** Custody servers (iMS §5) the FSP redirects custody customers' messages to. */
  readonly custodians?: readonly CustodianLink[];
  /** Sends the out-of-band mail (macro §3: the client id and the mPIN); without it such mails wait in the outbox. */
  readonly mailer?: Mailer;
  /**
   * The MPASP's OPAQUE server setup for mPIN logins (macro, seed 002):
   * created once (`createMacroOpaqueServerSetup`) and kept secret with the
   * FSP's keys; a new one voids every mPIN. Without it the macro routes are
   * not served.
   */
  readonly opaqueServerSetup?: string;
  /** The macro registration's and mPIN logins' limits; validated at start. */
  readonly macroLimits?: Partial<MacroServiceLimits>;
  /**
   * Device pushes across gateway instances on one database (devices/relay.ts;
   * docs/scaling.md). Default: on with PostgreSQL, where other instances may
   * share the schema; off with PGlite, one process's database.
   */
  readonly deviceRelay?: boolean;
}

export interface GatewayService {
  readonly app: FastifyInstance;
  readonly context: GatewayContext;
  /** Device pushes to and from the other gateway instances on the same database (devices/relay.ts); undefined when off. */
  readonly relay: DeviceRelay | undefined;
  listen(port?: number, host?: string): Promise<string>;
  /** One round of background work; exposed so tests can drive it deterministically. */
  runBackgroundOnce(): Promise<void>;
  /**
   * The limits again from `changes` (those it names; the defaults for the others), validated as at a
   * start: a wrong one throws and nothing changes. Each request, round and delivery reads them from
   * then on; the start-only ones (`gatewayStartOnlyLimits`) stay and are named for the next start.
   */
  reloadLimits(changes?: Partial<GatewayLimits>): GatewayLimitsReload;
  close(): Promise<void>;
}

/** Closes every unanswered request whose expiry passed: one transaction each, through the step table. Returns how many. */
async function expireDueRequests(context: GatewayContext): Promise<number> {
  const ids = await expiredPaymentIds(
    context.database,
    expiringPaymentStates,
    context.clock(),
    context.limits.expiryBatchSizeMax,
  );
  for (const id of ids) {
    await applyEvent(context, id, {
      event: 'expiry_due',
      changes: { detail: 'no answer from the customer in time' },
    }).catch((error: unknown) => context.log.warn({ err: error, paymentId: id }, 'expiry failed'));
  }
  return ids.length;
}

/** Outbox batches one background round delivers at most (each claims up to outboxBatchSizeMax rows). */
const outboxRoundsPerBackgroundRoundMax = 8;
/** The longest an idle gateway waits before it looks for due work again (retries, expiries). */
export const gatewayIdleIntervalMaxMs = 2_000;
/** Rows of device_certificates, and of device_streams, of ended bindings forgotten per housekeeping round. */
const endedDeviceRowsForgottenPerRoundMax = 10_000;
/** Rate buckets forgotten per statement, and statements per housekeeping round at most. */
const rateBucketsForgottenPerStatementMax = 10_000;
const rateBucketStatementsPerRoundMax = 10;

/**
 * Forgets the rate buckets that left the window a whole window ago (the margin: an instance whose
 * clock is behind, or a window raised since, still finds its own), in bounded statements until
 * none is left or the round's bound is reached (the next round goes on).
 */
async function forgetOldRateBuckets(context: GatewayContext, now: Date): Promise<void> {
  const windowSeconds = context.limits.rateWindowSeconds;
  const before = new Date(now.getTime() - windowSeconds * 1000);
  for (let statement = 0; statement < rateBucketStatementsPerRoundMax; statement += 1) {
    const forgotten = await forgetRateBuckets(
      context.database,
      before,
      windowSeconds,
      rateBucketsForgottenPerStatementMax,
    );
    if (forgotten < rateBucketsForgottenPerStatementMax) return;
  }
}
/** How often the gateway forgets expired nonces, idempotency keys, rate buckets, what ended device keys held and said, and stale macro state, by its clock. */
export const gatewayHousekeepingIntervalMs = 30_000;

/** One background round: what is due, and the housekeeping when asked. Returns whether it found work. */
async function backgroundRound(
  context: GatewayContext,
  macro: MacroContext | undefined,
  housekeeping: boolean,
): Promise<boolean> {
  let done = await expireDueRequests(context);
  // Deliver until nothing due is left, bounded so that expiry and clean-up still get their turn.
  for (let round = 0; round < outboxRoundsPerBackgroundRoundMax; round += 1) {
    // The log's entries are left to the log line: a log that hangs holds back no other effect.
    const delivered = await runOutboxRound(context, { awaitLogLine: false });
    done += delivered;
    if (delivered < context.limits.outboxBatchSizeMax) break;
  }
  if (macro !== undefined) await runMacroDueWork(macro);
  if (housekeeping) {
    const now = context.clock();
    await forgetExpiredNonces(context.database, now, context.limits.messageAgeSecondsMax);
    await forgetIdempotencyKeys(context.database, now, context.limits.idempotencyKeptSeconds);
    await forgetOldRateBuckets(context, now);
    await forgetEndedDeviceKeys(context.database, now, endedDeviceRowsForgottenPerRoundMax);
    if (macro !== undefined) await forgetStaleMacroState(context.database, now, macro.limits);
  }
  return done > 0;
}

export async function createGatewayService(options: GatewayServiceOptions): Promise<GatewayService> {
  // Replaced whole by reloadLimits; read through context.limits at each use.
  let limits = createGatewayLimits(options.limits);
  await migrate(options.database, await readMigrations(gatewayMigrationsFolder));
  const clock = options.clock ?? (() => new Date());
  const leases =
    options.instanceName === undefined
      ? undefined
      : await startOutboxLeases(options.database, options.instanceName, clock(), {
          alsoRelease: releaseMacroLeases,
        });
  const app = createHttpServer({
    name: 'gateway',
    logger: options.logger ?? false,
    tls: options.tls,
    http2: options.tls !== undefined && options.http2 !== false,
    bodyLimitBytes: limits.bodyLimitBytes,
    inFlightRequestsMax: limits.inFlightRequestsMax,
    readiness: [{ name: 'database', check: () => context.database.query('SELECT 1') }],
  });
  const log: Logger = app.log;
  if (leases !== undefined && leases.released > 0)
    log.info({ released: leases.released }, 'outbox rows the last start was delivering are due again');
  let running: Promise<void> = Promise.resolve();
  let pending = false;
  // Rows leased at their commit, waiting for their turn after the round or delivery under way.
  let leasedQueue: LeasedRow[] = [];
  // Closing: no step leases its effects any more (they are due at once, for the next start or another instance).
  let closing = false;
  const housekeeping = housekeepingSchedule(gatewayHousekeepingIntervalMs, clock);
  /** One round after the others (a kicked outbox round, a test's), with the housekeeping when due or `always`. */
  const runRound = (always: boolean) => {
    let foundWork = false;
    running = running
      .then(async () => {
        const due = always || housekeeping.due();
        foundWork = await backgroundRound(context, macro, due);
        if (due) housekeeping.ran();
      })
      .catch((error: unknown) => log.error({ err: error }, 'background round failed'));
    return running.then(() => foundWork);
  };
  // Once the round is done, its log entries too: a caller (a test) sees every effect attempted.
  const runBackgroundOnce = () => runRound(true).then(() => logLine.drained());
  const logLine = new LogLine({
    deliver: deliverLogRows,
    onError: (error) => log.error({ err: error }, 'outbox log line failed'),
    waitingMax: () => context.limits.outboxBatchSizeMax,
    gatherMs: () => context.limits.logLineGatherMs,
  });
  // Observed as steps and deliveries commit (payments/statistics.ts); GET /metrics adds what it reads at a scrape.
  const metrics = createMetricsRegistry();
  const statistics = createPaymentStatistics(metrics, outboxKinds);
  const context: GatewayContext = {
    database: options.database,
    fsp: options.fsp,
    hub: new DeviceHub(),
    custodians: options.custodians ?? [],
    get limits() {
      return limits;
    },
    securityPolicy: options.securityPolicy ?? defaultSecurityPolicy,
    log,
    clock,
    outboxLeaseOwner: leases?.bootId,
    transactionLog: options.transactionLog,
    logLine,
    // Coalesced: many commits in a burst ask for one outbox round after the current one.
    kickOutbox: () => {
      if (pending) return;
      pending = true;
      running = running
        .then(() => {
          pending = false;
          return runOutboxRound(context, { awaitLogLine: false });
        })
        .then(() => undefined)
        .catch((error: unknown) => log.error({ err: error }, 'outbox round failed'));
    },
    // In the same line as the rounds: one delivery at a time, as a round delivers its rows.
    leasedDelivery: {
      // Nor while the log line is full: a log entry leased now would wait out its lease there.
      accepts: () => !closing && leasedQueue.length < context.limits.outboxBatchSizeMax && !logLine.full,
      deliver: (lease) => {
        if (lease.rows.length === 0) return;
        const queued = leasedQueue.length > 0;
        for (const row of lease.rows)
          leasedQueue.push({ row, until: lease.until, written: lease.payments.get(row.payment_id) });
        if (queued) return;
        running = running
          .then(() => {
            const rows = leasedQueue;
            leasedQueue = [];
            return deliverLeasedRows(context, rows);
          })
          .catch((error: unknown) => log.error({ err: error }, 'outbox delivery failed'));
      },
    },
    mailer: options.mailer,
    keyCache:
      limits.keyCacheTtlMs === 0
        ? undefined
        : new RegistryKeyCache({ ttlMs: limits.keyCacheTtlMs, entriesMax: limits.keyCacheEntriesMax }),
    recentPayments: limits.recentPaymentsMax === 0 ? undefined : new RecentPayments(limits.recentPaymentsMax),
    statistics,
    receiptCancellations: new ReceiptPushCancellations({
      write: (paymentIds) => cancelReceiptPushes(options.database, paymentIds, clock(), statistics),
      onFailed: (error, cancellations) =>
        log.warn(
          { err: error, cancellations },
          'receipt pushes not cancelled: they go out after their grace',
        ),
      batchMax: limits.outboxBatchSizeMax,
    }),
  };
  if (options.transactionLog !== undefined)
    await rememberLastReceipt(options.database, options.transactionLog, log);
  // Any change of the registry, by any instance or writer, empties the key cache (a lost listener too).
  const stopRegistryListener =
    context.keyCache === undefined
      ? undefined
      : await listenForRegistryChanges(context.database, context.keyCache);
  // Merchants certified before certificates carried the display name get one that does, so wallets
  // show the FSP's certified name (never the unsigned push field they once read).
  const certified = await certifyMerchantNames(context.database, context.fsp, context.clock());
  if (certified.reissued + certified.refused > 0)
    log.info(certified, 'merchant certificates re-issued with their certified names');
  const macro: MacroContext | undefined =
    options.opaqueServerSetup === undefined
      ? undefined
      : {
          gateway: context,
          limits: createMacroServiceLimits(options.macroLimits),
          mpins: await MpinServer.create(options.opaqueServerSetup, options.fsp.id),
        };
  // Several instances on one database: a push delivered by another instance reaches the streams held here.
  const relay =
    (options.deviceRelay ?? options.database.backend === 'postgres')
      ? await startDeviceRelay(context)
      : undefined;
  keepRawJsonBodies(app);
  documentSecurity(app, gatewaySecurity);
  registerRegistryRoutes(app, context, options.operatorToken);
  registerPaymentRoutes(app, context);
  registerTradeRoutes(app, context);
  registerRefundRoutes(app, context);
  registerEvidenceRoutes(app, context, options.operatorToken);
  registerDeviceRoutes(app, context);
  registerAdminPaymentRoutes(app, context, options.operatorToken);
  registerAdminOutboxRoutes(app, context, options.operatorToken);
  registerMetricsRoutes(app, context, metrics, options.operatorToken);
  if (macro !== undefined) registerMacroRoutes(app, macro);
  let loop: BackgroundLoop | undefined;
  return {
    app,
    context,
    relay,
    runBackgroundOnce,
    reloadLimits(changes) {
      const reloaded = reloadedGatewayLimits(limits, changes);
      limits = reloaded.limits;
      if (reloaded.reload.changed.length > 0 || reloaded.reload.atNextStart.length > 0)
        log.info({ ...reloaded.reload }, 'gateway limits reloaded');
      return reloaded.reload;
    },
    async listen(port = 0, host = '127.0.0.1') {
      const address = await app.listen({ port, host });
      // Outbox rows are kicked on commit (kickOutbox); the loop is for retries, expiries and housekeeping.
      loop ??= createBackgroundLoop(
        () => runRound(false),
        backgroundLoopLimitsOf(options, gatewayIdleIntervalMaxMs),
        (error) => log.error({ err: error }, 'background round failed'),
      );
      loop.start();
      return address;
    },
    async close() {
      closing = true;
      await loop?.stop();
      await relay?.stop();
      await stopRegistryListener?.();
      context.hub.close();
      await app.close();
      // The line as it stands, and whatever a request that finished meanwhile added to it.
      for (let last: Promise<void> | undefined; last !== running; ) {
        last = running;
        await last;
      }
      await logLine.drained();
      await context.receiptCancellations?.drained();
    },
  };
}
