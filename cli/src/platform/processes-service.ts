/**
 * One service of the platform in a process of its own (`mpay up --processes`
 * and `mpay chaos` fork one per service): the same data folder, keys, schema
 * and port as `mpay up` gives it, with its peers at their fixed loopback
 * ports. The supervisor created every key before forking; this process only
 * reads them. It tells the supervisor it is ready over the IPC channel, and
 * exits when the channel closes (the supervisor is gone) so that no service
 * outlives its supervisor.
 */
import type { KeyPairText } from '@mpay/log-service';
import type { MailerOptions } from '@mpay/mail';
import type { BankTrust } from '@mpay/sdk';
import type { Database } from '@mpay/storage';
import type { BankId } from './banks.ts';
import type { PlatformSecrets } from './secrets.ts';
import type { PlatformTls, PlatformTlsService } from './tls.ts';

// Each service's modules are imported when that service starts: a process loads only what it runs.

/** The services that each run in a process of their own, in the order they start. */
export const platformProcessNames = [
  'witness',
  'log',
  'xbank',
  'ybank',
  'custody',
  'gateway',
  'merchant_shop',
] as const;
export type PlatformProcessName = (typeof platformProcessNames)[number];

export function isPlatformProcessName(name: string): name is PlatformProcessName {
  return (platformProcessNames as readonly string[]).includes(name);
}

/** Every port of the platform, fixed: each process finds its peers there, and a restart listens there again. */
export interface PlatformPortMap {
  readonly gateway: number;
  readonly xbank: number;
  readonly ybank: number;
  readonly merchantShop: number;
  readonly log: number;
  readonly witness: number;
  readonly custody: number;
  readonly mail: number;
  readonly sms: number;
}

