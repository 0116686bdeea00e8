import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformSchemas } from '@mpay/cli';
import { restartablePorts } from '@mpay/http-server/test-support';
import { dropPostgresSchema } from '@mpay/storage';
import pg from 'pg';
import { trustDeploymentCa } from '../../cli/src/platform/tls.ts';
import {
  platformStartDeadlineMs,
  processExitDeadlineMs,
  requestDeadlineMs,
  waitFor,
  within,
} from '../support/deadlines.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mpayBin = 'cli/bin/mpay.js';

/** The ports of `mpay up`, as its environment variables name them. */
export interface PlatformPorts {
  readonly MPAY_GATEWAY_PORT: number;
  readonly MPAY_XBANK_PORT: number;
  readonly MPAY_SHOP_PORT: number;
  readonly MPAY_YBANK_PORT: number;
  readonly MPAY_LOG_PORT: number;
  readonly MPAY_WITNESS_PORT: number;
  readonly MPAY_CUSTODY_PORT: number;
  readonly MPAY_MAIL_PORT: number;
  readonly MPAY_SMS_PORT: number;
  readonly MPAY_WEB_PORT: number;
}

/**
 * Distinct free ports on loopback, one per service `mpay up` listens on, that no outgoing
 * connection takes between restarts (restartablePorts): none of them is a default port a
 * platform already running on this machine could hold.
 */
export async function freePlatformPorts(): Promise<PlatformPorts> {
  const ports = await restartablePorts(10);
  const [gateway, xbank, shop, ybank, log, witness, custody, mail, sms, web] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    MPAY_GATEWAY_PORT: gateway,
    MPAY_XBANK_PORT: xbank,
    MPAY_SHOP_PORT: shop,
    MPAY_YBANK_PORT: ybank,
    MPAY_LOG_PORT: log,
    MPAY_WITNESS_PORT: witness,
    MPAY_CUSTODY_PORT: custody,
    MPAY_MAIL_PORT: mail,
    MPAY_SMS_PORT: sms,
    MPAY_WEB_PORT: web,
  };
}

interface Gate {
  promise: Promise<void>;
  open(): void;
  fail(error: unknown): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<void>((done, failed) => {
    open = done;
    fail = failed;
  });
  // Waiters see the failure; nobody waiting is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, open, fail };
}

/**
 * `mpay up` (every service of the platform in one operating-system process) as a child of the test,
 * on a fixed data folder and fixed ports, so that it can be killed with SIGKILL at any instant and
 * started again on the same data. `whenUp()` tells the clients when they may talk to it again.
 */
export class PlatformProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private gate: Gate = gate();
  private up = false;
  /** How many times the platform became ready. */
  starts = 0;

  constructor(
    readonly dataDir: string,
    readonly ports: PlatformPorts,
    /** The PostgreSQL database the platform uses; undefined: the embedded PGlite in the data folder. */
    private readonly databaseUrl: string | undefined,
  ) {}

  /** `mpay up` runs TLS (its default): the gateway's https URL, under the CA it made in <data>/pki. */
  get gatewayUrl(): string {
    return `https://127.0.0.1:${this.ports.MPAY_GATEWAY_PORT}`;
  }

  /** The environment of `mpay up` and of the other commands (`mpay audit`) on this platform. */
  get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    delete env.MPAY_DATA_DIR;
    for (const [name, port] of Object.entries(this.ports)) env[name] = String(port);
    if (this.databaseUrl !== undefined) env.DATABASE_URL = this.databaseUrl;
    return env;
  }

  /** Resolves while the platform is up, or once the start under way (or the next one) is ready; fails if a start failed. */
  whenUp(): Promise<void> {
    return this.gate.promise;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Grows at every start: a client that saw it change knows the platform came back (PlatformAvailability). */
  get generation(): number {
    return this.starts;
  }

  /**
   * Spawns `mpay up` and resolves once it is ready: it printed its ready line ("Ctrl-C stops.") and
   * the gateway answers /health. Fails at once if the process exits or reports an error.
   */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [mpayBin, 'up', '--data', this.dataDir], {
      cwd: repoRoot,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const startedAt = this.output.length;
    let errors = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
      errors += chunk.toString();
    });
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`mpay up exited (${child.exitCode ?? child.signalCode}):\n${this.log}`);
          // A failed start is reported as `mpay: …` on stderr; the process may linger after it.
          if (/^mpay: /m.test(errors)) throw new Error(`mpay up failed to start:\n${this.log}`);
          if (!this.output.slice(startedAt).includes('Ctrl-C stops.')) return false;
          // The CA exists once mpay up is ready; this process (its SDK, the driver) trusts it from then on.
          await trustDeploymentCa(join(this.dataDir, 'pki', 'ca.cert.pem'));
          return fetch(`${this.gatewayUrl}/health`, { signal: AbortSignal.timeout(requestDeadlineMs) })
            .then((response) => response.ok)
            .catch(() => false);
        },
        {
          deadlineMs: platformStartDeadlineMs,
          what: `mpay up (start ${this.starts + 1}) to print its ready line and answer ${this.gatewayUrl}/health`,
          intervalMs: 100,
          detail: () => this.log,
        },
      );
    } catch (error) {
      await this.kill();
      this.gate.fail(error);
      throw error;
    }
    this.starts += 1;
    this.up = true;
    this.gate.open();
  }

  /** SIGKILL: no shutdown hook runs; every service's transactions and connections are cut wherever they are. */
  async kill(): Promise<void> {
    if (this.up) {
      this.up = false;
      this.gate = gate();
    }
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (mpay up closes its services), SIGKILL if it has not exited within the named deadline. */
  async stop(): Promise<void> {
    const child = this.child;
    this.up = false;
    this.gate = gate();
    this.gate.fail(new Error('the platform was stopped'));
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await within(exited, { deadlineMs: processExitDeadlineMs, what: 'mpay up to exit' }).catch(
      () => undefined,
    );
    if (child.exitCode === null && child.signalCode === null) {
      const killed = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      await killed;
    }
  }

  /** Sends `signal` to the running `mpay up`; resolves once it printed `line` after that (a named deadline). */
  async signalAndAwait(signal: NodeJS.Signals, line: string): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null)
      throw new Error(`mpay up is not running: cannot send ${signal}`);
    const from = this.output.length;
    child.kill(signal);
    await waitFor(() => this.output.slice(from).includes(line), {
      deadlineMs: requestDeadlineMs,
      what: `mpay up to print "${line}" after ${signal}`,
      detail: () => this.log,
    });
  }

  /** The last part of everything the platform printed, over all its starts. */
  get log(): string {
    return this.output.length > 8_000 ? `…${this.output.slice(-8_000)}` : this.output;
  }
}

