import { type CustodyService, createCustodyService } from '@mpay/custody';
import { publicJwkSet } from '@mpay/envelope';
import {
  createGatewayService,
  type FspIdentity,
  type GatewayLimits,
  type GatewayLimitsReload,
  type GatewayService,
  type GatewayServiceOptions,
  type MacroServiceLimits,
} from '@mpay/gateway';
import { ensureSoftHsmToken } from '@mpay/hsm';
import type { ServerTls, TlsReloadHook } from '@mpay/http-server';
import { type LogStack, startLogStack } from '@mpay/log-service';
import { createMerchantShop, type MerchantShop, type ProductInput } from '@mpay/merchant-shop';
import { MpayError, type SecurityPolicy } from '@mpay/protocol';
import { fetchBankTrust, MerchantClient } from '@mpay/sdk';
import { type Database, openDatabase } from '@mpay/storage';
import { consoleExtension, startWebServer } from '@mpay/web';
import { type BankId, bankIds, type RunningBank, startBanks } from './banks.ts';
import { gatewayCountOf, startGatewayInstances } from './gateway-front.ts';
import { readGatewayLimitsFile } from './gateway-limits-file.ts';
import { type PlatformMail, type SmtpRelay, startPlatformMail } from './mail.ts';
import { type PlainPlatformClient, startPlainPlatformClient } from './plain-client.ts';
import { deleteRunToken, sweepRunTokens, thisProcessAsOwner } from './run-token.ts';
import { loadPlatformSecrets, platformLogSubmitters, softHsmOf, witnessesRequired } from './secrets.ts';
import { type DemoCredentials, demoParties, seedDemo } from './seed.ts';
import { type PlatformSms, type SmsRelay, startPlatformSms } from './sms.ts';
import { loadPlatformTls, type PlatformTls, type PlatformTlsService, refuseRevokedOf } from './tls.ts';
import type { WebTlsPair } from './web-tls.ts';

export {
  loadPlatformSecrets,
  type PlatformSecrets,
  platformCustodyId,
  platformLogSubmitters,
  softHsmOf,
  witnessesRequired,
} from './secrets.ts';

export interface PlatformOptions {
  /** Data folder for PGlite and keys; undefined keeps everything in memory (tests). */
  dataDir?: string | undefined;
  /** PostgreSQL URL; when set, every service uses its own schema there. */
  databaseUrl?: string | undefined;
  /** Prefix for schema names, so that several platforms can share one PostgreSQL database. */
  schemaPrefix?: string;
  ports?: {
    gateway?: number;
    merchantShop?: number;
    log?: number;
    witness?: number;
    custody?: number;
    /** The embedded SMTP server (0 or absent: any free port). */
    mail?: number;
    /** The embedded SMS gateway (0 or absent: any free port). */
    sms?: number;
    /** The web pages and the API proxy in front of the services (with `web`). */
    web?: number;
  } & Partial<Record<BankId, number>>;
  /**
   * Serve the web pages (wallet, shop, till, console) with every service's API
   * behind one origin; they are built with Vite on the first start after a change.
   */
  web?: boolean;
  /** Told of long work at start (the first build of the pages). */
  progress?: (line: string) => void;
  logger?: boolean | { level: string };
  backgroundIntervalMs?: number;
  /** The background loops' longest idle wait (each service's default when absent); equal to backgroundIntervalMs, they poll. */
  backgroundIdleIntervalMaxMs?: number;
  /**
   * The gateway's limits (rates, expiry, page sizes); validated by the gateway. Default: those
   * `<dataDir>/gateway-limits.json` changes (./gateway-limits-file.ts), when there is one.
   */
  gatewayLimits?: Partial<GatewayLimits>;
  /**
   * Gateway instances on one schema behind a TCP front on the gateway's port
   * (gateway-front.ts; default 1, no front). More than one only with
   * `databaseUrl` (CONFIGURATION_INVALID on the embedded PGlite).
   */
  gateways?: number | undefined;
  /** The gateway's clock (tests move it to expire requests). */
  gatewayClock?: () => Date;
  /** The MPASP's macro limits (T_EXP, tries, rates); validated by the gateway. */
  macroLimits?: Partial<MacroServiceLimits> | undefined;
  /**
   * The security-level policy. Default: `<dataDir>/security-policy.json`, written with the
   * defaults on first start for the operator to edit, and validated at every start.
   */
  securityPolicy?: SecurityPolicy;
  /** The banks' clock (tests move it past a key binding's validity). */
  bankClock?: () => Date;
  /** What the merchant shop sells (validated by the shop); its demo catalogue when absent. */
  shopCatalogue?: readonly ProductInput[] | undefined;
  /** An SMTP relay for the platform's mail (`smtpRelayFromEnv`); absent: the embedded mail server. */
  smtpRelay?: SmtpRelay | undefined;
  /** An HTTP SMS gateway for the banks' texts (`smsRelayFromEnv`); absent: the embedded gateway. */
  smsRelay?: SmsRelay | undefined;
  /**
   * TLS on every port and every call between the services, from the
   * deployment's PKI in `<dataDir>/pki` (ensurePlatformPki makes it; `mpay up`
   * calls it): see ./tls.ts for who must present which certificate. Absent:
   * plain HTTP (the in-process tests). One platform with TLS per process.
   */
  tls?: { readonly dataDir: string } | undefined;
  /**
   * The web pages' certificate instead of the deployment's (`web.mpay`'s
   * `web`): an operator's publicly trusted one (MPAY_WEB_TLS_CERT/KEY, read by
   * ./web-tls.ts). Only with `tls` and `web` (CONFIGURATION_INVALID otherwise).
   */
  webTls?: WebTlsPair | undefined;
  /**
   * In memory (no `dataDir`): the label of the run's custody token in the shared test folder,
   * deleted at close (default: `mpay-test-` and 22 random hex digits). Ignored with `dataDir`.
   */
  custodyTokenLabel?: string | undefined;
  /** A built pages folder to serve (tests); default: built with Vite when the sources changed. */
  webDistDir?: string | undefined;
}

