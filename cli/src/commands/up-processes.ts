import { join } from 'node:path';
import {
  type CrashBudgetOptions,
  createCrashBudget,
  defaultCrashBudgetOptions,
} from '../platform/crash-budget.ts';
import { smtpRelayFromEnv } from '../platform/mail.ts';
import { deferredReloadLine, ProcessPlatform } from '../platform/processes.ts';
import type { PlatformPortMap, PlatformProcessName } from '../platform/processes-service.ts';
import { smsRelayFromEnv } from '../platform/sms.ts';
import {
  describeTlsReload,
  describeTlsReloadRefusal,
  holdHangups,
  onTlsReloadSignal,
} from '../platform/tls.ts';
import { type CommandIo, serveUntilStopSignal } from './io.ts';

/**
 * `mpay up --processes`: the platform with each service in a process of its
 * own (the same data folder, keys and ports as `mpay up`); the supervisor
 * keeps the mail and SMS, starts a service again if it dies, and stops them
 * all on Ctrl-C. A failed start again counts as one more crash; a service
 * that crashes more often than its budget allows (crash-budget.ts: by
 * default 5 restarts within 10 minutes, `--restarts` and `--restart-window`)
 * stops the platform, and the command then exits 1. The first restart within
 * the window is at once, each later one after a pause that doubles (1 s, 2 s,
 * … up to 30 s). The web pages are not served in this mode.
 */
