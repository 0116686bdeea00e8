/**
 * One bank as its own process: `node --import tsx services/bank/src/main.ts CONFIG.json`.
 * The config names the bank, its port, its database (PostgreSQL URL + schema,
 * or a PGlite folder), its interbank key and peers, its own signing key
 * (default: the interbank key), its encryption key (for second factors;
 * none: no second factor), its security policy (default: the protocol's),
 * and the clients it trusts. MPAY_METRICS_TOKEN (32 characters or more) is
 * the bearer token GET /metrics accepts; unset, nobody scrapes.
 * SIGTERM/SIGINT stop it cleanly; after SIGKILL a restart resumes every
 * payment order still being delivered (the outbox is in the database).
 */
import { readFile } from 'node:fs/promises';
import type { PrivateJwk } from '@mpay/envelope';
import { metricsTokenFromEnvironment } from '@mpay/http-server';
import { parseSecurityPolicy } from '@mpay/protocol';
import { openDatabase } from '@mpay/storage';
import { type BankClient, bankRequestVerifier } from './http/signed-clients.ts';
import type { InterbankPeer } from './interbank/peers.ts';
import { migrateBank } from './migrations.ts';
import { createBankService } from './service.ts';

export interface BankProcessConfig {
  readonly name: string;
  readonly port: number;
  readonly databaseUrl?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly schema: string;
  readonly interbankKey: PrivateJwk;
  /** The bank's institutional signing key (key bindings, answers to payment orders); default: the interbank key. */
  readonly signingKey?: PrivateJwk | undefined;
  /** The bank's key-agreement key (second factors); absent: the bank refuses payments that need one. */
  readonly encryptionKey?: PrivateJwk | undefined;
  /** The security levels as JSON (minor units as strings), parsed by parseSecurityPolicy. */
  readonly securityPolicy?: unknown;
  /** Peers; `netDebitCap` as decimal text of minor units. */
  readonly peers: readonly (Omit<InterbankPeer, 'netDebitCap'> & { netDebitCap?: string })[];
  readonly clients: readonly BankClient[];
  readonly workerIntervalMs?: number | undefined;
}

async function main(path: string): Promise<void> {
  const config = JSON.parse(await readFile(path, 'utf8')) as BankProcessConfig;
  // Before anything opens: a bad MPAY_METRICS_TOKEN stops the start (docs/metrics.md).
  const metricsToken = metricsTokenFromEnvironment();
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    schema: config.schema,
  });
  await migrateBank(database);
  const service = createBankService({
    name: config.name,
    database,
    logger: { level: 'warn' },
    metricsToken,
    signingKey: config.signingKey ?? config.interbankKey,
    encryptionKey: config.encryptionKey,
    ...(config.securityPolicy === undefined
      ? {}
      : { securityPolicy: parseSecurityPolicy(config.securityPolicy) }),
    interbank: {
      signingKey: config.interbankKey,
      peers: config.peers.map(({ netDebitCap, ...peer }) => ({
        ...peer,
        ...(netDebitCap === undefined ? {} : { netDebitCap: BigInt(netDebitCap) }),
      })),
    },
    verifyRequest: bankRequestVerifier(config.name, config.clients),
  });
  const url = await service.listen(config.port);
  service.start(config.workerIntervalMs ?? 250);
  process.stdout.write(`bank ${config.name} listening on ${url}\n`);
  const stop = async () => {
    await service.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const [configPath] = process.argv.slice(2);
if (configPath === undefined) {
  process.stderr.write('usage: node --import tsx services/bank/src/main.ts CONFIG.json\n');
  process.exit(2);
}
main(configPath).catch((error: unknown) => {
  process.stderr.write(`bank: ${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});