export interface Platform {
  urls: {
    gateway: string;
    merchantShop: string;
    log: string;
    witness: string;
    custody: string;
    /** Each gateway instance's own address (`gateway` is the front with several). */
    gatewayInstances: readonly string[];
    /** The web pages and the API proxy; undefined unless started with `web`. */
    web: string | undefined;
  } & Record<BankId, string>;
  /** The trusted mobile certificate server (iMS §5): custody customers' keys in its HSM. */
  custody: CustodyService;
  /**
   * Custody's softhsm2 token: the data folder's, or (in memory) one made for this run under a
   * random label in the shared test folder, deleted by `close`.
   */
  custodyToken: { readonly label: string; readonly directory: string; readonly deletedAtClose: boolean };
  /** The transaction log and its witness; their public keys verify every receipt offline. */
  log: LogStack;
  /** The out-of-band mail (macro §3: client id and mPIN): the embedded server and its folder, or a relay. */
  mail: PlatformMail;
  /** The out-of-band SMS (SA2pMP: login codes, renewal notices): the embedded gateway and its folder, or a relay. */
  sms: PlatformSms;
  /** The first gateway instance. */
  gateway: GatewayService;
  /** Every gateway instance (options.gateways), the first one first. */
  gateways: readonly GatewayService[];
  merchantShop: MerchantShop;
  /** Bearer token of the shop's merchant endpoints (orders, shipment, notifications); <data>/keys/merchant-shop-token.json. */
  merchantShopToken: string;
  credentials: DemoCredentials;
  fsp: FspIdentity;
  operatorToken: string;
  /** Every bank with its operator's signing identity (opens accounts, reads balances, settles). */
  banks: RunningBank[];
  databases: Database[];
  /**
   * The deployment's CA (PEM and path) when started with `tls`, and `reload`
   * (PlatformTls.reload: every service's certificate again from `<data>/pki`,
   * after `mpay pki rotate`); undefined on plain HTTP.
   */
  tls: Pick<PlatformTls, 'caPem' | 'caPath' | 'reload' | 'revokedSerials'> | undefined;
  /**
   * The gateway limits again, as at start (`<dataDir>/gateway-limits.json`, or the
   * `gatewayLimits` option), for every gateway instance (GatewayService.reloadLimits).
   * Rejects (CONFIGURATION_INVALID) on a wrong file, and nothing changes.
   */
  reloadGatewayLimits(): Promise<GatewayLimitsReload>;
  close(): Promise<void>;
}

/** A server's key and certificate, PEM, from its `tls` option, and how it is told of new ones (PlatformTls.reload). */
function pairOf(server: ServerTls): { key: string; cert: string; onReload?: TlsReloadHook } {
  return {
    key: server.key,
    cert: server.cert,
    ...(server.onReload === undefined ? {} : { onReload: server.onReload }),
  };
}

