import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCatalogueJson } from '@mpay/merchant-shop';
import { MpayError } from '@mpay/protocol';
import { crashBudgetOptionsFromFlags } from '../platform/crash-budget.ts';
import { gatewaysFromFlags } from '../platform/gateway-front.ts';
import {
  describeGatewayLimitsRefusal,
  describeGatewayLimitsReload,
  gatewayLimitsFileName,
} from '../platform/gateway-limits-file.ts';
import { macroLimitsFromEnv } from '../platform/macro-limits.ts';
import { smtpRelayFromEnv } from '../platform/mail.ts';
import { surviveOutputErrors } from '../platform/output-guard.ts';
import { smsRelayFromEnv } from '../platform/sms.ts';
import { type Platform, startPlatform } from '../platform/start.ts';
import {
  describeTlsReload,
  describeTlsReloadRefusal,
  holdHangups,
  onTlsReloadSignal,
  processStartTicks,
  tlsWanted,
} from '../platform/tls.ts';
import {
  describeWebTlsReload,
  describeWebTlsReloadRefusal,
  operatorWebTlsFromEnv,
  reloadableOperatorWebTls,
} from '../platform/web-tls.ts';
import { type Deployment, dataDirOf } from './deployment.ts';
import { type CommandIo, serveUntilStopSignal } from './io.ts';
import { ensurePlatformPki } from './pki-platform.ts';

export { macroLimitsFromEnv } from '../platform/macro-limits.ts';
export { type Deployment, dataDirOf } from './deployment.ts';

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new Error(`${name} must be a port number`);
  return value;
}

/** Writes <data>/deployment.json: where the other commands find the running services. */
export async function writeDeployment(dataDir: string, platform: Platform): Promise<void> {
  const startTicks = await processStartTicks('self');
  const deployment: Deployment = {
    gateway: platform.urls.gateway,
    merchantShop: platform.urls.merchantShop,
    fspId: platform.fsp.id,
    banks: platform.banks.map((bank) => ({ id: bank.id, url: bank.url })),
    log: { url: platform.urls.log, witness: platform.urls.witness, origin: platform.log.origin },
    custody: { url: platform.urls.custody, id: platform.custody.context.custody.id },
    ...(platform.urls.web === undefined ? {} : { web: platform.urls.web }),
    ...(platform.tls === undefined ? {} : { tls: { ca: platform.tls.caPath } }),
    pid: process.pid,
    ...(startTicks === undefined ? {} : { pidStartTicks: startTicks }),
  };
  await writeFile(join(dataDir, 'deployment.json'), `${JSON.stringify(deployment, null, 2)}\n`);
}

/**
 * The services' logger with --verbose: pino's lines (fastify's `logger.stream`) written with `io.stdout`, not
 * to fd 1 directly, so that a stdout that went away (EIO) stops them instead of ending the platform.
 */
function verboseLogger(io: CommandIo): { level: string } {
  const options = { level: 'info', stream: { write: (line: string) => io.stdout(line) } };
  return options;
}

/** The ports `mpay up` listens on, as the environment names them (defaults 4100–4140). */
function portsFromEnv() {
  return {
    gateway: port('MPAY_GATEWAY_PORT', 4100),
    xbank: port('MPAY_XBANK_PORT', 4101),
    merchantShop: port('MPAY_SHOP_PORT', 4102),
    ybank: port('MPAY_YBANK_PORT', 4103),
    log: port('MPAY_LOG_PORT', 4110),
    witness: port('MPAY_WITNESS_PORT', 4111),
    custody: port('MPAY_CUSTODY_PORT', 4120),
    mail: port('MPAY_MAIL_PORT', 4130),
    sms: port('MPAY_SMS_PORT', 4131),
    web: port('MPAY_WEB_PORT', 4140),
  };
}

/**
 * `mpay up`: every service in one process on the embedded database (or DATABASE_URL);
 * `--processes`: each service in a process of its own under a supervisor.
 * Either runs on when its terminal goes away: a failed write to stdout or
 * stderr (EIO, EPIPE) stops the writes to that stream, not the platform.
 */
export async function runUp(flags: Map<string, string>, io: CommandIo): Promise<number> {
  const output = surviveOutputErrors(io);
  try {
    return await runUpGuarded(flags, output.io);
  } finally {
    output.release();
  }
}

