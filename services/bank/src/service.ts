import { randomUUID } from 'node:crypto';
import { createHttpServer } from '@mpay/http';
import { parsePartyId } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import { authenticate, keepRawJsonBodies, type VerifyRequest } from './http/authenticate.ts';
import type { RouteContext } from './http/context.ts';
import { registerAccountRoutes } from './http/routes/accounts.ts';
import { registerAuditRoutes } from './http/routes/audit.ts';
import { registerTransferRoutes } from './http/routes/transfers.ts';
import { strictValidatorCompiler } from './http/strict-validator.ts';
import { type BankLimits, createBankLimits } from './limits.ts';
import { type BankLedger, createBankLedger } from './store/bank-ledger.ts';

export interface BankServiceOptions {
  /** The bank's party id (a bank label such as 'xbank'): names the service and owns its funding account. */
  readonly name: string;
  /** An open database with the bank's migrations applied (`migrateBank`); the caller closes it. */
  readonly database: Database;
  readonly logger?: boolean | { level: string } | undefined;
  readonly verifyRequest: VerifyRequest;
  /** The service's clock (default: the system clock); tests move it to expire holds. */
  readonly clock?: (() => Date) | undefined;
  readonly limits?: Partial<BankLimits> | undefined;
}

export interface BankService {
  readonly app: FastifyInstance;
  readonly ledger: BankLedger;
  readonly limits: BankLimits;
  /** Listens on `host:port` (port 0: any free port) and returns the base URL. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The bank's HTTP API over its double-entry ledger. Every route but /health
 * is authenticated by `verifyRequest`; every POST takes an Idempotency-Key.
 */
export function createBankService(options: BankServiceOptions): BankService {
  const bank = parsePartyId(options.name, 'name');
  if (bank.kind !== 'bank') throw new Error(`assertion failed: ${options.name} is not a bank name`);
  const limits = createBankLimits(options.limits);
  const ledger = createBankLedger(options.database, { bankName: bank.name, limits });
  const context: RouteContext = {
    database: options.database,
    ledger,
    limits,
    clock: options.clock ?? (() => new Date()),
    newId: randomUUID,
  };
  const app = createHttpServer({
    name: bank.name,
    logger: options.logger ?? false,
    bodyLimitBytes: limits.bodyLimitBytes,
  });
  app.setValidatorCompiler(strictValidatorCompiler);
  keepRawJsonBodies(app);
  app.register(async (scope) => {
    scope.addHook('preValidation', authenticate(options.verifyRequest));
    registerAccountRoutes(scope, context);
    registerTransferRoutes(scope, context);
    registerAuditRoutes(scope, context);
  });
  return {
    app,
    ledger,
    limits,
    listen: (port, host = '127.0.0.1') => app.listen({ port, host }),
    close: () => app.close(),
  };
}