/** What the supervisor hands each service process (as JSON in MPAY_PLATFORM_PROCESS). */
export interface PlatformProcessLayout {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** Prefix of every schema on PostgreSQL ('' for `mpay up`'s own schemas). */
  readonly schemaPrefix: string;
  readonly ports: PlatformPortMap;
  /**
   * The supervisor's SMTP server (or the operator's relay): the gateway sends
   * its mail there. `deploymentTls`: the supervisor's embedded server of a TLS
   * platform, reached with implicit TLS and the deployment's CA as the only anchor.
   * The operator's relay comes whole (MPAY_SMTP_SECURE, its trust anchors);
   * its credentials (`auth`) only in the gateway's own copy of the layout
   * (processes.ts `serviceProcessSpawn`: in its environment, never on its command line).
   */
  readonly smtp: {
    readonly host: string;
    readonly port: number;
    readonly deploymentTls?: boolean;
    readonly secure?: boolean;
    readonly ca?: string;
    readonly auth?: { readonly user: string; readonly pass: string };
  };
  /**
   * The supervisor's SMS gateway (or the operator's): the banks send their
   * texts there. `deploymentTls`: the supervisor's embedded gateway of a TLS
   * platform (an https URL), called with the fetch that trusts the deployment's CA only.
   */
  readonly sms: { readonly url: string; readonly token: string; readonly deploymentTls?: boolean };
  readonly logger: boolean | { readonly level: string };
  readonly backgroundIntervalMs: number;
  /** TLS from `<dataDir>/pki` (the supervisor made it): every port HTTPS, every call with the service's certificate. */
  readonly tls?: boolean | undefined;
  /**
   * `mpay bench e2e --processes`: the process counts its WebCrypto calls and SQL statements
   * in the bench's window and answers its requests (commands/bench/e2e-server-counting.ts).
   */
  readonly benchCounting?: boolean | undefined;
}

/** The environment variable that carries the layout to a service process. */
export const platformProcessLayoutVariable = 'MPAY_PLATFORM_PROCESS';

/** The message a service process sends its supervisor once it answers on its port. */
export interface ServiceReadyMessage {
  readonly type: 'ready';
  readonly service: PlatformProcessName;
  readonly url: string;
}

/** How long the shop waits at start for the banks to publish their keys (they start before it). */
const bankTrustDeadlineMs = 10 * 60_000;

export function loopbackUrl(port: number, tls = false): string {
  return `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
}

/** A peer's URL in this layout (https when it runs TLS). */
function peerUrl(layout: PlatformProcessLayout, port: number): string {
  return loopbackUrl(port, layout.tls === true);
}

/** The log's and the witness's key pairs from the data folder (created there on first start). */
export async function loadLogKeys(dataDir: string): Promise<{ log: KeyPairText; witness: KeyPairText }> {
  const { defaultOrigin, defaultWitnessName, loadOrCreateKeyPair } = await import('@mpay/log-service');
  const { generateCosignerKey, generateNoteKey } = await import('@mpay/merkle');
  const log = await loadOrCreateKeyPair(dataDir, 'log', () => generateNoteKey(defaultOrigin));
  const witness = await loadOrCreateKeyPair(dataDir, 'log-witness', () =>
    generateCosignerKey(defaultWitnessName),
  );
  return { log, witness };
}

interface Running {
  readonly url: string;
  /** This process's TLS (its service's certificate) when the layout runs TLS: `reload` after `mpay pki rotate`. */
  readonly tls?: Pick<PlatformTls, 'reload'> | undefined;
  /** The gateway's: its limits again from `<data>/gateway-limits.json`, and the line that says how. */
  readonly reloadGatewayLimits?: (() => Promise<string>) | undefined;
  close(): Promise<void>;
}

/** The supervisor asks the gateway process to read `<data>/gateway-limits.json` again (SIGHUP to `mpay up --processes`). */
export interface GatewayLimitsReloadRequest {
  readonly type: 'gateway-limits-reload';
}

/** The gateway process's answer: one line, as `mpay up` prints it, and whether the file was refused. */
export interface GatewayLimitsReloadAnswer {
  readonly type: 'gateway-limits-reloaded';
  readonly line: string;
  readonly refused: boolean;
}

/** What a service process tells its supervisor of a TLS reload (SIGUSR2 or SIGHUP): one line, as `mpay up` prints it. */
export interface TlsReloadMessage {
  readonly type: 'tls-reload';
  readonly service: PlatformProcessName;
  readonly line: string;
}

interface ServiceContext {
  readonly layout: PlatformProcessLayout;
  readonly secrets: PlatformSecrets;
  readonly logKeys: { log: KeyPairText; witness: KeyPairText };
  readonly origin: string;
  /** This process's TLS (./tls.ts) when the layout asks for it; its service runs inside its scope. */
  readonly tls: PlatformTls | undefined;
  open(schema: string): Promise<Database>;
}

function transactionLogOf(context: ServiceContext) {
  return {
    // Receipts must carry a cosignature of the platform's witness.
    witnessesRequired: 1,
    url: peerUrl(context.layout, context.layout.ports.log),
    origin: context.origin,
    logVerifierKey: context.logKeys.log.verifierKey,
    witnessVerifierKeys: [context.logKeys.witness.verifierKey],
  };
}

async function startWitness(context: ServiceContext): Promise<Running> {
  const { createWitnessServer, migrateWitness, Witness } = await import('@mpay/log-service');
  const database = await context.open('log_witness');
  await migrateWitness(database);
  const witness = await Witness.create({
    database,
    signerKey: context.logKeys.witness.signerKey,
    logs: [{ origin: context.origin, verifierKey: context.logKeys.log.verifierKey }],
  });
  const server = createWitnessServer(witness, {
    logger: context.layout.logger,
    metricsToken: context.secrets.operatorToken,
    tls: context.tls?.server('witness'),
  });
  const url = await server.listen({ port: context.layout.ports.witness, host: '127.0.0.1' });
  return {
    url,
    async close() {
      await server.close();
      await database.close();
    },
  };
}

async function startLog(context: ServiceContext): Promise<Running> {
  const { createLogService, migrateLog } = await import('@mpay/log-service');
  const { platformLogSubmitters } = await import('./secrets.ts');
  const database = await context.open('log');
  await migrateLog(database);
  const log = await createLogService({
    database,
    signerKey: context.logKeys.log.signerKey,
    submitters: platformLogSubmitters(context.secrets),
    witnesses: [
      {
        url: peerUrl(context.layout, context.layout.ports.witness),
        verifierKey: context.logKeys.witness.verifierKey,
      },
    ],
    logger: context.layout.logger,
    metricsToken: context.secrets.operatorToken,
    tls: context.tls?.server('log'),
  });
  const url = await log.listen(context.layout.ports.log, '127.0.0.1');
  log.start();
  return {
    url,
    async close() {
      await log.close();
      await database.close();
    },
  };
}

async function startBank(context: ServiceContext, id: BankId): Promise<Running> {
  const { bankIds, startBanks } = await import('./banks.ts');
  const { startPlatformSms } = await import('./sms.ts');
  const { layout, secrets } = context;
  const smsFetch = layout.sms.deploymentTls === true ? context.tls?.fetch : undefined;
  if (layout.sms.deploymentTls === true && smsFetch === undefined)
    throw new Error('the SMS gateway runs TLS but this process has no TLS client');
  const sms = await startPlatformSms({
    dataDir: layout.dataDir,
    relay: { url: layout.sms.url, token: layout.sms.token, fetch: smsFetch },
    port: undefined,
  });
  const [bank] = await startBanks({
    dataDir: layout.dataDir,
    secrets: secrets.bankSecrets,
    banking: { sms: sms.sender, transactionLog: transactionLogOf(context) },
    fspId: secrets.fsp.id,
    fspSigningJwk: secrets.fsp.signing.publicJwk,
    open: (schema) => context.open(schema),
    ports: { [id]: layout.ports[id] },
    logger: layout.logger,
    workerIntervalMs: layout.backgroundIntervalMs,
    metricsToken: secrets.operatorToken,
    securityPolicy: secrets.securityPolicy,
    only: [id],
    tls: context.tls,
    peerUrls: Object.fromEntries(bankIds.map((peer) => [peer, peerUrl(layout, layout.ports[peer])])),
  });
  if (bank === undefined) throw new Error(`assertion failed: bank ${id} started`);
  return {
    url: bank.url,
    async close() {
      await bank.service.close();
      await sms.close();
      await bank.database.close();
    },
  };
}

async function startCustody(context: ServiceContext): Promise<Running> {
  const { createCustodyService } = await import('@mpay/custody');
  const { publicJwkSet } = await import('@mpay/envelope');
  const { ensureSoftHsmToken } = await import('@mpay/hsm');
  const { bankIds } = await import('./banks.ts');
  const { softHsmOf } = await import('./secrets.ts');
  const { layout, secrets } = context;
  const database = await context.open('custody');
  const custody = await createCustodyService({
    database,
    custody: {
      id: secrets.custodyId,
      signing: secrets.custodyKeys.signing,
      encryption: secrets.custodyKeys.encryption,
    },
    fsp: {
      id: secrets.fsp.id,
      url: peerUrl(layout, layout.ports.gateway),
      keys: publicJwkSet([secrets.fsp.signing.publicJwk, secrets.fsp.encryption.publicJwk]),
    },
    banks: bankIds.map((id) => ({
      id,
      url: peerUrl(layout, layout.ports[id]),
      signingJwk: secrets.bankSecrets.get(id)!.interbank.publicJwk,
    })),
    hsm: await ensureSoftHsmToken(softHsmOf(layout.dataDir)),
    transactionLog: { url: peerUrl(layout, layout.ports.log), origin: context.origin },
    logger: layout.logger,
    backgroundIntervalMs: layout.backgroundIntervalMs,
    metricsToken: secrets.operatorToken,
    tls: context.tls?.server('custody'),
    instanceName: 'custody',
  });
  const url = await custody.listen(layout.ports.custody, '127.0.0.1');
  return {
    url,
    async close() {
      await custody.close();
      await database.close();
    },
  };
}

/**
 * The SMTP the gateway process sends through, from its layout: the
 * supervisor's embedded server of a TLS platform with implicit TLS and the
 * deployment's CA (`caPem`), else the server or the operator's relay with its
 * own settings (`secure`, trust anchors, credentials).
 */
export function gatewayMailRelay(
  smtp: PlatformProcessLayout['smtp'],
  caPem: string | (() => string) | undefined,
  refuseCertificate?: MailerOptions['smtp']['refuseCertificate'],
): MailerOptions['smtp'] {
  const { secure, ca, auth } = smtp;
  return {
    host: smtp.host,
    port: smtp.port,
    ...(caPem === undefined
      ? { ...(secure === undefined ? {} : { secure }), ...(ca === undefined ? {} : { ca }) }
      : { secure: true, ca: caPem, ...(refuseCertificate === undefined ? {} : { refuseCertificate }) }),
    ...(auth === undefined ? {} : { auth: { user: auth.user, pass: auth.pass } }),
  };
}

async function startGateway(context: ServiceContext): Promise<Running> {
  const { createGatewayService } = await import('@mpay/gateway');
  const { macroLimitsFromEnv } = await import('./macro-limits.ts');
  const { startPlatformMail } = await import('./mail.ts');
  const { layout, secrets } = context;
  const database = await context.open('gateway');
  const tls = layout.smtp.deploymentTls === true ? context.tls : undefined;
  if (layout.smtp.deploymentTls === true && tls === undefined)
    throw new Error('the mail server runs TLS but this process has no deployment CA');
  // The bundle of this process's last reload: a CA rotation reaches the mailer without a restart.
  const caPem = tls === undefined ? undefined : () => tls.caPem;
  const mail = await startPlatformMail({
    dataDir: layout.dataDir,
    relay: gatewayMailRelay(
      layout.smtp,
      caPem,
      tls === undefined ? undefined : (await import('./tls.ts')).refuseRevokedOf(tls),
    ),
    port: undefined,
  });
  const macroLimits = macroLimitsFromEnv(process.env);
  const { readGatewayLimitsFile } = await import('./gateway-limits-file.ts');
  const limits = await readGatewayLimitsFile(layout.dataDir);
  const gateway = await createGatewayService({
    database,
    // A restart of this process takes back at once the outbox rows its killed start was delivering.
    instanceName: 'gateway',
    fsp: secrets.fsp,
    operatorToken: secrets.operatorToken,
    transactionLog: transactionLogOf(context),
    logger: layout.logger,
    backgroundIntervalMs: layout.backgroundIntervalMs,
    ...(macroLimits === undefined ? {} : { macroLimits }),
    // The operator's <data>/gateway-limits.json, as `mpay up` reads it.
    ...(limits === undefined ? {} : { limits }),
    securityPolicy: secrets.securityPolicy,
    custodians: [
      {
        id: secrets.custodyId,
        url: peerUrl(layout, layout.ports.custody),
        encryptionJwk: secrets.custodyKeys.encryption.publicJwk,
      },
    ],
    mailer: mail.mailer,
    opaqueServerSetup: secrets.opaqueServerSetup,
    tls: context.tls?.server('gateway'),
  });
  const url = await gateway.listen(layout.ports.gateway, '127.0.0.1');
  const { describeGatewayLimitsReload } = await import('./gateway-limits-file.ts');
  return {
    url,
    reloadGatewayLimits: async () =>
      describeGatewayLimitsReload(gateway.reloadLimits(await readGatewayLimitsFile(layout.dataDir))),
    async close() {
      await gateway.close();
      await mail.close();
      await database.close();
    },
  };
}

/** The banks' published keys; they may be starting again (chaos): asked until they answer. */
async function bankTrusts(layout: PlatformProcessLayout): Promise<BankTrust[]> {
  const { fetchBankTrust } = await import('@mpay/sdk');
  const { MpayError } = await import('@mpay/protocol');
  const { bankIds } = await import('./banks.ts');
  const end = Date.now() + bankTrustDeadlineMs;
  for (;;) {
    try {
      return await Promise.all(bankIds.map((id) => fetchBankTrust(peerUrl(layout, layout.ports[id]))));
    } catch (error) {
      if (Date.now() >= end)
        throw new MpayError('BANK_UNAVAILABLE', `the banks' keys at start: ${String(error)}`);
      await new Promise((done) => setTimeout(done, 500));
    }
  }
}

