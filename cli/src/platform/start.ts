import { createBankService, migrateBank } from '@mpay/bank';
import type { PrivateJwk } from '@mpay/envelope';
import { createGatewayService, type FspIdentity, type GatewayService } from '@mpay/gateway';
import { createMerchantShop, type MerchantShop } from '@mpay/merchant-shop';
import { MerchantClient } from '@mpay/sdk';
import { type Database, openDatabase } from '@mpay/storage';
import { bankRequestVerifier } from './bank-auth.ts';
import { generatePartyKeys, loadOrCreate, type PartyKeys } from './identities.ts';
import { type DemoCredentials, demoParties, seedDemo } from './seed.ts';

export interface PlatformOptions {
  /** Data folder for PGlite and keys; undefined keeps everything in memory (tests). */
  dataDir?: string | undefined;
  /** PostgreSQL URL; when set, every service uses its own schema there. */
  databaseUrl?: string | undefined;
  /** Prefix for schema names, so that several platforms can share one PostgreSQL database. */
  schemaPrefix?: string;
  ports?: { gateway?: number; bank?: number; merchantShop?: number };
  logger?: boolean | { level: string };
  backgroundIntervalMs?: number;
  pbkdf2Iterations?: number;
}

export interface Platform {
  urls: { gateway: string; bank: string; merchantShop: string };
  gateway: GatewayService;
  merchantShop: MerchantShop;
  credentials: DemoCredentials;
  fsp: FspIdentity;
  operatorToken: string;
  /** The bank operator's signing identity (opens accounts, reads balances). */
  bankOperator: { id: string; key: PrivateJwk };
  databases: Database[];
  close(): Promise<void>;
}

interface BankOperator {
  keys: PartyKeys;
}

async function open(options: PlatformOptions, schema: string): Promise<Database> {
  return openDatabase({
    url: options.databaseUrl,
    dataDir: options.dataDir,
    schema: `${options.schemaPrefix ?? ''}${schema}`,
  });
}

/**
 * Starts the gateway (FSP), the bank and the demo merchant's backend in this
 * process, each with its own database (schema) and its own HTTP port on
 * loopback, and creates the demo parties the first time.
 */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const fspKeys = await loadOrCreate(options.dataDir, 'keys/fsp.json', generatePartyKeys);
  const fsp: FspIdentity = { id: 'fsp.mpay', signing: fspKeys.signing, encryption: fspKeys.encryption };
  const operator = await loadOrCreate<BankOperator>(
    options.dataDir,
    'keys/xbank-operator.json',
    async () => ({ keys: await generatePartyKeys() }),
  );
  const operatorToken = await loadOrCreate(
    options.dataDir,
    'keys/operator-token.json',
    async () => crypto.randomUUID() + crypto.randomUUID(),
  );
  const [gatewayDatabase, bankDatabase] = await Promise.all([
    open(options, 'gateway'),
    open(options, 'xbank'),
  ]);
  await migrateBank(bankDatabase);
  const bank = createBankService({
    name: 'xbank',
    database: bankDatabase,
    logger: options.logger ?? false,
    verifyRequest: bankRequestVerifier('xbank', [
      { id: fsp.id, signingJwk: fsp.signing.publicJwk, allowed: ['POST /transfers', 'GET /transfers/'] },
      { id: 'operator.xbank', signingJwk: operator.keys.signing.publicJwk, allowed: ['POST /', 'GET /'] },
    ]),
  });
  const gateway = await createGatewayService({
    database: gatewayDatabase,
    fsp,
    operatorToken,
    logger: options.logger ?? false,
    backgroundIntervalMs: options.backgroundIntervalMs ?? 250,
  });
  const bankUrl = await bank.listen(options.ports?.bank ?? 0, '127.0.0.1');
  const gatewayUrl = await gateway.listen(options.ports?.gateway ?? 0, '127.0.0.1');
  const merchantKeys = await loadOrCreate(
    options.dataDir,
    `parties/${demoParties.merchant.id}.json`,
    generatePartyKeys,
  );
  const merchant = new MerchantClient({
    gatewayUrl,
    merchantId: demoParties.merchant.id,
    signingKey: merchantKeys.signing.privateJwk,
    fsp: { id: fsp.id, keys: { keys: [fsp.signing.publicJwk, fsp.encryption.publicJwk] } },
  });
  const merchantShop = createMerchantShop(merchant);
  const merchantShopUrl = await merchantShop.listen(options.ports?.merchantShop ?? 0, '127.0.0.1');
  const credentials = await seedDemo({
    dataDir: options.dataDir,
    gateway,
    bank: {
      id: 'xbank',
      url: bankUrl,
      operatorId: 'operator.xbank',
      operatorKey: operator.keys.signing.privateJwk,
    },
    merchantKeys,
    merchantShopUrl,
    pbkdf2Iterations: options.pbkdf2Iterations,
  });
  return {
    urls: { gateway: gatewayUrl, bank: bankUrl, merchantShop: merchantShopUrl },
    gateway,
    merchantShop,
    credentials,
    fsp,
    operatorToken,
    bankOperator: { id: 'operator.xbank', key: operator.keys.signing.privateJwk },
    databases: [gatewayDatabase, bankDatabase],
    async close() {
      await merchantShop.close();
      await gateway.close();
      await bank.close();
      await Promise.all([gatewayDatabase.close(), bankDatabase.close()]);
    },
  };
}