/** `mpay ARGS` started as a child of a test, in the repository, its output kept as it comes. */
export interface MpayChild {
  readonly child: ChildProcess;
  /** Its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Both, in the order they came. */
  output(): string;
  /**
   * Ctrl-C (SIGINT, on which mpay's commands stop what they started), then SIGKILL should it not
   * have exited within `deadlineMs` (its services exit once their IPC channel closes). At once when
   * it has exited already.
   */
  interrupt(deadlineMs: number): Promise<void>;
  /**
   * Sends `signal` and gives the exit code (null: the signal ended it). Past `deadlineMs` it is
   * killed (SIGKILL) and the wait fails, naming what was awaited, with the command's output.
   */
  stopWith(signal: NodeJS.Signals, deadlineMs: number): Promise<number | null>;
}

export function startMpay(args: readonly string[], env: NodeJS.ProcessEnv = process.env): MpayChild {
  const child = spawn(process.execPath, [mpayBin, ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    interrupt: async (deadlineMs) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await within(exited, { deadlineMs, what: `mpay ${args.join(' ')} to exit on SIGINT` }).catch(() => {
        child.kill('SIGKILL');
        return exited;
      });
    },
    stopWith: async (signal, deadlineMs) => {
      child.kill(signal);
      return within(exited, {
        deadlineMs,
        what: `mpay ${args.join(' ')} to exit on ${signal}`,
        detail: () => output,
      }).catch((error: unknown) => {
        child.kill('SIGKILL');
        throw error;
      });
    },
  };
}

/** Runs `mpay ARGS` to the end; its exit code and output. */
export async function runMpay(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  deadlineMs: number,
): Promise<{ code: number | null; output: string }> {
  const mpay = startMpay(args, env);
  try {
    const code = await within(mpay.exited, { deadlineMs, what: `mpay ${args.join(' ')} to finish` });
    return { code, output: mpay.output() };
  } catch (error) {
    mpay.child.kill('SIGKILL');
    throw error;
  }
}

/**
 * Where the platform keeps its data on PostgreSQL. `mpay up` has no schema prefix: it always uses the
 * schemas of `platformSchemas` (gateway, xbank, ybank, log, log_witness). So that a run can never
 * meet another test's or a developer's tables, it gets a database of its own on the server of
 * DATABASE_URL, dropped at the end. Where the role may not create databases, it falls back to those
 * unprefixed schemas in DATABASE_URL's own database, dropped before and after the run (no other
 * test uses unprefixed platform schemas: they all pass a unique schemaPrefix to startPlatform).
 */
export interface PlatformDatabase {
  /** The DATABASE_URL for `mpay up`. */
  readonly url: string;
  /** What was chosen, for the test's summary. */
  readonly description: string;
  drop(): Promise<void>;
}

export async function platformDatabase(serverUrl: string): Promise<PlatformDatabase> {
  const name = `mpay_crash_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    await admin.end();
    const dropSchemas = async () => {
      for (const schema of platformSchemas) await dropPostgresSchema(serverUrl, schema);
    };
    await dropSchemas();
    return {
      url: serverUrl,
      description: `unprefixed platform schemas in DATABASE_URL's database (no CREATEDB)`,
      drop: dropSchemas,
    };
  }
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    description: `database ${name} of its own`,
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