async function runUpGuarded(flags: Map<string, string>, io: CommandIo): Promise<number> {
  if (flags.has('processes')) {
    if ((gatewaysFromFlags(flags, process.env) ?? 1) > 1)
      throw new MpayError(
        'CONFIGURATION_INVALID',
        'several gateways run in one process: leave out --processes',
      );
    const { runUpProcesses } = await import('./up-processes.ts');
    return runUpProcesses(
      dataDirOf(flags),
      portsFromEnv(),
      flags.has('verbose'),
      io,
      tlsWanted(flags, process.env),
      crashBudgetOptionsFromFlags(flags),
    );
  }
  if (flags.has('restarts') || flags.has('restart-window'))
    throw new MpayError(
      'CONFIGURATION_INVALID',
      '--restarts and --restart-window are for --processes (a supervisor restarts the service processes)',
    );
  const dataDir = dataDirOf(flags);
  const databaseUrl = process.env.DATABASE_URL;
  io.stdout(
    `mpay: starting on ${databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${dataDir}`} …\n`,
  );
  const tls = tlsWanted(flags, process.env);
  // A reload signal (SIGUSR2, SIGHUP) never ends the platform, not while it starts or stops either
  // (`mpay pki rotate` may send it then).
  const releaseHangups = holdHangups();
  try {
    // MPAY_WEB_TLS_CERT and MPAY_WEB_TLS_KEY: the pages' own (publicly trusted) certificate, checked before anything starts.
    const webTls = await operatorWebTlsFromEnv(process.env);
    // Read again on each reload signal, with the same checks.
    const reloadableWebTls = webTls === undefined ? undefined : reloadableOperatorWebTls(webTls);
    if (webTls !== undefined && !tls) {
      throw new MpayError(
        'CONFIGURATION_INVALID',
        'MPAY_WEB_TLS_CERT/KEY serve the pages over TLS: leave out --no-tls (MPAY_TLS=0), or unset them',
      );
    }
    if (tls) {
      // The deployment's CA and every service's certificate, made on first start, renewed when near expiry.
      const report = await ensurePlatformPki(dataDir);
      const issued = report.services.filter((service) => service.action !== 'kept').length;
      if (report.caCreated || issued > 0) {
        io.stdout(
          `  TLS: ${report.caCreated ? 'a new deployment CA and ' : ''}${issued} service certificate(s) in ${join(dataDir, 'pki')}\n`,
        );
      }
    }
    const platform = await startPlatform({
      dataDir,
      databaseUrl,
      ports: portsFromEnv(),
      web: true,
      progress: (line) => io.stdout(`  ${line}\n`),
      // MPAY_SMTP_HOST (and _PORT, _SECURE, _USER, _PASS): mail through that relay, not the embedded server.
      smtpRelay: smtpRelayFromEnv(process.env),
      // MPAY_SMS_URL and MPAY_SMS_TOKEN: the banks' texts through that HTTP SMS gateway, not the embedded one.
      smsRelay: smsRelayFromEnv(process.env),
      // MPAY_MACRO_T_EXP_SECONDS: the macro payment's T_EXP − T_iS (default 300 s).
      macroLimits: macroLimitsFromEnv(process.env),
      // --verbose: the services' request logs on stdout, through `io` (a terminal gone, they stop; the platform runs on).
      logger: flags.has('verbose') ? verboseLogger(io) : false,
      // --gateways N or MPAY_GATEWAYS: N gateway instances behind one front on the gateway's port (DATABASE_URL only).
      gateways: gatewaysFromFlags(flags, process.env),
      // Every port HTTPS with its service's certificate, mutual TLS between institutions (--no-tls, MPAY_TLS=0: plain HTTP).
      ...(tls ? { tls: { dataDir } } : {}),
      ...(reloadableWebTls === undefined ? {} : { webTls: reloadableWebTls.pair }),
      // MPAY_SHOP_CATALOGUE: a JSON file {"products":[{"id","name","price":{"currency","minor":"1250"}}]}.
      shopCatalogue: process.env.MPAY_SHOP_CATALOGUE
        ? parseCatalogueJson(await readFile(process.env.MPAY_SHOP_CATALOGUE, 'utf8'))
        : undefined,
    });
    await writeDeployment(dataDir, platform);
    io.stdout(
      [
        `  gateway (FSP ${platform.fsp.id})   ${platform.urls.gateway}`,
        ...(platform.gateways.length > 1
          ? [
              `    front of ${platform.gateways.length} instances    ${platform.urls.gatewayInstances.join(' ')}`,
            ]
          : []),
        `  bank xbank (customers)       ${platform.urls.xbank}`,
        `  bank ybank (merchants)       ${platform.urls.ybank}`,
        `  merchant shop (cart, orders) ${platform.urls.merchantShop}   (merchant's token: ${join(dataDir, 'keys', 'merchant-shop-token.json')})`,
        `  transaction log              ${platform.urls.log}   (${platform.log.origin})`,
        `  witness                      ${platform.urls.witness}`,
        `  custody (${platform.custody.context.custody.id}, HSM)  ${platform.urls.custody}   (iMS §5: keys in the HSM, PINs counted)`,
        platform.mail.server === undefined
          ? '  mail                         through the SMTP relay MPAY_SMTP_HOST'
          : `  mail (embedded SMTP)         ${platform.mail.server.secure ? 'smtps://' : ''}${platform.mail.server.host}:${platform.mail.server.port}   (${platform.mail.server.secure ? 'implicit TLS; ' : ''}macro client ids and mPINs; read with npx mpay mail)`,
        platform.sms.gateway === undefined
          ? '  sms                          through the HTTP SMS gateway MPAY_SMS_URL'
          : `  sms (embedded gateway)       ${platform.sms.gateway.url}   (banking login codes and renewal notices; read with npx mpay sms)`,
        platform.tls === undefined
          ? '  TLS                          off (--no-tls or MPAY_TLS=0): plain HTTP between the services'
          : `  TLS (deployment CA)          ${platform.tls.caPath}   (mutual TLS between institutions; curl --cacert)`,
        '',
        `  web pages                    ${platform.urls.web}/`,
        ...(platform.tls === undefined
          ? []
          : [
              webTls === undefined
                ? `    (the deployment's certificate: trust ${platform.tls.caPath} in the browser, or set MPAY_WEB_TLS_CERT/KEY)`
                : `    (certificate ${webTls.certPath}: ${webTls.subject}, valid to ${webTls.validTo})`,
            ]),
        `    wallet (phone)             ${platform.urls.web}/wallet/`,
        `    shop                       ${platform.urls.web}/shop/`,
        `    till                       ${platform.urls.web}/till/`,
        `    operator console           ${platform.urls.web}/console/`,
        '',
        '  demo parties:',
        `    customer  john.bernard@person.xbank  (+38970123456, PIN ${platform.credentials.customerPin})`,
        "    custody   mila.novak@person.xbank  (+38970765432, PIN 1357; her key is in custody's HSM)",
        '    merchant  merkur.trade@merchant.ybank  (paid from xbank through ybank)',
        '',
        'Run `npx mpay demo` in another terminal for a payment end to end (`--custody` for iMS §5),',
        '`npx mpay audit` to check every ledger, `npx mpay settlement` for who owes whom,',
        '`npx mpay dispute PAYMENT_ID` for the evidence of a payment. Ctrl-C stops.',
        ...(platform.tls === undefined
          ? []
          : [
              `\`npx mpay pki rotate\` reissues the certificates; this process reloads them on SIGUSR2 or SIGHUP (pid ${process.pid}).`,
            ]),
        `SIGHUP (\`kill -HUP ${process.pid}\`) also reloads ${join(dataDir, gatewayLimitsFileName)}.`,
        '',
      ].join('\n'),
    );
    // SIGUSR2 (`mpay pki rotate` and `issue` send it) or SIGHUP: every service's certificate again from
    // <data>/pki, and the operator's web certificate again from its files, no restart. SIGHUP also: the
    // gateway limits again from <data>/gateway-limits.json. Each all or nothing, independently: a refused
    // one keeps what was in use and says why.
    const platformTls = platform.tls;
    const stopReloading = onTlsReloadSignal((signal) => {
      platformTls?.reload().then(
        (changes) => {
          for (const line of describeTlsReload(changes)) io.stdout(`mpay: ${line}\n`);
        },
        (error: unknown) => io.stderr(`mpay: ${describeTlsReloadRefusal(error)}\n`),
      );
      reloadableWebTls?.reload().then(
        (change) => io.stdout(`mpay: ${describeWebTlsReload(change)}\n`),
        (error: unknown) => io.stderr(`mpay: ${describeWebTlsReloadRefusal(error)}\n`),
      );
      if (signal === 'SIGHUP')
        platform.reloadGatewayLimits().then(
          (reload) => io.stdout(`mpay: ${describeGatewayLimitsReload(reload)}\n`),
          (error: unknown) => io.stderr(`mpay: ${describeGatewayLimitsRefusal(error)}\n`),
        );
    });
    await serveUntilStopSignal(io, async () => {
      stopReloading();
      await platform.close();
    });
    return 0;
  } finally {
    // Also when the start fails: the hold's listeners are not left on the process.
    releaseHangups();
  }
}