/** The schemas (PostgreSQL) or data folders (PGlite) of a platform, before any prefix. */
export const platformSchemas = [
  'gateway',
  ...bankIds,
  'custody',
  'log',
  'log_witness',
  'merchant_shop',
] as const;

/**
 * Starts the gateway (FSP), the banks (xbank for the demo customer, ybank for
 * the demo merchant) and the demo merchant's backend in this process, each
 * with its own database (schema) and its own HTTP port on loopback, and
 * creates the demo parties the first time.
 */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const started = new StartedParts();
  try {
    return await startPlatformMaking(options, started);
  } catch (error) {
    // A start that failed half-way closes what it started (its servers, pools and loops, which would
    // outlive it in a process that goes on, a test's or a bench's), and deletes its run's custody token.
    await started.closeAll().catch((closing: unknown) => {
      process.emitWarning(`a platform that failed to start did not close cleanly: ${messageOf(closing)}`);
    });
    throw error;
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * What a platform has started, each with its close: closed last started first by `Platform.close`,
 * and by a start that fails half-way. Every part is closed, whatever failed before it.
 */
class StartedParts {
  readonly #parts: { readonly what: string; readonly close: () => Promise<unknown> | undefined }[] = [];
  #closing: Promise<void> | undefined;

  add(what: string, close: () => Promise<unknown> | undefined): void {
    this.#parts.push({ what, close });
  }

  /**
   * Closes every part once, last started first; rejects with what failed (each part named). A
   * second call gets the first one's promise: it settles once everything is closed.
   */
  closeAll(): Promise<void> {
    this.#closing ??= this.#closeEach();
    return this.#closing;
  }

  async #closeEach(): Promise<void> {
    const failures: Error[] = [];
    for (const { what, close } of this.#parts.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        failures.push(new Error(`${what}: ${messageOf(error)}`, { cause: error }));
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1)
      throw new AggregateError(failures, failures.map((failure) => failure.message).join('; '));
  }
}

