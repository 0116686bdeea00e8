import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKeyPair } from '@mpay/envelope';
import { buildReceipt, submitMessages } from '@mpay/log-client';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backgroundWorkDeadlineMs,
  processExitDeadlineMs,
  serviceStartDeadlineMs,
  waitFor,
  within,
} from '../../../../test/support/deadlines.ts';
import { runLogCommand } from './index.ts';

const mpay = fileURLToPath(new URL('../../../bin/mpay.js', import.meta.url));
const origin = 'log.mpay.example/transactions';

interface Server {
  readonly child: ChildProcess;
  readonly lines: Map<string, string>;
  stderr: string;
}

/**
 * Starts `mpay log ...` and resolves once it is ready: it has printed the `words` lines
 * (`<word> <value>`). Fails at once if it exits first, or after the named start deadline.
 */
async function start(args: readonly string[], words: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, [mpay, 'log', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const server: Server = { child, lines: new Map(), stderr: '' };
  child.stderr?.on('data', (chunk: Buffer) => {
    server.stderr += chunk.toString('utf8');
  });
  const ready = new Promise<Server>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      for (const line of out.split('\n').slice(0, -1)) {
        const [word = '', value = ''] = line.split(' ', 2);
        server.lines.set(word, value);
      }
      if (words.every((word) => server.lines.has(word))) resolve(server);
    });
    child.once('exit', (code) => reject(new Error(`mpay log ${args[0]} exited ${code}: ${server.stderr}`)));
  });
  try {
    return await within(ready, {
      deadlineMs: serviceStartDeadlineMs,
      what: `mpay log ${args[0]} to print its ready lines (${words.join(', ')})`,
      detail: () => server.stderr,
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

async function stop(server: Server | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const what = `mpay log ${server.child.spawnargs[3]} to exit`;
  await within(exited, { deadlineMs: processExitDeadlineMs, what }).catch(() => {
    server.child.kill('SIGKILL');
    return exited;
  });
}

describe('the log and a witness as their own processes', () => {
  let dir: string;
  let witness: Server | undefined;
  let log: Server | undefined;
  let forked: Server | undefined;
  const prefix = `t_proc_${process.pid}_`;
  const files = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpay-log-processes-'));
    const io = {
      stdin: async () => '',
      stdout: () => undefined,
      stderr: () => undefined,
      readFile: (path: string) => readFile(path, 'utf8'),
    };
    expect(await runLogCommand(['keygen', origin, '--out', dir], io)).toBe(0);
    const logKey = files('log.mpay.example_transactions');
    witness = await start(
      [
        'witness',
        '--data',
        files('w'),
        '--port',
        '0',
        '--log-key',
        `${logKey}.vkey`,
        '--schema-prefix',
        prefix,
      ],
      ['witness', 'witness-key'],
    );
    await writeFile(files('witness.vkey'), `${witness.lines.get('witness-key')}\n`);
    const submitter = await generateSigningKeyPair();
    await writeFile(
      files('gateway.json'),
      JSON.stringify({ id: 'gateway', signingJwk: submitter.publicJwk }),
    );
    await writeFile(files('gateway.private.json'), JSON.stringify(submitter.privateJwk));
    const logArgs = (data: string, schemaPrefix: string) => [
      'serve',
      '--data',
      files(data),
      '--port',
      '0',
      '--skey',
      `${logKey}.skey`,
      '--submitter',
      files('gateway.json'),
      '--witness',
      witness!.lines.get('witness')!,
      '--witness-key',
      files('witness.vkey'),
      '--schema-prefix',
      schemaPrefix,
    ];
    [log, forked] = await Promise.all([
      start(logArgs('l', prefix), ['log', 'log-key']),
      start(logArgs('l2', `${prefix}f_`), ['log', 'log-key']),
    ]);
  });

  afterAll(async () => {
    await Promise.all([stop(log), stop(forked), stop(witness)]);
    const url = process.env.DATABASE_URL;
    if (url)
      for (const schema of ['log', 'log_witness', 'f_log'])
        await dropPostgresSchema(url, `${prefix}${schema}`);
    await rm(dir, { recursive: true, force: true });
  });

  it('a payment logged over HTTP yields a receipt that `mpay log verify` accepts offline', async () => {
    const key = JSON.parse(await readFile(files('gateway.private.json'), 'utf8'));
    const entry = {
      transactionId: 'pay-1',
      messages: ['eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln'],
      kind: 'payment.completed',
      metadata: { amount: '1250' },
    };
    const logged = await submitMessages(
      { url: log!.lines.get('log')!, origin },
      { id: 'gateway', key },
      entry,
    );
    const policy = {
      logVerifierKey: log!.lines.get('log-key')!,
      witnessVerifierKeys: [witness!.lines.get('witness-key')!],
      witnessesRequired: 1,
    };
    const receipt = await buildReceipt(
      log!.lines.get('log')!,
      { ...entry, index: logged.index, submitter: 'gateway' },
      policy,
      { waitMs: backgroundWorkDeadlineMs },
    );
    await writeFile(files('receipt.json'), receipt);
    const verify = spawn(process.execPath, [
      mpay,
      'log',
      'verify',
      files('receipt.json'),
      '--log-key',
      files('log.mpay.example_transactions.vkey'),
      '--witness-key',
      files('witness.vkey'),
    ]);
    let out = '';
    verify.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    expect(await new Promise((resolve) => verify.once('exit', resolve))).toBe(0);
    expect(out).toMatch(/^verified: transaction pay-1 is entry 0 of log\.mpay\.example\/transactions/);
  });

  it('a second log with the same key but other entries (a fork) is refused by the witness, which raises an alarm', async () => {
    const key = JSON.parse(await readFile(files('gateway.private.json'), 'utf8'));
    for (let i = 0; i < 3; i++) {
      const entry = {
        transactionId: `fork-${i}`,
        messages: [`eyJhbGciOiJFUzI1NiJ9.eyJmIjoke${i}fQ.c2ln`],
        kind: 'payment.completed',
      };
      await submitMessages({ url: forked!.lines.get('log')!, origin }, { id: 'gateway', key }, entry);
    }
    await waitFor(() => witness!.stderr.includes('witness alarm CHECKPOINT_FORK'), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the witness to raise the alarm CHECKPOINT_FORK',
      intervalMs: 50,
      detail: () => `witness stderr:\n${witness!.stderr}`,
    });
  });
});
