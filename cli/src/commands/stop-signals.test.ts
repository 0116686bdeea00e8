import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  processExitDeadlineMs,
  serviceStartDeadlineMs,
  waitFor,
  within,
} from '../../../test/support/deadlines.ts';

const childScript = fileURLToPath(new URL('./stop-signals.child.ts', import.meta.url));

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** stdout and stderr as they arrived (their lines interleave in no fixed order). */
  output(): string;
  /** stdout alone: the order of the steps the child printed. */
  stdout(): string;
}

function start(
  cleanUp: 'quick' | 'endless',
  cleanUpMsMax: number,
  work: 'fails' | 'waits' | 'ends',
  repeatGraceMs?: number,
): Child {
  const grace = repeatGraceMs === undefined ? [] : [String(repeatGraceMs)];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', childScript, cleanUp, String(cleanUpMsMax), work, ...grace],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { process: child, exited, output: () => output, stdout: () => stdout };
}

async function ready(child: Child): Promise<void> {
  await waitFor(() => child.output().includes('ready\n'), {
    deadlineMs: serviceStartDeadlineMs,
    what: 'the child to start its work',
    detail: child.output,
  });
}

const exit = (child: Child) =>
  within(child.exited, {
    deadlineMs: processExitDeadlineMs,
    what: 'the child to exit',
    detail: child.output,
  });

/** A limit no clean-up here comes near, however busy the machine. */
const generousMs = 10 * 60_000;

describe('watchStopSignals', () => {
  it('SIGTERM: runs the clean-up steps, last added first, then exits 143; the work failing under it changes nothing', async () => {
    const child = start('quick', generousMs, 'fails');
    await ready(child);
    child.process.kill('SIGTERM');
    expect(await exit(child), child.output()).toBe(143);
    expect(child.output()).toContain('child: SIGTERM; cleaning up what it started, then exiting');
    // On stdout alone: the notice on stderr may arrive between the steps' lines.
    expect(child.stdout()).toMatch(/cleaning\ncleaned\nfirst step added, run last\n/);
    expect(child.output()).not.toContain('work ended');
  });

  it('SIGINT (Ctrl-C): the same, exit 130, while the work itself never ends', async () => {
    const child = start('quick', generousMs, 'waits');
    await ready(child);
    child.process.kill('SIGINT');
    expect(await exit(child), child.output()).toBe(130);
    // On stdout alone: the notice on stderr may arrive between the steps' lines.
    expect(child.stdout()).toMatch(/cleaning\ncleaned\nfirst step added, run last\n/);
  });

  it('one Ctrl-C that arrives twice (the process group, then npx forwarding it) is one stop: the clean-up finishes', async () => {
    const child = start('quick', generousMs, 'waits');
    await ready(child);
    child.process.kill('SIGINT');
    await new Promise((done) => setTimeout(done, 20));
    child.process.kill('SIGINT');
    expect(await exit(child), child.output()).toBe(130);
    // On stdout alone: the notice on stderr may arrive between the steps' lines.
    expect(child.stdout()).toMatch(/cleaning\ncleaned\nfirst step added, run last\n/);
    expect(child.output()).not.toContain('told to stop again');
  });

  it('a second signal past the grace exits at once, saying the clean-up was not finished', async () => {
    const graceMs = 200;
    const child = start('endless', generousMs, 'waits', graceMs);
    await ready(child);
    child.process.kill('SIGINT');
    await waitFor(() => child.output().includes('cleaning\n'), {
      deadlineMs: processExitDeadlineMs,
      what: 'the clean-up to begin',
      detail: child.output,
    });
    // At least the grace after the first: the second is a request of its own.
    await new Promise((done) => setTimeout(done, 2 * graceMs));
    child.process.kill('SIGTERM');
    // The first signal's status: the one that stopped the command.
    expect(await exit(child), child.output()).toBe(130);
    expect(child.output()).toContain(
      'child: told to stop again; exiting without finishing the clean-up (some of it may be left)',
    );
    expect(child.output()).not.toContain('first step added, run last');
  });

  it('a clean-up longer than its limit is given up, and the command exits', async () => {
    const child = start('endless', 300, 'waits');
    await ready(child);
    child.process.kill('SIGTERM');
    expect(await exit(child), child.output()).toBe(143);
    expect(child.output()).toContain('child: the clean-up took longer than 0.3 s; exiting without finishing');
  });

  it('work that ends before any signal gives its own status and runs no step', async () => {
    const child = start('quick', generousMs, 'ends');
    expect(await exit(child), child.output()).toBe(0);
    expect(child.output()).toContain('work ended: 0');
    expect(child.output()).not.toContain('cleaning');
  });
});