async function startPlatformMaking(options: PlatformOptions, started: StartedParts): Promise<Platform> {
  if (options.webTls !== undefined && (options.tls === undefined || options.web !== true)) {
    throw new MpayError(
      'CONFIGURATION_INVALID',
      "the web pages' own certificate (MPAY_WEB_TLS_CERT/KEY) needs the platform on TLS with its pages",
    );
  }
  const gatewayCount = gatewayCountOf(options);
  const secrets = await loadPlatformSecrets(options.dataDir, options.securityPolicy);
  const { securityPolicy, fsp, operatorToken } = secrets;
  // The operator's `<data>/gateway-limits.json`, read (and refused when wrong) before anything opens,
  // and again by reloadGatewayLimits.
  const readGatewayLimits = async () =>
    options.gatewayLimits ??
    (options.dataDir === undefined ? undefined : await readGatewayLimitsFile(options.dataDir));
  const gatewayLimits = await readGatewayLimits();
  const open = (schema: string) =>
    openDatabase({
      url: options.databaseUrl,
      dataDir: options.dataDir,
      schema: `${options.schemaPrefix ?? ''}${schema}`,
    });
  const gatewayDatabase = await open('gateway');
  started.add('the gateway database', () => gatewayDatabase.close());
  const { bankSecrets, custodyKeys, custodyId } = secrets;
  const tlsServices: PlatformTlsService[] = [
    'gateway',
    ...bankIds,
    'custody',
    'log',
    'witness',
    'shop',
    // The embedded mail server and SMS gateway (not with a relay), the pages (unless the operator's certificate).
    ...(options.smtpRelay === undefined ? (['smtp'] as const) : []),
    ...(options.smsRelay === undefined ? (['sms'] as const) : []),
    ...(options.web === true && options.webTls === undefined ? (['web'] as const) : []),
  ];
  const tls: PlatformTls | undefined =
    options.tls === undefined ? undefined : await loadPlatformTls(options.tls.dataDir, tlsServices);
  started.add('the TLS reloads and clients', () => tls?.close());
  // Without TLS, the services' calls to one another still go through undici's request (./plain-client.ts).
  const plain = tls === undefined ? startPlainPlatformClient() : undefined;
  started.add('the plain client', () => plain?.close());
  /** Runs a service's creation, listen and start in its client scope (with TLS, its calls present its certificate). */
  const as = <T>(service: Parameters<PlatformTls['scope']>[0], work: () => T): T =>
    tls === undefined ? (plain as PlainPlatformClient).scope(work) : tls.scope(service, work);
  const log = await startLogStack({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    schemaPrefix: options.schemaPrefix,
    ports: { log: options.ports?.log, witness: options.ports?.witness },
    // One scrape credential for every service's GET /metrics: the operator's bearer token, as the gateway's.
    metricsToken: operatorToken,
    submitters: platformLogSubmitters(secrets),
    logger: options.logger ?? false,
    ...(tls === undefined
      ? { scope: as }
      : { tls: { log: tls.server('log'), witness: tls.server('witness') }, scope: tls.scope }),
  });
  started.add('the log and its witness', () => log.close());
  const sms = await startPlatformSms({
    dataDir: options.dataDir,
    relay: options.smsRelay,
    port: options.ports?.sms,
    // HTTPS with sms.mpay's certificate; the banks' sender trusts the deployment's CA only.
    tls:
      tls === undefined || options.smsRelay !== undefined
        ? undefined
        : { ...pairOf(tls.server('sms')), fetch: tls.fetch },
  });
  started.add('the SMS gateway', () => sms.close());
  const banks = await startBanks({
    dataDir: options.dataDir,
    secrets: bankSecrets,
    banking: {
      sms: sms.sender,
      transactionLog: {
        url: log.logUrl,
        origin: log.origin,
        logVerifierKey: log.logVerifierKey,
        witnessVerifierKeys: [log.witnessVerifierKey],
        witnessesRequired,
      },
    },
    fspId: fsp.id,
    fspSigningJwk: fsp.signing.publicJwk,
    open,
    ports: options.ports ?? {},
    logger: options.logger ?? false,
    workerIntervalMs: options.backgroundIntervalMs ?? 250,
    workerIdleIntervalMaxMs: options.backgroundIdleIntervalMaxMs,
    metricsToken: operatorToken,
    clock: options.bankClock,
    // One policy: the banks' floor and the gateway's levels must agree.
    securityPolicy,
    tls,
    scope: as,
  });
  started.add('the banks', async () => {
    for (const bank of banks) await bank.service.close();
    await Promise.all(banks.map((bank) => bank.database.close()));
  });
  // Custody starts before the gateway (the gateway redirects to it); it reads the gateway's URL when it calls.
  let gatewayUrl = 'http://127.0.0.1:1';
  const custodyDatabase = await open('custody');
  started.add('the custody database', () => custodyDatabase.close());
  // An in-memory platform's token is made for this run only (a random label in the shared test folder,
  // this process its owner): deleted once custody, closed before, holds it no more. Its start first
  // deletes the tokens of runs that ended without closing (./run-token.ts).
  const deletedAtClose = options.dataDir === undefined;
  const owner = deletedAtClose ? thisProcessAsOwner() : undefined;
  const custodyToken = {
    ...softHsmOf(options.dataDir, options.custodyTokenLabel),
    ...(owner === undefined ? {} : { owner }),
  };
  if (deletedAtClose) await sweepRunTokens(custodyToken.directory);
  const custodyHsm = await ensureSoftHsmToken(custodyToken);
  if (deletedAtClose) started.add('the custody token', () => deleteRunToken(custodyToken));
  const custody = await as('custody', () =>
    createCustodyService({
      ...(tls === undefined ? {} : { tls: tls.server('custody') }),
      database: custodyDatabase,
      custody: { id: custodyId, signing: custodyKeys.signing, encryption: custodyKeys.encryption },
      fsp: {
        id: fsp.id,
        get url() {
          return gatewayUrl;
        },
        keys: publicJwkSet([fsp.signing.publicJwk, fsp.encryption.publicJwk]),
      },
      banks: banks.map((bank) => ({ id: bank.id, url: bank.url, signingJwk: bank.signingJwk })),
      hsm: custodyHsm,
      transactionLog: { url: log.logUrl, origin: log.origin },
      logger: options.logger ?? false,
      backgroundIntervalMs: options.backgroundIntervalMs ?? 250,
      backgroundIdleIntervalMaxMs: options.backgroundIdleIntervalMaxMs,
      metricsToken: operatorToken,
      // Its restart takes back at once what its killed start was sending (as the gateway's).
      instanceName: 'custody',
    }),
  );
  started.add('custody', () => custody.close());
  const custodyUrl = await as('custody', () => custody.listen(options.ports?.custody ?? 0, '127.0.0.1'));
  const mail = await startPlatformMail({
    dataDir: options.dataDir,
    relay: options.smtpRelay,
    port: options.ports?.mail,
    // Implicit TLS with mail.mpay's certificate; the gateway's mailer trusts the deployment's CA only
    // (the bundle of the last reload: a CA rotation reaches it without a restart).
    tls:
      tls === undefined || options.smtpRelay !== undefined
        ? undefined
        : { ...pairOf(tls.server('smtp')), caPem: () => tls.caPem, refuseCertificate: refuseRevokedOf(tls) },
  });
  started.add('the mail server', () => mail.close());
  const { opaqueServerSetup } = secrets;
  /** The first gateway's options: the other instances (options.gateways) get the same, each with its own pool. */
  let gatewayOptions: GatewayServiceOptions | undefined;
  const createGateway = (chosen: GatewayServiceOptions) => {
    gatewayOptions = chosen;
    return createGatewayService(chosen);
  };
  const gateway = await as('gateway', () =>
    createGateway({
      ...(tls === undefined ? {} : { tls: tls.server('gateway') }),
      database: gatewayDatabase,
      // Its outbox leases are its own: a restart takes back what its killed start was delivering.
      instanceName: 'gateway',
      fsp,
      operatorToken,
      transactionLog: {
        url: log.logUrl,
        origin: log.origin,
        logVerifierKey: log.logVerifierKey,
        witnessVerifierKeys: [log.witnessVerifierKey],
        witnessesRequired,
      },
      logger: options.logger ?? false,
      backgroundIntervalMs: options.backgroundIntervalMs ?? 250,
      backgroundIdleIntervalMaxMs: options.backgroundIdleIntervalMaxMs,
      ...(gatewayLimits === undefined ? {} : { limits: gatewayLimits }),
      ...(options.gatewayClock === undefined ? {} : { clock: options.gatewayClock }),
      ...(options.macroLimits === undefined ? {} : { macroLimits: options.macroLimits }),
      securityPolicy,
      custodians: [{ id: custodyId, url: custodyUrl, encryptionJwk: custodyKeys.encryption.publicJwk }],
      mailer: mail.mailer,
      opaqueServerSetup,
    }),
  );
  // The first instance until the others and the front are up; then all of them (gateways.close).
  let closeGateways = () => gateway.close();
  started.add('the gateway', () => closeGateways());
  let gatewaysCreated = 1;
  const gateways = await startGatewayInstances({
    first: gateway,
    count: gatewayCount,
    port: options.ports?.gateway,
    listen: (instance, port) => as('gateway', () => instance.listen(port, '127.0.0.1')),
    create: async () => {
      if (gatewayOptions === undefined) throw new Error('assertion failed: the first gateway was created');
      const database = await open('gateway');
      const chosen = gatewayOptions;
      // Each instance its own name on the shared schema: its outbox leases are its own (the first is `gateway`).
      gatewaysCreated += 1;
      const instanceName = `gateway-${gatewaysCreated}`;
      try {
        return {
          service: await as('gateway', () => createGatewayService({ ...chosen, database, instanceName })),
          database,
        };
      } catch (error) {
        // Not handed over yet: startGatewayInstances closes only the databases it was given.
        await database.close().catch(() => undefined);
        throw error;
      }
    },
  });
  closeGateways = () => gateways.close();
  gatewayUrl = gateways.url;
  const { merchantKeys } = secrets;
  const merchant = new MerchantClient({
    gatewayUrl,
    merchantId: demoParties.merchant.id,
    signingKey: merchantKeys.signing.privateJwk,
    fsp: { id: fsp.id, keys: { keys: [fsp.signing.publicJwk, fsp.encryption.publicJwk] } },
    // The banks' keys from the banks themselves: the demo merchant seals private fields for them.
    banks: await Promise.all(banks.map((bank) => fetchBankTrust(bank.url))),
  });
  const { merchantShopToken } = secrets;
  const shopDatabase = await open('merchant_shop');
  started.add('the shop database', () => shopDatabase.close());
  const merchantShop = await as('shop', () =>
    createMerchantShop({
      ...(tls === undefined ? {} : { tls: tls.server('shop') }),
      database: shopDatabase,
      merchant,
      merchantToken: merchantShopToken,
      // The till's QR codes name the demo merchant as the CLI's m-trade demo does.
      till: { merchantName: demoParties.merchant.displayName, city: 'Skopje' },
      ...(options.shopCatalogue === undefined ? {} : { catalogue: options.shopCatalogue }),
      logger: options.logger ?? false,
      backgroundIntervalMs: options.backgroundIntervalMs ?? 250,
      backgroundIdleIntervalMaxMs: options.backgroundIdleIntervalMaxMs,
      instanceName: 'shop',
    }),
  );
  started.add('the shop', () => merchantShop.close());
  const merchantShopUrl = await as('shop', () =>
    merchantShop.listen(options.ports?.merchantShop ?? 0, '127.0.0.1'),
  );
  const credentials = await seedDemo({
    dataDir: options.dataDir,
    gatewayUrl,
    operatorToken,
    banks,
    merchantKeys,
    merchantShopUrl,
    custodyUrl,
    custodyId,
  });
  const bankUrls = Object.fromEntries(banks.map((bank) => [bank.id, bank.url])) as Record<BankId, string>;
  const web =
    options.web === true
      ? await startWebServer({
          upstreams: {
            gateway: gatewayUrl,
            custody: custodyUrl,
            shop: merchantShopUrl,
            ...bankUrls,
          },
          config: {
            fspId: fsp.id,
            custodyId,
            currency: demoParties.bank.currency,
            banks: banks.map((bank) => ({ id: bank.id, name: bank.id, api: `/api/${bank.id}` })),
            log: {
              origin: log.origin,
              logVerifierKey: log.logVerifierKey,
              witnessVerifierKeys: [log.witnessVerifierKey],
              witnessesRequired,
            },
          },
          port: options.ports?.web,
          logger: options.logger ?? false,
          progress: options.progress,
          distDir: options.webDistDir,
          // HTTPS with the operator's certificate, else web.mpay's `web`; its proxy calls the services trusting the CA.
          tls: tls === undefined ? undefined : (options.webTls ?? pairOf(tls.server('web'))),
          // The operator console's backend: it calls the services with the operator's credentials.
          extensions: [
            consoleExtension({
              operatorToken,
              gatewayUrl,
              gatewayInstanceUrls: gateways.instanceUrls,
              banks: banks.map((bank) => ({
                id: bank.id,
                url: bank.url,
                operatorId: bank.operatorId,
                operatorKey: bank.operatorKey,
                fundingAccountId:
                  bank.id === demoParties.bank.id ? demoParties.bank.fundingAccount : undefined,
              })),
              log: {
                url: log.logUrl,
                policy: {
                  logVerifierKey: log.logVerifierKey,
                  witnessVerifierKeys: [log.witnessVerifierKey],
                  witnessesRequired,
                },
              },
              currency: demoParties.bank.currency,
              witnessAlarms: () => Object.fromEntries(log.witness.alarmCounts),
            }),
          ],
        })
      : undefined;
  started.add('the web pages', () => web?.close());
  return {
    urls: {
      gateway: gatewayUrl,
      merchantShop: merchantShopUrl,
      log: log.logUrl,
      witness: log.witnessUrl,
      custody: custodyUrl,
      gatewayInstances: gateways.instanceUrls,
      web: web?.url,
      ...bankUrls,
    },
    custody,
    custodyToken: {
      label: custodyToken.tokenLabel,
      directory: custodyToken.directory,
      deletedAtClose,
    },
    log,
    mail,
    sms,
    gateway,
    gateways: gateways.instances,
    merchantShop,
    merchantShopToken,
    credentials,
    fsp,
    operatorToken,
    banks,
    databases: [
      gatewayDatabase,
      ...gateways.databases,
      custodyDatabase,
      shopDatabase,
      ...banks.map((bank) => bank.database),
    ],
    tls:
      tls === undefined
        ? undefined
        : {
            caPem: tls.caPem,
            caPath: tls.caPath,
            reload: (now?: Date) => tls.reload(now),
            // Those of the last reload.
            get revokedSerials() {
              return tls.revokedSerials;
            },
          },
    async reloadGatewayLimits() {
      const limits = await readGatewayLimits();
      const reloads = gateways.instances.map((instance) => instance.reloadLimits(limits));
      return reloads[0] ?? { changed: [], atNextStart: [] };
    },
    close: () => started.closeAll(),
  };
}
