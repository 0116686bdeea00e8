/**
 * The platform with every service in an operating-system process of its own
 * (`mpay up --processes`, `mpay chaos`): a supervisor keeps the keys, the
 * mail and the SMS gateway, forks one child per service (witness, log, the
 * banks, custody, gateway, merchant shop) on the data folder, ports and keys
 * `mpay up` uses, knows when each child is ready (the child says so), and can
 * SIGKILL one child and start it again on the same data.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { releaseRestartablePorts, restartablePorts } from '@mpay/http-server';
import { parseVerifierKey } from '@mpay/merkle';
import type {
  BenchServiceAnswer,
  BenchServiceMessage,
  BenchServiceRequest,
} from '../commands/bench/e2e-server-counting.ts';
import type { Deployment } from '../commands/deployment.ts';
import { bankIds } from './banks.ts';
import { readGatewayLimitsFile } from './gateway-limits-file.ts';
import { type PlatformMail, type SmtpRelay, startPlatformMail } from './mail.ts';
import {
  type GatewayLimitsReloadAnswer,
  type GatewayLimitsReloadRequest,
  loadLogKeys,
  loopbackUrl,
  type PlatformPortMap,
  type PlatformProcessLayout,
  type PlatformProcessName,
  platformProcessLayoutVariable,
  platformProcessNames,
  type ServiceReadyMessage,
  type TlsReloadMessage,
} from './processes-service.ts';
import { type DemoCredentials, seedDemo } from './seed.ts';
import { type PlatformSms, type SmsRelay, startPlatformSms } from './sms.ts';
import { loadPlatformSecrets, type PlatformSecrets, platformSchemas } from './start.ts';
import { loadPlatformTls, type PlatformTls, processStartTicks, type TlsReloadChange } from './tls.ts';

/** The entry of a service process, and tsx's loader (absolute, so that any working directory will do). */
const serviceMain = fileURLToPath(new URL('./processes-main.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Most output kept per service process, for the report of a failed start. */
const outputCharsMax = 16_000;

export interface ProcessPlatformLimits {
  /** One service process to say it is ready (a busy machine takes minutes). */
  readonly serviceStartDeadlineMs: number;
  /** A service told to stop (SIGTERM) to exit before it is killed. */
  readonly serviceExitDeadlineMs: number;
}

export const defaultProcessPlatformLimits: ProcessPlatformLimits = Object.freeze({
  serviceStartDeadlineMs: 8 * 60_000,
  serviceExitDeadlineMs: 30_000,
});

export function createProcessPlatformLimits(
  options: Partial<ProcessPlatformLimits> = {},
): ProcessPlatformLimits {
  const limits = { ...defaultProcessPlatformLimits, ...options };
  for (const [name, value] of Object.entries(limits))
    if (!Number.isInteger(value) || value < 1_000 || value > 60 * 60_000)
      throw new Error(`process platform limits: ${name} must be a whole number of ms in 1000..3600000`);
  return Object.freeze(limits);
}

export interface ProcessPlatformOptions {
  readonly dataDir: string;
  /** PostgreSQL: every service in its own schema there (with the prefix); absent: PGlite in the data folder. */
  readonly databaseUrl?: string | undefined;
  readonly schemaPrefix?: string | undefined;
  /** Fixed ports; 0 or absent: a free port below the ephemeral range, so that a restart finds it free. */
  readonly ports?: Partial<PlatformPortMap> | undefined;
  readonly smtpRelay?: SmtpRelay | undefined;
  readonly smsRelay?: SmsRelay | undefined;
  readonly logger?: boolean | { level: string } | undefined;
  readonly backgroundIntervalMs?: number | undefined;
  readonly limits?: Partial<ProcessPlatformLimits> | undefined;
  /** Each line a service process prints, with its name (verbose); absent: kept for failure reports only. */
  readonly onOutput?: ((service: PlatformProcessName, line: string) => void) | undefined;
  /** A service process that exited without being told to (a crash of its own). */
  readonly onUnexpectedExit?: ((service: PlatformProcessName, how: string) => void) | undefined;
  /** What the gateway process says of its limits' reload (`reloadGatewayLimits`): one line, and whether refused. */
  readonly onGatewayLimitsReload?: ((line: string, refused: boolean) => void) | undefined;
  /** What a service process says of its TLS reload (`reloadTls`): one line per reload, or its refusal. */
  readonly onTlsReload?: ((service: PlatformProcessName, line: string) => void) | undefined;
  /**
   * TLS as `mpay up` runs it (./tls.ts): the supervisor makes or renews
   * `<dataDir>/pki` before forking, every service listens HTTPS with its
   * certificate and calls the others with it, this process trusts the CA.
   * Absent or false: plain HTTP (`mpay chaos`).
   */
  readonly tls?: boolean | undefined;
  /** `mpay bench e2e --processes`: every service process answers `askService` (PlatformProcessLayout). */
  readonly benchCounting?: boolean | undefined;
}

/** A service process to answer one of the bench's requests (the crypto mix replayed takes seconds). */
const benchAnswerDeadlineMs = 5 * 60_000;

/** The signal the supervisor passes a TLS reload on with (a service process takes SIGHUP alike). */
const childReloadSignal = 'SIGUSR2';

/** What the supervisor says of a service process that was starting when a reload was asked for. */
export const deferredReloadLine = 'still starting: its certificate is reloaded once it is ready';

/** What `requestChildReload` and `childBecameReady` need of a service process. */
export interface ReloadableChild {
  readonly process: Pick<ChildProcess, 'kill' | 'exitCode' | 'signalCode'> | undefined;
  readonly ready: boolean;
  /** A reload was asked for while this process was starting: sent once it is ready. */
  reloadPending: boolean;
}

function isRunning(child: ReloadableChild): boolean {
  const running = child.process;
  return running !== undefined && running.exitCode === null && running.signalCode === null;
}

/**
 * A reload for one service process: signalled now when it is ready (it
 * listens then); remembered when it is still starting, since it may have
 * read its files before they changed (`childBecameReady` sends it); nothing
 * for one that is down (its next start reads the files as they are then).
 */
export function requestChildReload(child: ReloadableChild): 'signalled' | 'deferred' | 'down' {
  if (!isRunning(child)) return 'down';
  if (!child.ready) {
    child.reloadPending = true;
    return 'deferred';
  }
  child.process?.kill(childReloadSignal);
  return 'signalled';
}

/** Once a service process is ready: the reload asked for while it started, if one was. */
export function childBecameReady(child: ReloadableChild): boolean {
  if (!child.reloadPending) return false;
  child.reloadPending = false;
  if (!child.ready || !isRunning(child)) return false;
  child.process?.kill(childReloadSignal);
  return true;
}

interface Child extends ReloadableChild {
  readonly name: PlatformProcessName;
  process: ChildProcess | undefined;
  ready: boolean;
  /** Set while the supervisor itself stops or kills the child. */
  stopping: boolean;
  output: string;
  starts: number;
}

/** A gate the clients wait at while a service is down. */
interface Gate {
  readonly promise: Promise<void>;
  open(): void;
  fail(error: Error): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((done, failed) => {
    open = done;
    fail = failed;
  });
  // Waiters see the failure; nobody waiting is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, open, fail };
}

async function choosePorts(
  given: Partial<PlatformPortMap> | undefined,
): Promise<{ readonly ports: PlatformPortMap; readonly drawn: readonly number[] }> {
  const names = [
    'gateway',
    'xbank',
    'ybank',
    'merchantShop',
    'log',
    'witness',
    'custody',
    'mail',
    'sms',
  ] as const;
  const drawn = await restartablePorts(names.filter((name) => !given?.[name]).length);
  const free = [...drawn];
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = given?.[name] || free.shift()!;
  return { ports: ports as unknown as PlatformPortMap, drawn };
}

/**
 * The SMTP of the layout every service process gets: the operator's relay
 * as MPAY_SMTP_* give it (secure, trust anchors) but its credentials, which
 * reach the gateway alone (`serviceProcessSpawn`); else the supervisor's
 * embedded server (`deploymentTls`: it speaks implicit TLS with the deployment's certificate).
 */
export function smtpLayoutOf(
  relay: SmtpRelay | undefined,
  embedded: { readonly host: string; readonly port: number },
  deploymentTls: boolean,
): PlatformProcessLayout['smtp'] {
  if (relay === undefined) return { ...embedded, ...(deploymentTls ? { deploymentTls: true } : {}) };
  return {
    host: relay.host,
    port: relay.port,
    ...(relay.secure === undefined ? {} : { secure: relay.secure }),
    ...(relay.ca === undefined ? {} : { ca: relay.ca }),
  };
}

/** The variables of the operator's SMTP credentials, read by this process only (smtpRelayFromEnv). */
const smtpCredentialVariables = ['MPAY_SMTP_USER', 'MPAY_SMTP_PASS'] as const;

/**
 * How a service process is forked: its command line (`args` after the
 * entry: the service's name, nothing secret, as /proc/<pid>/cmdline shows it
 * to every user) and its environment (`env`: this process's, with the layout
 * in MPAY_PLATFORM_PROCESS). The gateway's layout carries the operator's
 * SMTP relay whole, credentials included; no other service gets them, and
 * MPAY_SMTP_USER/PASS are taken out of every child's environment.
 */
export function serviceProcessSpawn(
  name: PlatformProcessName,
  layout: PlatformProcessLayout,
  smtpRelay: SmtpRelay | undefined,
  baseEnv: NodeJS.ProcessEnv,
): { readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv } {
  const auth = name === 'gateway' ? smtpRelay?.auth : undefined;
  const own: PlatformProcessLayout =
    auth === undefined
      ? layout
      : { ...layout, smtp: { ...layout.smtp, auth: { user: auth.user, pass: auth.pass } } };
  const env: NodeJS.ProcessEnv = { ...baseEnv, [platformProcessLayoutVariable]: JSON.stringify(own) };
  for (const variable of smtpCredentialVariables) delete env[variable];
  return { args: [name], env };
}

/** What ProcessPlatform.start has read and drawn before it starts anything. */
interface StartInputs {
  readonly limits: ProcessPlatformLimits;
  readonly secrets: PlatformSecrets;
  readonly origin: string;
  readonly ports: PlatformPortMap;
  readonly drawn: readonly number[];
}

/**
 * The platform's services in their own processes. Start with
 * `ProcessPlatform.start`; `kill` and `restart` one service; `close` stops all.
 */
export class ProcessPlatform {
  private readonly children = new Map<PlatformProcessName, Child>();
  private allUp: Gate = gate();
  private closed = false;
  /** Each service whose last start failed, and why: until it starts again, `whenUp` fails at once. */
  private readonly failedStarts = new Map<PlatformProcessName, Error>();
  /** Processes the supervisor itself killed or stopped: one that ends before it was ready has not failed. */
  private readonly stoppedHere = new WeakSet<ChildProcess>();
  /** Each service's restart under way: a restart waits for the one before it (never two processes at once). */
  private readonly restarts = new Map<PlatformProcessName, Promise<void>>();
  /** The ports this start drew (restartablePorts), given back at close. */
  private drawnPorts: readonly number[] = [];
  /** Service starts, first ones included: a client that saw it change knows a service came back. */
  generation = 0;

  private constructor(
    readonly layout: PlatformProcessLayout,
    readonly secrets: PlatformSecrets,
    /** The log's origin (the name of its key). */
    readonly origin: string,
    readonly limits: ProcessPlatformLimits,
    private readonly mail: PlatformMail,
    private readonly sms: PlatformSms,
    private readonly options: ProcessPlatformOptions,
  ) {
    for (const name of platformProcessNames)
      this.children.set(name, {
        name,
        process: undefined,
        ready: false,
        reloadPending: false,
        stopping: false,
        output: '',
        starts: 0,
      });
  }

  /**
   * Creates the keys (first start), starts the mail and SMS here, then every
   * service process at once (none needs another to start: the gateway and the
   * shop ask the banks for their keys until they answer, the rest reach their
   * peers from their outboxes, as after a restart); seeds the
   * demo parties and writes <data>/deployment.json. On failure, stops
   * whatever it started.
   */
  static async start(options: ProcessPlatformOptions): Promise<ProcessPlatform> {
    const limits = createProcessPlatformLimits(options.limits);
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    if (options.databaseUrl === undefined) {
      // PGlite: the new folders made here, one initdb for all, before the service processes open them.
      const { createMissingDataFolders } = await import('@mpay/storage');
      const prefix = options.schemaPrefix ?? '';
      await createMissingDataFolders(
        options.dataDir,
        platformSchemas.map((schema) => `${prefix}${schema}`),
      );
    }
    const secrets = await loadPlatformSecrets(options.dataDir);
    // The operator's gateway limits, checked here so that a wrong file stops the start before any fork.
    await readGatewayLimitsFile(options.dataDir);
    const logKeys = await loadLogKeys(options.dataDir);
    const origin = (await parseVerifierKey(logKeys.log.verifierKey)).name;
    const { ports, drawn } = await choosePorts(options.ports);
    try {
      return await ProcessPlatform.startOn(options, { limits, secrets, origin, ports, drawn });
    } catch (error) {
      // A start that failed gives back the ports it drew (a platform built already gave them at close).
      await releaseRestartablePorts(drawn);
      throw error;
    }
  }

  /** The rest of `start`, once the ports are drawn. */
  private static async startOn(
    options: ProcessPlatformOptions,
    { limits, secrets, origin, ports, drawn }: StartInputs,
  ): Promise<ProcessPlatform> {
    const tls = options.tls === true;
    if (tls) {
      const { ensurePlatformPki } = await import('../commands/pki-platform.ts');
      await ensurePlatformPki(options.dataDir);
    }
    // The supervisor calls the services (the seed) with the CA and no certificate of its own, and serves
    // the embedded mail server (implicit TLS) and SMS gateway (HTTPS) with their certificates.
    const embeddedTls = [
      ...(options.smtpRelay === undefined ? (['smtp'] as const) : []),
      ...(options.smsRelay === undefined ? (['sms'] as const) : []),
    ];
    const supervisorTls = tls ? await loadPlatformTls(options.dataDir, embeddedTls) : undefined;
    const serverPair = (service: 'smtp' | 'sms') => {
      const server = supervisorTls?.server(service);
      // With its onReload: `reloadTls` gives these two servers their new certificates too.
      return server === undefined
        ? undefined
        : {
            key: server.key,
            cert: server.cert,
            ...(server.onReload === undefined ? {} : { onReload: server.onReload }),
          };
    };
    const smtpPair = options.smtpRelay === undefined ? serverPair('smtp') : undefined;
    const smsPair = options.smsRelay === undefined ? serverPair('sms') : undefined;
    const mail = await startPlatformMail({
      dataDir: options.dataDir,
      relay: options.smtpRelay,
      port: ports.mail,
      tls:
        smtpPair === undefined || supervisorTls === undefined
          ? undefined
          : { ...smtpPair, caPem: () => supervisorTls.caPem },
    }).catch(async (error: unknown) => {
      await supervisorTls?.close();
      throw error;
    });
    // The embedded SMS gateway's token, drawn here so that the banks' processes can send with it.
    const smsToken = randomBytes(32).toString('base64url');
    const sms = await startPlatformSms({
      dataDir: options.dataDir,
      relay: options.smsRelay,
      port: ports.sms,
      token: smsToken,
      tls:
        smsPair === undefined || supervisorTls === undefined
          ? undefined
          : { ...smsPair, fetch: supervisorTls.fetch },
    }).catch(async (error: unknown) => {
      await mail.close();
      await supervisorTls?.close();
      throw error;
    });
    // The embedded gateway's URL is https on TLS: the banks' processes call it trusting the deployment's CA.
    const smsLink = options.smsRelay ?? {
      url: sms.gateway?.url ?? loopbackUrl(ports.sms, smsPair !== undefined),
      token: smsToken,
    };
    const layout: PlatformProcessLayout = {
      dataDir: options.dataDir,
      databaseUrl: options.databaseUrl,
      schemaPrefix: options.schemaPrefix ?? '',
      ports,
      smtp: smtpLayoutOf(
        options.smtpRelay,
        { host: mail.server?.host ?? '127.0.0.1', port: mail.server?.port ?? ports.mail },
        smtpPair !== undefined,
      ),
      sms: {
        url: smsLink.url,
        token: smsLink.token,
        ...(smsPair === undefined ? {} : { deploymentTls: true }),
      },
      logger: options.logger ?? false,
      backgroundIntervalMs: options.backgroundIntervalMs ?? 250,
      tls,
      ...(options.benchCounting === true ? { benchCounting: true } : {}),
    };
    const platform = new ProcessPlatform(layout, secrets, origin, limits, mail, sms, options);
    platform.tls = supervisorTls;
    platform.drawnPorts = drawn;
    try {
      const started = await Promise.allSettled(platformProcessNames.map((name) => platform.startChild(name)));
      const failed = started.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      platform.credentials = await seedDemo({
        dataDir: options.dataDir,
        gatewayUrl: platform.urls.gateway,
        operatorToken: secrets.operatorToken,
        banks: bankIds.map((id) => ({
          id,
          url: loopbackUrl(ports[id], tls),
          operatorId: `operator.${id}`,
          operatorKey: secrets.bankSecrets.get(id)!.operator.signing.privateJwk,
        })),
        merchantKeys: secrets.merchantKeys,
        merchantShopUrl: platform.urls.merchantShop,
        custodyUrl: platform.urls.custody,
        custodyId: secrets.custodyId,
      });
      await writeFile(
        join(options.dataDir, 'deployment.json'),
        `${JSON.stringify(await platform.deploymentWithStart(), null, 2)}\n`,
      );
    } catch (error) {
      await platform.close();
      throw error;
    }
    return platform;
  }

  credentials: DemoCredentials | undefined;
  /** The supervisor's TLS client (the CA, no certificate) when the platform runs TLS. */
  tls: PlatformTls | undefined;

  get urls() {
    const { ports } = this.layout;
    const tls = this.layout.tls === true;
    return {
      gateway: loopbackUrl(ports.gateway, tls),
      merchantShop: loopbackUrl(ports.merchantShop, tls),
      log: loopbackUrl(ports.log, tls),
      witness: loopbackUrl(ports.witness, tls),
      custody: loopbackUrl(ports.custody, tls),
      xbank: loopbackUrl(ports.xbank, tls),
      ybank: loopbackUrl(ports.ybank, tls),
    };
  }

  /** `deployment()` with the start time of this pid, which `mpay pki rotate` checks before it signals it. */
  async deploymentWithStart(): Promise<Deployment> {
    const startTicks = await processStartTicks('self');
    return { ...this.deployment(), ...(startTicks === undefined ? {} : { pidStartTicks: startTicks }) };
  }

  /** What the other commands (`mpay audit`, `mpay dispute`) read from <data>/deployment.json. */
  deployment(): Deployment {
    const urls = this.urls;
    return {
      gateway: urls.gateway,
      merchantShop: urls.merchantShop,
      fspId: this.secrets.fsp.id,
      banks: bankIds.map((id) => ({ id, url: urls[id] })),
      log: { url: urls.log, witness: urls.witness, origin: this.origin },
      custody: { url: urls.custody, id: this.secrets.custodyId },
      ...(this.tls === undefined ? {} : { tls: { ca: this.tls.caPath } }),
      pid: process.pid,
    };
  }

  /** Whether every service process is ready. */
  get isUp(): boolean {
    return [...this.children.values()].every((child) => child.ready);
  }

  /**
   * Resolves once every service process is ready (at once if they are). Fails, rather than waiting
   * for ever, once the platform is closed or while a service's last start failed; a wait under way
   * then fails too.
   */
  whenUp(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the platform is closed'));
    const failed = this.failedStarts.values().next().value;
    if (failed !== undefined) return Promise.reject(failed);
    return this.isUp ? Promise.resolve() : this.allUp.promise;
  }

  /** Process id of a service's current process (undefined while it is down). */
  pidOf(name: PlatformProcessName): number | undefined {
    return this.children.get(name)?.process?.pid;
  }

  /** The last output of a service's processes, over all its starts. */
  outputOf(name: PlatformProcessName): string {
    return this.children.get(name)?.output ?? '';
  }

  /**
   * After `mpay pki rotate`: SIGUSR2 to every ready service process (each
   * reloads its own certificate and says how in a TlsReloadMessage, passed to
   * `onTlsReload`), then this process's reload (the embedded mail server and
   * SMS gateway). A service process still starting may have read the files
   * before they changed: it is told once it is ready (`onTlsReload` says so
   * now, and its own line follows then). Resolves with this process's
   * changes; rejects, changing nothing here, when a file fails the checks
   * (the children refuse alike).
   */
  async reloadTls(): Promise<readonly TlsReloadChange[]> {
    if (this.layout.tls !== true) return [];
    for (const child of this.children.values()) {
      if (requestChildReload(child) === 'deferred')
        this.options.onTlsReload?.(child.name, deferredReloadLine);
    }
    return this.tls === undefined ? [] : this.tls.reload();
  }

  /**
   * Asks the gateway process to read `<data>/gateway-limits.json` again
   * (GatewayService.reloadLimits); its answer comes to `onGatewayLimitsReload`.
   * False when the gateway is not up: it reads the file when it starts again.
   */
  reloadGatewayLimits(): boolean {
    const child = this.child('gateway');
    const running = child.process;
    if (!child.ready || running === undefined || !running.connected) return false;
    const request: GatewayLimitsReloadRequest = { type: 'gateway-limits-reload' };
    try {
      // With a callback: a channel that broke under a process just gone is an error here, not an
      // 'error' event nobody listens to (which would end the supervisor).
      running.send(request, (error) => {
        if (error)
          this.options.onGatewayLimitsReload?.(
            `gateway not reached (${error.message}): it reads the file when it starts again`,
            true,
          );
      });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One of the bench's requests to a ready service process of a platform
   * started with `benchCounting`, and its answer (e2e-server-counting.ts).
   */
  askService(name: PlatformProcessName, request: BenchServiceRequest): Promise<unknown> {
    const running = this.child(name).process;
    if (this.layout.benchCounting !== true || running === undefined || !running.connected)
      return Promise.reject(new Error(`${name} cannot answer the bench (not started for it, or down)`));
    this.benchRequests += 1;
    const id = this.benchRequests;
    return new Promise((resolve, reject) => {
      const settle = (error: Error | undefined, answer?: unknown) => {
        clearTimeout(timer);
        running.off('message', onMessage);
        running.off('exit', onExit);
        if (error === undefined) resolve(answer);
        else reject(error);
      };
      const onMessage = (message: unknown) => {
        const answer = message as Partial<BenchServiceAnswer>;
        if (answer.type !== 'bench-answer' || answer.id !== id) return;
        if (answer.error !== undefined) settle(new Error(`${name}: ${answer.error}`));
        else settle(undefined, answer.answer);
      };
      const onExit = () => settle(new Error(`${name} exited before it answered the bench`));
      const timer = setTimeout(
        () => settle(new Error(`${name} did not answer the bench within ${benchAnswerDeadlineMs / 1000} s`)),
        benchAnswerDeadlineMs,
      );
      running.on('message', onMessage);
      running.once('exit', onExit);
      const message: BenchServiceMessage = { type: 'bench', id, request };
      try {
        running.send(message, (error) => {
          if (error) settle(error);
        });
      } catch (error) {
        settle(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private benchRequests = 0;

  /** SIGKILL: no shutdown hook runs; the service's transactions and connections are cut wherever they are. */
  async kill(name: PlatformProcessName): Promise<void> {
    const child = this.child(name);
    this.markDown(child);
    const running = child.process;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    child.stopping = true;
    this.stoppedHere.add(running);
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGKILL');
    await exited;
    child.stopping = false;
  }

  /** Starts a service's process again on the same data and port; resolves once it says it is ready. */
  restart(name: PlatformProcessName): Promise<void> {
    const next = (this.restarts.get(name) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        await this.kill(name);
        await this.startChild(name);
      });
    this.restarts.set(name, next);
    return next;
  }

  /** SIGTERM to every service (last started first), SIGKILL to any that outlives the deadline; then mail and SMS. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failWaiters(new Error('the platform is closed'));
    for (const name of [...platformProcessNames].reverse()) await this.stopChild(this.child(name));
    await this.sms.close();
    await this.mail.close();
    await this.tls?.close();
    // The ports this start drew are free for other platforms again (the operator's own ones were never held).
    await releaseRestartablePorts(this.drawnPorts);
  }

  private child(name: PlatformProcessName): Child {
    const child = this.children.get(name);
    if (child === undefined) throw new Error(`assertion failed: ${name} is a service of the platform`);
    return child;
  }

  /** Fails every `whenUp` under way; later ones wait on a new gate (or fail at once, see whenUp). */
  private failWaiters(error: Error): void {
    const waiting = this.allUp;
    this.allUp = gate();
    waiting.fail(error);
  }

  private markDown(child: Child): void {
    if (this.isUp) this.allUp = gate();
    child.ready = false;
  }

  private async stopChild(child: Child): Promise<void> {
    this.markDown(child);
    const running = child.process;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    child.stopping = true;
    this.stoppedHere.add(running);
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((done) => {
      timer = setTimeout(done, this.limits.serviceExitDeadlineMs);
    });
    await Promise.race([exited, late]);
    clearTimeout(timer);
    if (running.exitCode === null && running.signalCode === null) {
      running.kill('SIGKILL');
      await exited;
    }
  }

  private async startChild(name: PlatformProcessName): Promise<void> {
    if (this.closed) throw new Error(`the platform is closed: ${name} not started`);
    const child = this.child(name);
    const { args, env } = serviceProcessSpawn(name, this.layout, this.options.smtpRelay, process.env);
    const running = fork(serviceMain, args, {
      env,
      execArgv: ['--import', tsxLoader],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.process = running;
    child.stopping = false;
    // This process reads the files as they are from now on: a reload asked for before concerns it no more.
    child.reloadPending = false;
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      child.output = (child.output + text).slice(-outputCharsMax);
      if (this.options.onOutput !== undefined)
        for (const line of text.split('\n')) if (line.trim() !== '') this.options.onOutput(name, line);
    };
    running.stdout?.on('data', keep);
    running.stderr?.on('data', keep);
    running.on('message', (message: unknown) => {
      const reload = message as Partial<TlsReloadMessage>;
      if (reload.type === 'tls-reload' && typeof reload.line === 'string')
        this.options.onTlsReload?.(name, reload.line);
      const limits = message as Partial<GatewayLimitsReloadAnswer>;
      if (limits.type === 'gateway-limits-reloaded' && typeof limits.line === 'string')
        this.options.onGatewayLimitsReload?.(limits.line, limits.refused === true);
    });
    const ready = new Promise<void>((done, fail) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (error: Error | undefined) => {
        clearTimeout(timer);
        running.off('message', onMessage);
        running.off('exit', onEarlyExit);
        if (error === undefined) done();
        else fail(error);
      };
      const onMessage = (message: unknown) => {
        const ready = message as Partial<ServiceReadyMessage>;
        if (ready.type === 'ready' && ready.service === name) settle(undefined);
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        settle(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${child.output}`));
      timer = setTimeout(
        () =>
          settle(
            new Error(
              `${name} did not say it was ready within ${this.limits.serviceStartDeadlineMs / 1000} s:\n${child.output}`,
            ),
          ),
        this.limits.serviceStartDeadlineMs,
      );
      running.on('message', onMessage);
      running.once('exit', onEarlyExit);
    });
    running.once('exit', (code, signal) => {
      if (child.process !== running) return;
      this.markDown(child);
      if (!child.stopping && !this.closed) this.options.onUnexpectedExit?.(name, String(code ?? signal));
    });
    try {
      await ready;
    } catch (error) {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((done) => running.once('exit', done));
        child.stopping = true;
        running.kill('SIGKILL');
        await exited;
      }
      // A start the supervisor cut short itself (a kill, the close) or that a newer start replaced is
      // no failure of the service: the waits go on for the start that follows.
      if (!this.stoppedHere.has(running) && child.process === running && !this.closed) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.failedStarts.set(name, failure);
        this.failWaiters(failure);
      }
      throw error;
    }
    this.failedStarts.delete(name);
    child.ready = true;
    child.starts += 1;
    this.generation += 1;
    childBecameReady(child);
    if (this.isUp) this.allUp.open();
  }
}
