import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restartablePort } from '@mpay/http-server/test-support';
import {
  processExitDeadlineMs,
  requestDeadlineMs,
  serviceStartDeadlineMs,
  waitFor,
  within,
} from '../support/deadlines.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A port the bank keeps across its restarts (below the ephemeral range: see restartablePorts). */
export const freePort = restartablePort;

/** A bank running as its own operating-system process (services/bank/src/main.ts), killable at any instant. */
export class BankProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly configPath: string,
  ) {}

  static async configure(folder: string, name: string, port: number, config: Record<string, unknown>) {
    const configPath = join(folder, `${name}.json`);
    await writeFile(configPath, JSON.stringify({ name, port, ...config }));
    return new BankProcess(name, `http://127.0.0.1:${port}`, configPath);
  }

  /**
   * Spawns the bank and resolves once it is ready: it printed its `bank NAME listening on URL` line
   * and its URL answers /health. Fails at once if the process exits, or after the named start deadline.
   */
  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/bank/src/main.ts', this.configPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const startedAt = this.output.length;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    const readyLine = `bank ${this.name} listening on `;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`bank ${this.name} exited (${child.exitCode ?? child.signalCode}): ${this.output}`);
        if (!this.output.slice(startedAt).includes(readyLine)) return false;
        return fetch(`${this.url}/health`, { signal: AbortSignal.timeout(requestDeadlineMs) })
          .then((response) => response.ok)
          .catch(() => false);
      },
      {
        deadlineMs: serviceStartDeadlineMs,
        what: `bank ${this.name} to print its ready line and answer ${this.url}/health`,
        detail: () => this.output,
      },
    ).catch(async (error: unknown) => {
      await this.kill();
      throw error;
    });
  }

  /** SIGKILL: no shutdown hook runs, open transactions are cut wherever they are. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await within(exited, { deadlineMs: processExitDeadlineMs, what: `bank ${this.name} to exit` }).catch(
      () => undefined,
    );
    if (child.exitCode === null && child.signalCode === null) await this.kill();
  }

  get log(): string {
    return this.output;
  }
}
