import { createHttpServer } from '@mpay/http';
import { type NoteSigner, parseSignerKey } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { Submitter } from './http/authenticate.ts';
import type { LogRouteContext } from './http/context.ts';
import { registerEntryRoutes } from './http/entries.ts';
import { registerTreeRoutes } from './http/tree.ts';
import { type IntegrationResult, integrateBatch } from './integrate/integrate.ts';
import { createLogLimits, type LogLimits } from './limits.ts';

export interface LogServiceOptions {
  /** An open database with the log's migrations applied (`migrateLog`); the caller closes it. */
  readonly database: Database;
  /** The log's note signer key (`PRIVATE+KEY+<origin>+…`); its name is the checkpoint origin. */
  readonly signerKey: string | NoteSigner;
  readonly submitters: readonly Submitter[];
  readonly limits?: Partial<LogLimits> | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  readonly clock?: (() => Date) | undefined;
  readonly clockSkewSeconds?: number | undefined;
}

export interface LogService {
  readonly app: FastifyInstance;
  readonly origin: string;
  readonly limits: LogLimits;
  /** Integrates one batch of queued entries and signs a checkpoint (tests call it directly). */
  integrateNow(): Promise<IntegrationResult>;
  /** Starts the integration timer. */
  start(): void;
  /** True once an integration broke an invariant: the log stops signing. */
  readonly halted: boolean;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The transaction log server: submitters append message hashes, a timer
 * integrates them in batches, each batch ends in a signed checkpoint; the
 * checkpoint, entries and proofs are public. Signs the empty checkpoint first.
 */
export async function createLogService(options: LogServiceOptions): Promise<LogService> {
  const signer =
    typeof options.signerKey === 'string' ? await parseSignerKey(options.signerKey) : options.signerKey;
  const limits = createLogLimits(options.limits);
  const clock = options.clock ?? (() => new Date());
  const context: LogRouteContext = {
    database: options.database,
    origin: signer.name,
    submitters: options.submitters,
    limits,
    clockSkewSeconds: options.clockSkewSeconds ?? 30,
    clock,
  };
  const app = createHttpServer({
    name: 'log',
    logger: options.logger ?? false,
    bodyLimitBytes: limits.bodyLimitBytes,
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  registerEntryRoutes(app, context);
  registerTreeRoutes(app, context);
  const integrator = createIntegrator(app, () =>
    integrateBatch(
      options.database,
      { origin: signer.name, signer },
      { batchSizeMax: limits.batchSizeMax, now: clock },
    ),
  );
  await integrator.integrateNow();
  return {
    app,
    origin: signer.name,
    limits,
    integrateNow: integrator.integrateNow,
    get halted() {
      return integrator.halted;
    },
    start: () => integrator.start(limits.integrationIntervalMs),
    listen: (port, host = '127.0.0.1') => app.listen({ port, host }),
    close: async () => {
      integrator.stop();
      await app.close();
    },
  };
}

/** Runs integrations one at a time; an assertion failure halts it for good (never sign on corrupt state). */
function createIntegrator(app: FastifyInstance, integrate: () => Promise<IntegrationResult>) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<IntegrationResult> | undefined;
  let halted = false;
  const integrateNow = async (): Promise<IntegrationResult> => {
    if (halted) throw new Error('assertion failed: log halted after a broken invariant');
    while (running !== undefined) await running.catch(() => undefined);
    running = integrate();
    try {
      return await running;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('assertion failed')) {
        halted = true;
        app.log.fatal({ err: error }, 'log halted: invariant broken, no checkpoint signed');
      }
      throw error;
    } finally {
      running = undefined;
    }
  };
  return {
    integrateNow,
    get halted() {
      return halted;
    },
    start(intervalMs: number) {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        integrateNow().catch((error: unknown) => {
          app.log.error({ err: error }, 'integration failed');
          if (halted) this.stop();
        });
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
