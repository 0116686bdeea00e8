import { createHttpServer, type ServerTls } from '@mpay/http-server';
import { type NoteSigner, parseSignerKey } from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import type { FastifyInstance } from 'fastify';
import type { Submitter } from './http/authenticate.ts';
import type { LogRouteContext } from './http/context.ts';
import { registerEntryRoutes } from './http/entries.ts';
import { GroupCommit } from './http/group-commit.ts';
import { registerTreeRoutes } from './http/tree.ts';
import { type LogWitness, WitnessCosigning } from './integrate/cosign.ts';
import { type IntegrationResult, integrateBatch } from './integrate/integrate.ts';
import { createIntegrator } from './integrate/integrator.ts';
import { createLogLimits, type LogLimits } from './limits.ts';
import { createLogMetrics, registerLogMetrics } from './metrics.ts';

export interface LogServiceOptions {
  /** An open database with the log's migrations applied (`migrateLog`); the caller closes it. */
  readonly database: Database;
  /** The log's note signer key (`PRIVATE+KEY+<origin>+…`); its name is the checkpoint origin. */
  readonly signerKey: string | NoteSigner;
  readonly submitters: readonly Submitter[];
  /** Witnesses asked to cosign every new checkpoint (c2sp.org/tlog-witness); none: checkpoints publish at once. */
  readonly witnesses?: readonly LogWitness[] | undefined;
  readonly limits?: Partial<LogLimits> | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  /** TLS for its port (@mpay/pki: institutionServerTls or publicServerTls); absent: plain HTTP. */
  readonly tls?: ServerTls | undefined;
  readonly clock?: (() => Date) | undefined;
  readonly clockSkewSeconds?: number | undefined;
  /** The bearer token GET /metrics asks for (Prometheus's scrape credential); none: nobody scrapes. */
  readonly metricsToken?: string | undefined;
}

export interface LogService {
  readonly app: FastifyInstance;
  readonly origin: string;
  readonly limits: LogLimits;
  /** Integrates one batch of queued entries, signs a checkpoint, has it cosigned and publishes it. */
  integrateNow(): Promise<IntegrationResult>;
  /** Starts the integration timer. */
  start(): void;
  /** True once an integration broke an invariant: the log stops signing. */
  readonly halted: boolean;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The transaction log server: submitters append message hashes (group
 * commit), a timer integrates them in batches, each batch ends in a signed
 * checkpoint that the witnesses are asked to cosign before it is published;
 * checkpoint, entries and proofs are public. Signs the empty checkpoint first.
 */
export async function createLogService(options: LogServiceOptions): Promise<LogService> {
  const signer =
    typeof options.signerKey === 'string' ? await parseSignerKey(options.signerKey) : options.signerKey;
  const limits = createLogLimits(options.limits);
  const clock = options.clock ?? (() => new Date());
  const { database } = options;
  const context: LogRouteContext = {
    database,
    origin: signer.name,
    submitters: options.submitters,
    limits,
    clockSkewSeconds: options.clockSkewSeconds ?? 30,
    clock,
    submissions: new GroupCommit(database, {
      batchSizeMax: limits.batchSizeMax,
      queueMax: limits.submissionQueueMax,
      pendingEntriesMax: limits.pendingEntriesMax,
      clock,
    }),
  };
  const app = createHttpServer({
    name: 'log',
    logger: options.logger ?? false,
    tls: options.tls,
    bodyLimitBytes: limits.bodyLimitBytes,
    readiness: [{ name: 'database', check: () => database.query('SELECT 1') }],
  });
  registerLogMetrics(
    app,
    await createLogMetrics(database, options.witnesses ?? [], clock),
    options.metricsToken,
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  registerEntryRoutes(app, context);
  registerTreeRoutes(app, context);
  const witnesses = options.witnesses ?? [];
  const cosigning =
    witnesses.length === 0
      ? undefined
      : await WitnessCosigning.create(database, witnesses, limits.witnessTimeoutMs);
  const integrator = createIntegrator(
    app,
    async () => {
      const result = await integrateBatch(
        database,
        { origin: signer.name, signer },
        {
          batchSizeMax: limits.batchSizeMax,
          now: clock,
          publish: cosigning === undefined,
        },
      );
      const round = await cosigning?.cosignLatest(signer.name, clock);
      if (round !== undefined && round.failed.length > 0) app.log.warn({ round }, 'witnesses did not cosign');
      return result;
    },
    limits.batchSizeMax,
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
      await integrator.idle();
      await app.close();
    },
  };
}
