import type { ServerTls } from '@mpay/http-server';
import { generateCosignerKey, generateNoteKey, parseVerifierKey } from '@mpay/merkle';
import { type Database, openDatabase } from '@mpay/storage';
import type { Submitter } from '../http/authenticate.ts';
import type { LogLimits } from '../limits.ts';
import { migrateLog, migrateWitness } from '../migrations.ts';
import { createLogService, type LogService } from '../service.ts';
import { createWitnessServer } from '../witness/service.ts';
import { Witness, type WitnessAlarm } from '../witness/witness.ts';
import { loadOrCreateKeyPair } from './key-files.ts';

export interface LogStackOptions {
  /** Keys (`keys/log.*`, `keys/log-witness.*`) and PGlite databases live here; undefined: all in memory. */
  readonly dataDir?: string | undefined;
  /** PostgreSQL instead of PGlite: the log and the witness each get their own schema. */
  readonly databaseUrl?: string | undefined;
  /** Prefix of the two schema names (`<prefix>log`, `<prefix>log_witness`). */
  readonly schemaPrefix?: string | undefined;
  /** Opens the database of `name` ('log' or 'log_witness') instead of openDatabase (tests). */
  readonly openDatabase?: ((name: string) => Promise<Database>) | undefined;
  /** Loopback ports; 0 or absent picks a free one. */
  readonly ports?: { readonly log?: number | undefined; readonly witness?: number | undefined } | undefined;
  readonly host?: string | undefined;
  readonly submitters: readonly Submitter[];
  /** The log's origin (its key name) when its key is created; default log.mpay.example/transactions. */
  readonly origin?: string | undefined;
  /** The witness's name when its key is created; default witness.log.mpay.example. */
  readonly witnessName?: string | undefined;
  readonly limits?: Partial<LogLimits> | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  readonly onAlarm?: ((alarm: WitnessAlarm) => void) | undefined;
  /** The bearer token the log's and the witness's GET /metrics ask for; none: nobody scrapes. */
  readonly metricsToken?: string | undefined;
  /** TLS for the two ports (@mpay/pki, from the deployment's folder); absent: plain HTTP. */
  readonly tls?: { readonly log: ServerTls; readonly witness: ServerTls } | undefined;
  /**
   * Runs the start of the log or of the witness inside that service's TLS
   * client scope (@mpay/pki's tlsClientScope), so that its outgoing calls
   * (the log's to the witness) present its own certificate; absent: as is.
   */
  readonly scope?: (<T>(service: 'log' | 'witness', work: () => T) => T) | undefined;
}

export interface LogStack {
  readonly logUrl: string;
  readonly witnessUrl: string;
  readonly origin: string;
  /** The log's note verifier key (type 0x01); its name is the origin. */
  readonly logVerifierKey: string;
  /** The witness's cosigner verifier key (type 0x04). */
  readonly witnessVerifierKey: string;
  readonly log: LogService;
  readonly witness: Witness;
  close(): Promise<void>;
}

export const defaultOrigin = 'log.mpay.example/transactions';
export const defaultWitnessName = 'witness.log.mpay.example';

/**
 * Starts the transaction log and one witness in this process, each with its
 * own database and HTTP port: keys are created on first start in the data
 * folder; the log asks the witness to cosign every checkpoint and serves it
 * cosigned. For `mpay up` and tests; `mpay log serve` / `mpay log witness`
 * run them as separate processes.
 */
export async function startLogStack(options: LogStackOptions): Promise<LogStack> {
  const host = options.host ?? '127.0.0.1';
  const logKey = await loadOrCreateKeyPair(options.dataDir, 'log', () =>
    generateNoteKey(options.origin ?? defaultOrigin),
  );
  const witnessKey = await loadOrCreateKeyPair(options.dataDir, 'log-witness', () =>
    generateCosignerKey(options.witnessName ?? defaultWitnessName),
  );
  const origin = (await parseVerifierKey(logKey.verifierKey)).name;
  const open =
    options.openDatabase ??
    ((name: string) =>
      openDatabase({
        url: options.databaseUrl,
        dataDir: options.dataDir,
        schema: `${options.schemaPrefix ?? ''}${name}`,
      }));
  const databases: Database[] = [];
  const closers: Array<() => Promise<void>> = [];
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    for (const close of [...closers].reverse()) await close();
    for (const database of databases) await database.close();
  };
  try {
    const witnessDatabase = await open('log_witness');
    databases.push(witnessDatabase);
    await migrateWitness(witnessDatabase);
    const witness = await Witness.create({
      database: witnessDatabase,
      signerKey: witnessKey.signerKey,
      logs: [{ origin, verifierKey: logKey.verifierKey }],
      onAlarm: options.onAlarm,
    });
    const scope = options.scope ?? ((_service, work) => work());
    const witnessServer = createWitnessServer(witness, {
      logger: options.logger ?? false,
      metricsToken: options.metricsToken,
      tls: options.tls?.witness,
    });
    const witnessUrl = await scope('witness', () =>
      witnessServer.listen({ port: options.ports?.witness ?? 0, host }),
    );
    closers.push(() => witnessServer.close());
    const logDatabase = await open('log');
    databases.push(logDatabase);
    await migrateLog(logDatabase);
    const log = await scope('log', () =>
      createLogService({
        database: logDatabase,
        signerKey: logKey.signerKey,
        submitters: options.submitters,
        witnesses: [{ url: witnessUrl, verifierKey: witnessKey.verifierKey }],
        limits: options.limits,
        logger: options.logger,
        metricsToken: options.metricsToken,
        tls: options.tls?.log,
      }),
    );
    closers.push(() => log.close());
    const logUrl = await scope('log', async () => {
      const url = await log.listen(options.ports?.log ?? 0, host);
      log.start();
      return url;
    });
    return {
      logUrl,
      witnessUrl,
      origin,
      logVerifierKey: logKey.verifierKey,
      witnessVerifierKey: witnessKey.verifierKey,
      log,
      witness,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