async function startMerchantShop(context: ServiceContext): Promise<Running> {
  const { createMerchantShop } = await import('@mpay/merchant-shop');
  const { MerchantClient } = await import('@mpay/sdk');
  const { demoParties } = await import('./seed.ts');
  const { layout, secrets } = context;
  const gatewayUrl = peerUrl(layout, layout.ports.gateway);
  const merchant = new MerchantClient({
    gatewayUrl,
    merchantId: demoParties.merchant.id,
    signingKey: secrets.merchantKeys.signing.privateJwk,
    fsp: {
      id: secrets.fsp.id,
      keys: { keys: [secrets.fsp.signing.publicJwk, secrets.fsp.encryption.publicJwk] },
    },
    banks: await bankTrusts(layout),
  });
  const database = await context.open('merchant_shop');
  const shop = await createMerchantShop({
    database,
    merchant,
    merchantToken: secrets.merchantShopToken,
    till: { merchantName: demoParties.merchant.displayName, city: 'Skopje' },
    logger: layout.logger,
    backgroundIntervalMs: layout.backgroundIntervalMs,
    tls: context.tls?.server('shop'),
    instanceName: 'shop',
  });
  const url = await shop.listen(layout.ports.merchantShop, '127.0.0.1');
  return {
    url,
    async close() {
      await shop.close();
      await database.close();
    },
  };
}