export async function runUpProcesses(
  dataDir: string,
  ports: PlatformPortMap,
  verbose: boolean,
  io: CommandIo,
  tls = false,
  crashBudget: CrashBudgetOptions = defaultCrashBudgetOptions,
): Promise<number> {
  // A reload signal (SIGUSR2, SIGHUP) never ends the platform, not while it starts or stops either
  // (`mpay pki rotate` may send it then).
  const releaseHangups = holdHangups();
  try {
    const databaseUrl = process.env.DATABASE_URL;
    io.stdout(
      `mpay: starting each service in its own process on ${databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${dataDir}`} …\n`,
    );
    const budget = createCrashBudget(crashBudget);
    const { restartsMax, windowMs } = crashBudget;
    const within = `within ${windowMs / 60_000} minute${windowMs === 60_000 ? '' : 's'}`;
    // Restarts waiting out their pause: cancelled when the platform stops meanwhile.
    const pauses = new Set<NodeJS.Timeout>();
    let platform: ProcessPlatform | undefined;
    // Set when a service is given up on: the platform stops as on Ctrl-C, and the command fails.
    let stopping = false;
    let giveUp: (reason: string) => void = () => {};
    // No restart from now on, nor one waiting out its pause.
    const stopRestarts = () => {
      stopping = true;
      for (const pause of pauses) clearTimeout(pause);
      pauses.clear();
    };
    const givenUp = new Promise<string>((done) => {
      giveUp = (reason) => {
        stopRestarts();
        done(reason);
      };
    });
    // Services being started again: a start that fails is counted once, by its restart's failure (its
    // exit before it was ready is not counted again).
    const restarting = new Set<PlatformProcessName>();
    const crashed = (service: PlatformProcessName) => {
      if (stopping || platform === undefined) return;
      const verdict = budget.crashed(service, new Date());
      if (!verdict.restart) {
        giveUp(`${service} crashed more than ${restartsMax} times ${within}: stopping the platform`);
        return;
      }
      const pause = verdict.delayMs === 0 ? '' : ` in ${verdict.delayMs / 1000} s`;
      io.stdout(`mpay: starting ${service} again${pause} (${verdict.count} of ${restartsMax} ${within}) …\n`);
      restarting.add(service);
      const started = new Promise<void>((resolve) => {
        if (verdict.delayMs === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          pauses.delete(timer);
          resolve();
        }, verdict.delayMs);
        pauses.add(timer);
      }).then(() => {
        if (stopping || platform === undefined) throw new Error('the platform is stopping');
        return platform.restart(service);
      });
      started.then(
        () => {
          restarting.delete(service);
          io.stdout(`mpay: ${service} is up again\n`);
        },
        (error: unknown) => {
          restarting.delete(service);
          if (stopping) return;
          io.stderr(`mpay: ${service} did not start again: ${String(error)}\n`);
          crashed(service);
        },
      );
    };
    const onUnexpectedExit = (service: PlatformProcessName, how: string) => {
      io.stderr(`mpay: ${service} exited by itself (${how})\n`);
      if (!restarting.has(service)) crashed(service);
    };
    platform = await ProcessPlatform.start({
      dataDir,
      databaseUrl,
      ports,
      smtpRelay: smtpRelayFromEnv(process.env),
      smsRelay: smsRelayFromEnv(process.env),
      logger: verbose ? { level: 'info' } : false,
      onUnexpectedExit,
      tls,
      // Each service process's reload (passed on below); with --verbose its own stderr line says it already,
      // and only the supervisor's word on one still starting is printed here.
      onTlsReload: (service: string, line: string) => {
        if (!verbose || line === deferredReloadLine) io.stdout(`mpay: [${service}] ${line}\n`);
      },
      // The gateway process's reload of its limits (SIGHUP, below); with --verbose its stderr line says it.
      onGatewayLimitsReload: (line: string, refused: boolean) => {
        if (!verbose) (refused ? io.stderr : io.stdout)(`mpay: [gateway] ${line}\n`);
      },
      ...(verbose
        ? { onOutput: (service: string, line: string) => io.stdout(`[${service}] ${line}\n`) }
        : {}),
    });
    const urls = platform.urls;
    const pid = (name: PlatformProcessName) => `pid ${platform?.pidOf(name) ?? '-'}`;
    io.stdout(
      [
        `  gateway (FSP ${platform.secrets.fsp.id})   ${urls.gateway}   (${pid('gateway')})`,
        `  bank xbank (customers)       ${urls.xbank}   (${pid('xbank')})`,
        `  bank ybank (merchants)       ${urls.ybank}   (${pid('ybank')})`,
        `  merchant shop                ${urls.merchantShop}   (${pid('merchant_shop')}; token ${join(dataDir, 'keys', 'merchant-shop-token.json')})`,
        `  transaction log              ${urls.log}   (${pid('log')}, ${platform.origin})`,
        `  witness                      ${urls.witness}   (${pid('witness')})`,
        `  custody (${platform.secrets.custodyId}, HSM)  ${urls.custody}   (${pid('custody')})`,
        `  mail and sms                 in this process (${process.pid}): ${platform.layout.smtp.host}:${platform.layout.smtp.port}, ${platform.layout.sms.url}`,
        platform.tls === undefined
          ? '  TLS                          off (--no-tls or MPAY_TLS=0): plain HTTP between the services'
          : `  TLS (deployment CA)          ${platform.tls.caPath}   (mutual TLS between institutions; curl --cacert)`,
        '  web pages                    not served with --processes (use `mpay up`)',
        '',
        'Each service is its own process: `kill -9` one and this supervisor starts it again.',
        '`npx mpay audit`, `npx mpay demo`, `npx mpay dispute` work as with `mpay up`. Ctrl-C stops.',
        '',
      ].join('\n'),
    );
    // SIGUSR2 (`mpay pki rotate` and `issue` send it) or SIGHUP: passed on to every service process, each
    // reloads its certificate (one still starting once it is ready); and this process's own (the mail
    // server's and the SMS gateway's).
    // SIGHUP also: the gateway process reads <data>/gateway-limits.json again.
    const stopReloading = onTlsReloadSignal((signal) => {
      if (tls)
        platform?.reloadTls().then(
          (changes) => {
            for (const line of describeTlsReload(changes)) io.stdout(`mpay: ${line}\n`);
          },
          (error: unknown) => io.stderr(`mpay: ${describeTlsReloadRefusal(error)}\n`),
        );
      if (signal === 'SIGHUP' && platform?.reloadGatewayLimits() === false)
        io.stderr('mpay: [gateway] not up: it reads gateway-limits.json when it starts again\n');
    });
    const reason = await serveUntilStopSignal(
      io,
      async () => {
        stopRestarts();
        stopReloading();
        await platform.close();
      },
      givenUp,
    );
    if (reason === undefined) return 0;
    return 1;
  } finally {
    // Also when the start fails: the hold's listeners are not left on the process.
    releaseHangups();
  }
}
