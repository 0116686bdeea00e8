import { randomUUID } from 'node:crypto';
import type { PrivateJwk } from '@mpay/envelope';
import {
  createHttpServer,
  documentSecurity,
  keepRawJsonBodies,
  type ServerTls,
  signedRequest,
} from '@mpay/http-server';
import {
  createBankingLimits,
  defaultSecurityPolicy,
  parsePartyId,
  parseSecurityPolicy,
  type SecurityPolicy,
} from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { bankEncryptionKey, createBankIdentity } from './bank-identity.ts';
import type { BankingContext, BankingOptions } from './banking/context.ts';
import { authenticate, type VerifyRequest } from './http/authenticate.ts';
import type { RouteContext } from './http/context.ts';
import { useRequestNonce } from './http/request-nonces.ts';
import { registerAccountRoutes } from './http/routes/accounts.ts';
import { registerAuditRoutes } from './http/routes/audit.ts';
import { registerBankingDeviceRoutes } from './http/routes/banking.ts';
import { registerBankingKeyManagementRoutes } from './http/routes/banking-key-management.ts';
import { registerBankingOperatorRoutes } from './http/routes/banking-operator.ts';
import { registerCorrectionRoutes } from './http/routes/corrections.ts';
import {
  type InterbankRouteContext,
  registerFundsTransferRoute,
  registerPaymentOrderRoutes,
} from './http/routes/interbank.ts';
import {
  registerKeyDepositoryOperatorRoutes,
  registerKeyDepositoryPublicRoutes,
} from './http/routes/key-depository.ts';
import { registerLimitRoutes } from './http/routes/limits.ts';
import {
  registerMacroDeviceRoutes,
  registerMacroPaymentRequestRoute,
} from './http/routes/macro-approvals.ts';
import { registerMacroClientRoutes } from './http/routes/macro-clients.ts';
import { registerMacroMerchantRoutes } from './http/routes/macro-merchant.ts';
import { registerOperationsRoutes } from './http/routes/operations.ts';
import { registerRefundOrderRoutes, registerRefundTransferRoute } from './http/routes/refunds.ts';
import { registerStatementRoutes } from './http/routes/statement.ts';
import { registerTransferRoutes } from './http/routes/transfers.ts';
import { strictValidatorCompiler } from './http/strict-validator.ts';
import type { DebitLimitCheck } from './interbank/order.ts';
import { createInterbank, type InterbankOptions } from './interbank/peers.ts';
import { type BankWorker, createBankWorker } from './interbank/worker.ts';
import type { DepositoryContext } from './key-depository/context.ts';
import { type BankLimits, createBankLimits } from './limits.ts';
import type { CallerKeys, MacroContext } from './macro/context.ts';
import { createBankMetrics, registerBankMetrics } from './metrics.ts';
import { type BankLedger, createBankLedger } from './store/bank-ledger.ts';
import { checkDebitLimits } from './store/debit-limits.ts';
import { observingTransfers } from './store/transfer-observer.ts';

export interface BankServiceOptions {
  /** The bank's party id (a bank label such as 'xbank'): names the service and owns its funding account. */
  readonly name: string;
  /** An open database with the bank's migrations applied (`migrateBank`); the caller closes it. */
  readonly database: Database;
  /**
   * The bank's institutional signing key (a private ES256 or Ed25519 JWK with
   * its kid): it issues key bindings and signs the bank's answers to payment
   * orders; its public half is published at GET /bank. It may be the
   * interbank key.
   */
  readonly signingKey: PrivateJwk;
  /**
   * The bank's key-agreement key (a private ECDH-ES P-256 JWK with use 'enc'
   * and its kid, as generateEncryptionKeyPair makes it): customers seal their
   * one-time codes to its public half (GET /bank `encryptionJwk`), and the
   * bank seals the TOTP secrets it stores to it, so it must stay the same
   * across restarts. Without it the bank has no second factor: it provisions
   * none at enrolment and refuses every payment whose level asks for one.
   */
  readonly encryptionKey?: PrivateJwk | undefined;
  /**
   * The security levels (default: the protocol's defaultSecurityPolicy),
   * validated at start: the least level each amount may be signed at, and
   * what each level requires here (second factor, explicit approval).
   */
  readonly securityPolicy?: SecurityPolicy | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  /** TLS for its port (@mpay/pki: institutionServerTls or publicServerTls); absent: plain HTTP. */
  readonly tls?: ServerTls | undefined;
  readonly verifyRequest: VerifyRequest;
  /** The service's clock (default: the system clock); tests move it to expire holds. */
  readonly clock?: (() => Date) | undefined;
  readonly limits?: Partial<BankLimits> | undefined;
  /** This bank's key and its peer banks: enables payment orders to other banks and settlement. */
  readonly interbank?: InterbankOptions | undefined;
  /** Per-transaction and daily debit limits of customer payments (default: the operator's, POST /accounts/:id/limits). */
  readonly checkDebitLimits?: DebitLimitCheck | undefined;
  /**
   * The public signing keys of the callers `verifyRequest` trusts, by caller
   * id, for the messages they sign besides their requests: the MPASP's
   * macro payment request (seed 002 step 6). Without it, step 6 is refused.
   */
  readonly callerKeys?: CallerKeys | undefined;
  /**
   * The mobile banking server of SA2pMP (seed 003): customers log in from
   * their phones and send signed, encrypted banking requests. Needs
   * `interbank` (transfers to other banks) and `encryptionKey` (session keys
   * are kept sealed to it); without it the bank has no banking routes.
   */
  readonly banking?: BankingOptions | undefined;
  /** The bearer token GET /metrics asks for (Prometheus's scrape credential); none: nobody scrapes. */
  readonly metricsToken?: string | undefined;
}

