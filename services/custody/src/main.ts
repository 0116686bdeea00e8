/**
 * Custody (the trusted mobile certificate server of iMS §5) as its own
 * process: `node --import tsx services/custody/src/main.ts CONFIG.json`.
 * The config names custody, its port, its database (PostgreSQL URL + schema,
 * or a PGlite folder), its service keys, the FSP it works for, the banks it
 * enrols keys at, the log, and the HSM: either `hsm` (a PKCS#11 module, a
 * token label and the PIN, for a real HSM) or `softHsmDirectory` (the
 * embedded softhsm2 token, created on first start). A missing or locked HSM
 * stops the start with HSM_UNAVAILABLE / HSM_LOCKED: nothing is signed.
 * MPAY_METRICS_TOKEN (32 characters or more) is the bearer token GET /metrics
 * accepts; unset, nobody scrapes.
 */
import { readFile } from 'node:fs/promises';
import { ensureSoftHsmToken, type HsmOptions } from '@mpay/hsm';
import { metricsTokenFromEnvironment } from '@mpay/http-server';
import { isMpayError } from '@mpay/protocol';
import { openDatabase } from '@mpay/storage';
import type { BankLink, CustodyIdentity, FspLink, LogLink } from './context.ts';
import type { CustodyLimits } from './limits.ts';
import { createCustodyService } from './service.ts';

export interface CustodyProcessConfig {
  readonly port: number;
  readonly databaseUrl?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly schema: string;
  readonly custody: CustodyIdentity;
  readonly fsp: FspLink;
  readonly banks: readonly BankLink[];
  readonly transactionLog?: LogLink | undefined;
  readonly hsm?: HsmOptions | undefined;
  readonly softHsmDirectory?: string | undefined;
  readonly limits?: Partial<CustodyLimits> | undefined;
}

async function main(path: string): Promise<void> {
  const config = JSON.parse(await readFile(path, 'utf8')) as CustodyProcessConfig;
  // Before anything opens: a bad MPAY_METRICS_TOKEN stops the start (docs/metrics.md).
  const metricsToken = metricsTokenFromEnvironment();
  const hsm =
    config.hsm ??
    (config.softHsmDirectory === undefined
      ? undefined
      : await ensureSoftHsmToken({ directory: config.softHsmDirectory, tokenLabel: 'mpay-custody' }));
  if (hsm === undefined) throw new Error('the config names no HSM (hsm or softHsmDirectory)');
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    schema: config.schema,
  });
  const service = await createCustodyService({
    database,
    custody: config.custody,
    fsp: config.fsp,
    banks: config.banks,
    hsm,
    ...(config.transactionLog === undefined ? {} : { transactionLog: config.transactionLog }),
    ...(config.limits === undefined ? {} : { limits: config.limits }),
    logger: { level: 'warn' },
    ...(metricsToken === undefined ? {} : { metricsToken }),
  });
  const url = await service.listen(config.port);
  process.stdout.write(`custody ${config.custody.id} listening on ${url}\n`);
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
  process.stderr.write('usage: node --import tsx services/custody/src/main.ts CONFIG.json\n');
  process.exit(2);
}
main(configPath).catch((error: unknown) => {
  const detail = isMpayError(error)
    ? `${error.code}: ${error.message}${error.detail === undefined ? '' : ` (${error.detail})`}`
    : String(error instanceof Error ? error.stack : error);
  process.stderr.write(`custody: ${detail}\n`);
  process.exit(1);
});
