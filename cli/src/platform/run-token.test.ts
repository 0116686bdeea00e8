import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processExitDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { runTokenOwnerGone, thisProcessAsOwner } from './run-token.ts';

/** The pid of a process that has run and ended (a pid the kernel has not given out again, most likely). */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('assertion failed: the child started');
  await within(new Promise((done) => child.once('exit', done)), {
    deadlineMs: processExitDeadlineMs,
    what: 'a node that does nothing to exit',
  });
  return pid;
}

describe('run tokens: whose run is over', () => {
  it('this process runs; an ended one does not; a pid reused by another process is not the owner', async () => {
    const owner = thisProcessAsOwner();
    expect(owner.pid).toBe(process.pid);
    expect(owner.startTicks).toMatch(/^[0-9]+$/);
    expect(runTokenOwnerGone(owner)).toBe(false);
    expect(runTokenOwnerGone({ ...owner, pid: await endedPid() })).toBe(true);
    // This pid, but a process that started at another time: the pid was given out again.
    expect(runTokenOwnerGone({ ...owner, startTicks: `${Number(owner.startTicks) + 1}` })).toBe(true);
  });

  it('leaves alone a token made on another machine, or before this boot: a pid means nothing there', async () => {
    const owner = thisProcessAsOwner();
    const pid = await endedPid();
    expect(runTokenOwnerGone({ ...owner, pid, host: 'another-host 0000' })).toBe(false);
    expect(runTokenOwnerGone({ ...owner, pid, host: `${owner.host.split(' ')[0]} another-boot` })).toBe(
      false,
    );
  });
});