export interface BankService {
  readonly app: FastifyInstance;
  readonly ledger: BankLedger;
  readonly limits: BankLimits;
  /** Background work (payment-order delivery, hold expiry); `start` runs it on a timer. */
  readonly worker: BankWorker;
  /** The mobile banking server's context, when banking is configured (tests drive its parts directly). */
  readonly banking: BankingContext | undefined;
  /**
   * Starts the worker: rounds `intervalMs` apart while there is work (default 250 ms), up to
   * `idleIntervalMaxMs` apart while there is none (default workerIdleIntervalMaxMs).
   */
  start(intervalMs?: number, idleIntervalMaxMs?: number): void;
  /** Listens on `host:port` (port 0: any free port) and returns the base URL. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The bank's HTTP API over its double-entry ledger. Every route is
 * authenticated by `verifyRequest` except /health, the public side of the key
 * depository (GET /bank, POST /enrolments, GET /key-bindings/:serial) and the
 * funds transfers of peer banks (authenticated by their signed messages);
 * every operator POST takes an Idempotency-Key.
 */
export function createBankService(options: BankServiceOptions): BankService {
  const bank = parsePartyId(options.name, 'name');
  if (bank.kind !== 'bank') throw new Error(`assertion failed: ${options.name} is not a bank name`);
  const limits = createBankLimits(options.limits);
  const metrics = createBankMetrics(options.database, options.clock ?? (() => new Date()));
  // Every transaction of the bank through this handle: the transfers it writes are counted once committed.
  const database = observingTransfers(options.database, (kinds) => metrics.transfersCommitted(kinds));
  const ledger = createBankLedger(database, {
    bankName: bank.name,
    limits,
    observeBatch: metrics.observeBatch,
  });
  const context: RouteContext = {
    database,
    ledger,
    limits,
    clock: options.clock ?? (() => new Date()),
    newId: randomUUID,
    observations: metrics,
  };
  const app = createHttpServer({
    name: bank.name,
    logger: options.logger ?? false,
    tls: options.tls,
    bodyLimitBytes: limits.bodyLimitBytes,
    // The accounts table itself: a lock held on it (a migration, a stuck transaction) shows as not ready.
    readiness: [{ name: 'database', check: () => options.database.query('SELECT 1 FROM accounts LIMIT 1') }],
  });
  registerBankMetrics(app, metrics, options.metricsToken);
  app.setValidatorCompiler(strictValidatorCompiler);
  const encryption =
    options.encryptionKey === undefined ? undefined : bankEncryptionKey(options.encryptionKey);
  const depository: DepositoryContext = {
    ...context,
    bank: createBankIdentity(bank.name, options.signingKey, encryption),
    log: app.log,
  };
  const securityPolicy = parseSecurityPolicy(options.securityPolicy ?? defaultSecurityPolicy);
  if (encryption === undefined) {
    app.log.warn(
      { bank: bank.name },
      'no encryption key: no second factor, payments that need one are refused',
    );
  }
  const interbankContext: InterbankRouteContext | undefined =
    options.interbank === undefined
      ? undefined
      : {
          ...depository,
          securityPolicy,
          interbank: createInterbank(bank.name, options.interbank),
          checkDebitLimits: options.checkDebitLimits ?? checkDebitLimits,
          alarm: (event, message) => app.log.error(event, message),
        };
  const macroContext: MacroContext | undefined =
    interbankContext === undefined
      ? undefined
      : { ...interbankContext, callerKeys: options.callerKeys ?? (() => undefined) };
  if (options.banking !== undefined && (interbankContext === undefined || encryption === undefined)) {
    throw new Error('assertion failed: mobile banking needs interbank and an encryption key');
  }
  const bankingContext: BankingContext | undefined =
    options.banking === undefined || interbankContext === undefined
      ? undefined
      : {
          ...interbankContext,
          newId: context.newId,
          banking: {
            limits: createBankingLimits(options.banking.limits),
            opaqueServerSetup: options.banking.opaqueServerSetup,
            sms: options.banking.sms,
            transactionLog: options.banking.transactionLog,
          },
        };
  keepRawJsonBodies(app);
  // GET /openapi.json: the device routes that read a signed Authorization header (the others outside the
  // scope below are public or carry their signature in the body); every route in the scope is signed.
  documentSecurity(app, {
    'GET /macro/approval-requests': signedRequest,
    'GET /macro/confirmations/:sessionId': signedRequest,
    'GET /macro/merchant-confirmations': signedRequest,
  });
  app.register(async (scope) => {
    documentSecurity(scope, {}, signedRequest);
    scope.addHook('preValidation', authenticate(options.verifyRequest, useRequestNonce(database)));
    registerAccountRoutes(scope, context);
    registerTransferRoutes(scope, context);
    registerAuditRoutes(scope, context);
    registerStatementRoutes(scope, context);
    registerCorrectionRoutes(scope, context);
    registerLimitRoutes(scope, context);
    // The console's views: settlement runs booked here, and the backlog of each outbox.
    registerOperationsRoutes(scope, context);
    registerKeyDepositoryOperatorRoutes(scope, depository);
    // Seed 002 §3: the MPASP asks the client bank for its customer's client id.
    registerMacroClientRoutes(scope, depository);
    if (interbankContext !== undefined) registerPaymentOrderRoutes(scope, interbankContext);
    if (interbankContext !== undefined) registerRefundOrderRoutes(scope, interbankContext);
    // Seed 002 step 6: the MPASP's payment request to the client bank.
    if (macroContext !== undefined) registerMacroPaymentRequestRoute(scope, macroContext);
    // SA2pMP: the operator enables customers for mobile banking, registers billers, sends renewal notices.
    if (bankingContext !== undefined) registerBankingOperatorRoutes(scope, bankingContext);
    if (bankingContext !== undefined) registerBankingKeyManagementRoutes(scope, bankingContext);
  });
  registerKeyDepositoryPublicRoutes(app, depository);
  if (interbankContext !== undefined) registerFundsTransferRoute(app, interbankContext);
  if (interbankContext !== undefined) registerRefundTransferRoute(app, interbankContext);
  // Seed 002 steps 6, 7 and 11, the client's side: authenticated by the device's own signatures.
  if (macroContext !== undefined) registerMacroDeviceRoutes(app, macroContext);
  // Seed 002 step 9, the merchant's side: authenticated by a key bound to the merchant here.
  if (macroContext !== undefined) registerMacroMerchantRoutes(app, macroContext);
  // SA2pMP, the customer's side: authenticated by the device's bound key, the login's factors and its session.
  if (bankingContext !== undefined) registerBankingDeviceRoutes(app, bankingContext);
  const worker = createBankWorker(interbankContext, ledger, context.clock, bankingContext, database);
  // SA2pMP: a banking request records a transaction for the log (or a notice to text); the worker
  // takes it at once instead of at its next idle round.
  if (bankingContext !== undefined)
    app.addHook('onResponse', async (request) => {
      if (request.method === 'POST' && request.url.startsWith('/banking/')) worker.kick();
    });
  return {
    app,
    ledger,
    limits,
    worker,
    banking: bankingContext,
    start: (intervalMs = 250, idleIntervalMaxMs?: number) => worker.start(intervalMs, idleIntervalMaxMs),
    listen: (port, host = '127.0.0.1') => app.listen({ port, host }),
    close: async () => {
      await worker.stop();
      await app.close();
    },
  };
}
