import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

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

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/bank/src/main.ts', this.configPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    for (let attempt = 0; attempt < 300; attempt += 1) {
      if (child.exitCode !== null) throw new Error(`bank ${this.name} exited: ${this.output}`);
      const healthy = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(500) })
        .then((response) => response.ok)
        .catch(() => false);
      if (healthy) return;
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error(`bank ${this.name} did not start: ${this.output}`);
  }

  /** SIGKILL: no shutdown hook runs, open transactions are cut wherever they are. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5_000))]);
    if (child.exitCode === null) await this.kill();
  }

  get log(): string {
    return this.output;
  }
}