/** Starts one service of the platform in this process; resolves once it listens. */
export async function startPlatformService(
  name: PlatformProcessName,
  layout: PlatformProcessLayout,
): Promise<Running> {
  const { loadPlatformSecrets } = await import('./secrets.ts');
  const { openDatabase } = await import('@mpay/storage');
  const { parseVerifierKey } = await import('@mpay/merkle');
  const secrets = await loadPlatformSecrets(layout.dataDir);
  const logKeys = await loadLogKeys(layout.dataDir);
  const tlsService: PlatformTlsService = name === 'merchant_shop' ? 'shop' : name;
  const tls =
    layout.tls === true
      ? await (await import('./tls.ts')).loadPlatformTls(layout.dataDir, [tlsService])
      : undefined;
  const context: ServiceContext = {
    layout,
    secrets,
    logKeys,
    tls,
    origin: (await parseVerifierKey(logKeys.log.verifierKey)).name,
    open: (schema) =>
      openDatabase({
        url: layout.databaseUrl,
        dataDir: layout.dataDir,
        schema: `${layout.schemaPrefix}${schema}`,
      }),
  };
  // Inside its TLS scope, the service's calls (and its timers' and requests') present its certificate;
  // without TLS they go through the plain client's agent (./plain-client.ts).
  if (tls === undefined) {
    const plain = (await import('./plain-client.ts')).startPlainPlatformClient();
    const running = await plain
      .scope(() => startNamed(name, context))
      .catch(async (error: unknown) => {
        await plain.close();
        throw error;
      });
    return {
      ...running,
      close: async () => {
        await running.close();
        await plain.close();
      },
    };
  }
  const running = await tls.scope(tlsService, () => startNamed(name, context));
  return { ...running, tls };
}

