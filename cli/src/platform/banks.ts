import {
  type BankService,
  type BankTransactionLogLink,
  bankRequestVerifier,
  createBankService,
  migrateBank,
  type SmsSender,
} from '@mpay/bank';
import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type PrivateJwk,
  type PublicJwk,
} from '@mpay/envelope';
import type { SecurityPolicy } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import * as opaque from '@serenity-kit/opaque';
import { generatePartyKeys, loadOrCreate, type PartyKeys } from './identities.ts';
import type { PlatformTls } from './tls.ts';

/** The banks `mpay up` runs: xbank holds the demo customers, ybank the demo merchants. */
export const bankIds = ['xbank', 'ybank'] as const;
export type BankId = (typeof bankIds)[number];

/** Most a peer bank may owe another before settlement (EUR 100,000.00 in minor units). */
const demoNetDebitCap = 10_000_000n;

/** What a client needs to call one bank as its operator. */
export interface BankAccess {
  readonly id: string;
  readonly url: string;
  readonly operatorId: string;
  readonly operatorKey: PrivateJwk;
}

export interface RunningBank extends BankAccess {
  readonly service: BankService;
  readonly database: Database;
  /** The bank's institutional signing key (bindings, answers, and its requests to custody). */
  readonly signingKey: PrivateJwk;
  readonly signingJwk: PublicJwk;
}

interface BankSecrets {
  readonly operator: PartyKeys;
  /** Signs funds-transfer messages and answers to peer banks. */
  readonly interbank: GeneratedKeyPair;
  /** ECDH-ES: customers seal one-time codes to it, and the bank seals the TOTP secrets it stores and its banking session keys. */
  readonly encryption: GeneratedKeyPair;
  /** The OPAQUE server setup of mobile banking passwords (a new one voids every registered password). */
  readonly opaqueServerSetup: string;
}

export interface StartBanksInput {
  readonly dataDir: string | undefined;
  /** loadBankSecrets(dataDir): loaded before the banks start, since the log must know their keys first. */
  readonly secrets: BankSecretsById;
  readonly fspId: string;
  readonly fspSigningJwk: PublicJwk;
  readonly open: (schema: string) => Promise<Database>;
  readonly ports: Partial<Record<BankId, number>>;
  readonly logger: boolean | { level: string };
  readonly workerIntervalMs: number;
  /** The workers' longest idle wait (the bank's default when absent). */
  readonly workerIdleIntervalMaxMs?: number | undefined;
  /** The bearer token of the banks' GET /metrics (the platform's operator token); none: nobody scrapes. */
  readonly metricsToken?: string | undefined;
  /** The banks' ledger clock (tests move it past a binding's validity); default the system clock. */
  readonly clock?: (() => Date) | undefined;
  /** The security levels the banks check (the floor of an amount, what each level requires); default the protocol's. */
  readonly securityPolicy?: SecurityPolicy | undefined;
  /** Mobile banking (SA2pMP): the SMS transport of login codes and renewal notices, and the third-party log. */
  readonly banking: { readonly sms: SmsSender; readonly transactionLog: BankTransactionLogLink };
  /** The banks to start here (default every bank); the others are peers at `peerUrls` (their own processes). */
  readonly only?: readonly BankId[] | undefined;
  /** Where the peers not started here listen. */
  readonly peerUrls?: Partial<Record<BankId, string>> | undefined;
  /** TLS (./tls.ts): each bank's port and its outgoing calls with its own certificate; absent: plain HTTP. */
  readonly tls?: Pick<PlatformTls, 'server' | 'scope'> | undefined;
  /** Without TLS: the scope each bank runs in (its calls through the plain client, ./plain-client.ts). */
  readonly scope?: (<T>(id: BankId, work: () => T) => T) | undefined;
}

async function secretsOf(dataDir: string | undefined, id: BankId): Promise<BankSecrets> {
  const operator = await loadOrCreate<{ keys: PartyKeys }>(dataDir, `keys/${id}-operator.json`, async () => ({
    keys: await generatePartyKeys(),
  }));
  const interbank = await loadOrCreate(dataDir, `keys/${id}-interbank.json`, () =>
    generateSigningKeyPair('ES256'),
  );
  const encryption = await loadOrCreate(dataDir, `keys/${id}-encryption.json`, () =>
    generateEncryptionKeyPair(),
  );
  const opaqueServerSetup = await loadOrCreate(dataDir, `keys/${id}-opaque-server-setup.json`, async () => {
    await opaque.ready;
    return opaque.server.createSetup();
  });
  return { operator: operator.keys, interbank, encryption, opaqueServerSetup };
}

/** Every bank's keys and secrets, loaded once (from the data folder, or made anew in memory). */
export type BankSecretsById = ReadonlyMap<BankId, BankSecrets>;

