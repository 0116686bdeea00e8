import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processExitDeadlineMs, serviceStartDeadlineMs, waitFor } from '../../../test/support/deadlines.ts';
import { surviveOutputErrors } from './output-guard.ts';

/** A stream whose every write fails as a dead terminal's does. */
function deadTerminal(): Writable & { writes: number } {
  const stream = new Writable({
    write(_chunk, _encoding, done) {
      stream.writes += 1;
      done(Object.assign(new Error('write EIO'), { code: 'EIO' }));
    },
  }) as Writable & { writes: number };
  stream.writes = 0;
  return stream;
}

describe("mpay up's output when its terminal goes away", () => {
  it('stops writing to a stream that failed, writes on to the other, and throws nothing', async () => {
    const stdout = deadTerminal();
    const stderrLines: string[] = [];
    const stderr = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stderrLines.push(chunk.toString());
        done();
      },
    });
    const guard = surviveOutputErrors(
      { stdout: (text) => stdout.write(text), stderr: (text) => stderr.write(text) },
      { stdout, stderr },
    );
    try {
      guard.io.stdout('first line\n');
      // The failed stream closes (events.once would reject on its 'error': the guard's to handle).
      await new Promise((done) => stdout.on('close', done));
      expect(guard.broken('stdout')).toBe(true);
      expect(guard.broken('stderr')).toBe(false);
      guard.io.stdout('dropped\n');
      expect(stdout.writes).toBe(1);
      guard.io.stderr('still written\n');
      expect(stderrLines).toEqual(['still written\n']);
      // A write that throws is its stream's failure too.
      const throwing = surviveOutputErrors(
        {
          stdout: () => {
            throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
          },
          stderr: () => undefined,
        },
        { stdout: new Writable(), stderr: new Writable() },
      );
      throwing.io.stdout('x');
      expect(throwing.broken('stdout')).toBe(true);
      throwing.release();
    } finally {
      guard.release();
    }
    expect(stdout.listenerCount('error')).toBe(0);
  });
});

const here = fileURLToPath(new URL('.', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('a TLS mpay up process and its signals', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpay-output-guard-'));
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps running when its stdout breaks (EPIPE), and reloads on SIGUSR2 and on SIGHUP', async () => {
    // A stand-in for `mpay up` on TLS: the guard and the reload signals as runUp sets them, a report line
    // now and then on stdout (the terminal), what it sees on stderr (another terminal, still there).
    const script = join(dir, 'up-like.mts');
    await writeFile(
      script,
      [
        `import { surviveOutputErrors } from ${JSON.stringify(pathToFileURL(join(here, 'output-guard.ts')).href)};`,
        `import { onTlsReloadSignal } from ${JSON.stringify(pathToFileURL(join(here, 'tls.ts')).href)};`,
        'const output = surviveOutputErrors({',
        '  stdout: (text) => process.stdout.write(text),',
        '  stderr: (text) => process.stderr.write(text),',
        '});',
        "onTlsReloadSignal((signal) => output.io.stderr('reload ' + signal + '\\n'));",
        'let told = false;',
        'setInterval(() => {',
        "  output.io.stdout('report line\\n');",
        '  if (output.broken("stdout") && !told) {',
        '    told = true;',
        "    output.io.stderr('stdout broken, running on\\n');",
        '  }',
        '}, 10);',
        "output.io.stderr('ready\\n');",
        '',
      ].join('\n'),
    );
    const running = spawn(process.execPath, ['--import', tsxLoader, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = running;
    let errors = '';
    running.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const saw = (what: string) =>
      waitFor(async () => (errors.includes(what) ? true : running.exitCode === null ? undefined : false), {
        deadlineMs: serviceStartDeadlineMs,
        what: `the stand-in to print ${what}`,
        detail: () => errors,
      });
    expect(await saw('ready')).toBe(true);
    // The terminal goes away: the reading end of its stdout closes, its next write fails with EPIPE.
    running.stdout?.destroy();
    expect(await saw('stdout broken, running on')).toBe(true);
    running.kill('SIGUSR2');
    expect(await saw('reload SIGUSR2')).toBe(true);
    running.kill('SIGHUP');
    expect(await saw('reload SIGHUP')).toBe(true);
    expect(running.exitCode).toBeNull();
    expect(running.signalCode).toBeNull();
    expect(errors).not.toMatch(/EPIPE|Error/);
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    const [, signal] = (await waitFor(
      async () => (running.exitCode !== null || running.signalCode !== null ? exited : undefined),
      { deadlineMs: processExitDeadlineMs, what: 'the stand-in to exit on SIGTERM' },
    )) as [number | null, string | null];
    expect(signal).toBe('SIGTERM');
  });
});