function startNamed(name: PlatformProcessName, context: ServiceContext): Promise<Running> {
  switch (name) {
    case 'witness':
      return startWitness(context);
    case 'log':
      return startLog(context);
    case 'xbank':
    case 'ybank':
      return startBank(context, name);
    case 'custody':
      return startCustody(context);
    case 'gateway':
      return startGateway(context);
    case 'merchant_shop':
      return startMerchantShop(context);
  }
}

/**
 * The body of a service process (processes-main.ts, forked by the
 * supervisor with an IPC channel): starts the service, says so, and runs
 * until SIGTERM (closes cleanly) or until the supervisor goes away; SIGINT is the supervisor's.
 */
export async function runPlatformService(name: string, layoutJson: string | undefined): Promise<number> {
  if (!isPlatformProcessName(name))
    throw new Error(`the service must be one of ${platformProcessNames.join(', ')}, not ${name}`);
  if (layoutJson === undefined || process.send === undefined)
    throw new Error(
      `a service process is started by the supervisor of mpay up --processes (no ${platformProcessLayoutVariable})`,
    );
  const layout = JSON.parse(layoutJson) as PlatformProcessLayout;
  // Without a supervisor nobody would stop this process: leave with it.
  process.once('disconnect', () => process.exit(1));
  // Ctrl-C in a terminal reaches the whole process group: the supervisor decides, and stops this one with SIGTERM.
  process.on('SIGINT', () => undefined);
  // A reload signal while it starts (a terminal's SIGHUP reaches the whole group) must not end it: the
  // supervisor sends the reload again once this process is ready (ProcessPlatform.reloadTls).
  const releaseHangups = (await import('./tls.ts')).holdHangups();
  const running = await startPlatformService(name, layout);
  // The gateway: its limits again when the supervisor asks (ProcessPlatform.reloadGatewayLimits).
  const reloadGatewayLimits = running.reloadGatewayLimits;
  const onLimitsRequest =
    reloadGatewayLimits === undefined
      ? undefined
      : (message: unknown) => {
          if ((message as Partial<GatewayLimitsReloadRequest>).type !== 'gateway-limits-reload') return;
          const answer = (line: string, refused: boolean) => {
            process.stderr.write(`mpay ${name}: ${line}\n`);
            const reply: GatewayLimitsReloadAnswer = { type: 'gateway-limits-reloaded', line, refused };
            if (process.connected) process.send?.(reply);
          };
          reloadGatewayLimits().then(
            (line) => answer(line, false),
            async (error: unknown) =>
              answer((await import('./gateway-limits-file.ts')).describeGatewayLimitsRefusal(error), true),
          );
        };
  if (onLimitsRequest !== undefined) process.on('message', onLimitsRequest);
  // SIGUSR2 or SIGHUP (the supervisor passes its own on): this service's certificate again from <data>/pki.
  const stopReloading =
    running.tls === undefined
      ? undefined
      : (await import('./tls.ts')).reloadTlsOnSignal(running.tls, (line) => {
          process.stderr.write(`mpay ${name}: ${line}\n`);
          const message: TlsReloadMessage = { type: 'tls-reload', service: name, line };
          if (process.connected) process.send?.(message);
        });
  const stopCounting =
    layout.benchCounting === true
      ? (await import('../commands/bench/e2e-server-counting.ts')).answerBenchRequests()
      : undefined;
  const ready: ServiceReadyMessage = { type: 'ready', service: name, url: running.url };
  process.send(ready);
  await new Promise<void>((done) => process.once('SIGTERM', done));
  stopCounting?.();
  stopReloading?.();
  if (onLimitsRequest !== undefined) process.off('message', onLimitsRequest);
  await running.close();
  releaseHangups();
  return 0;
}