export async function loadBankSecrets(dataDir: string | undefined): Promise<BankSecretsById> {
  const secrets = new Map<BankId, BankSecrets>();
  for (const id of bankIds) secrets.set(id, await secretsOf(dataDir, id));
  return secrets;
}

/**
 * The banks as submitters of the transaction log (SA2pMP §4.2: every banking
 * transaction is logged by a third party): each bank's id and the public half
 * of its institutional key, which signs its submissions.
 */
export function bankLogSubmitters(secrets: BankSecretsById): { id: BankId; signingJwk: PublicJwk }[] {
  return bankIds.map((id) => ({ id, signingJwk: secrets.get(id)!.interbank.publicJwk }));
}

/**
 * Starts every bank with its own database (schema), its own keys and its own
 * port, each a peer of the others; then starts their workers. Peer URLs are
 * read at delivery time, so banks listening on port 0 find each other.
 */
export async function startBanks(input: StartBanksInput): Promise<RunningBank[]> {
  const secrets = input.secrets;
  const urls = new Map<string, string>();
  const banks: RunningBank[] = [];
  /** Each bank's workers, started (in its TLS scope) once every bank listens. */
  const starts: (() => void)[] = [];
  for (const id of input.only ?? bankIds) {
    const database = await input.open(id);
    await migrateBank(database);
    const own = secrets.get(id)!;
    const peers = bankIds
      .filter((peer) => peer !== id)
      .map((peer) => ({
        id: peer,
        get url(): string {
          return urls.get(peer) ?? input.peerUrls?.[peer] ?? 'http://127.0.0.1:1';
        },
        signingJwk: secrets.get(peer)!.interbank.publicJwk,
        netDebitCap: demoNetDebitCap,
      }));
    const scope = <T>(work: () => T): T =>
      input.tls !== undefined
        ? input.tls.scope(id, work)
        : input.scope !== undefined
          ? input.scope(id, work)
          : work();
    const service = scope(() =>
      createBankService({
        ...(input.tls === undefined ? {} : { tls: input.tls.server(id) }),
        ...(input.clock === undefined ? {} : { clock: input.clock }),
        ...(input.securityPolicy === undefined ? {} : { securityPolicy: input.securityPolicy }),
        name: id,
        database,
        logger: input.logger,
        metricsToken: input.metricsToken,
        // One institutional key: funds-transfer messages, key bindings and answers to the FSP.
        signingKey: own.interbank.privateJwk,
        interbank: { signingKey: own.interbank.privateJwk, peers },
        // Second factors: kept with the data folder, since the stored TOTP secrets are sealed to it.
        encryptionKey: own.encryption.privateJwk,
        // SA2pMP mobile banking: passwords by OPAQUE, codes and notices by SMS, every transaction in the log.
        banking: {
          opaqueServerSetup: own.opaqueServerSetup,
          sms: input.banking.sms,
          // Its own link object: the log client keeps one checkpoint follower per link, whose fetches
          // run in the scope (the client certificate) of the bank that makes them.
          transactionLog:
            input.banking.transactionLog === undefined ? undefined : { ...input.banking.transactionLog },
        },
        // The MPASP's signed messages (seed 002 step 6) under the key its requests are checked with.
        callerKeys: (callerId) => (callerId === input.fspId ? input.fspSigningJwk : undefined),
        verifyRequest: bankRequestVerifier(id, [
          {
            id: input.fspId,
            signingJwk: input.fspSigningJwk,
            allowed: [
              'POST /payment-orders',
              'GET /payment-orders/',
              'POST /refund-orders',
              'GET /refund-orders/',
              // Seed 002 §3: the MPASP asks for a registering customer's client id.
              'POST /macro/clients',
              // Seed 002 §4.2 step 6: the MPASP's payment request to the client bank.
              'POST /macro/payment-requests',
              // Seed 002 §4.2 step 12: the MPASP reads the client bank's signed outcome of its session.
              'GET /macro/sessions/',
            ],
          },
          { id: `operator.${id}`, signingJwk: own.operator.signing.publicJwk, allowed: ['POST /', 'GET /'] },
        ]),
      }),
    );
    const url = await scope(() => service.listen(input.ports[id] ?? 0, '127.0.0.1'));
    urls.set(id, url);
    starts.push(() => scope(() => service.start(input.workerIntervalMs, input.workerIdleIntervalMaxMs)));
    banks.push({
      id,
      url,
      service,
      database,
      operatorId: `operator.${id}`,
      operatorKey: own.operator.signing.privateJwk,
      signingKey: own.interbank.privateJwk,
      signingJwk: own.interbank.publicJwk,
    });
  }
  for (const start of starts) start();
  return banks;
}
