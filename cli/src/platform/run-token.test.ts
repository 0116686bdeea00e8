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
    // On Linux, /proc tells this pid space: a machine without it records no owner and sweeps nothing.
    if (owner === undefined) throw new Error('assertion failed: /proc tells this process apart');
    expect(owner.pid).toBe(process.pid);
    expect(owner.startTicks).toMatch(/^[0-9]+$/);
    expect(runTokenOwnerGone(owner)).toBe(false);
    expect(runTokenOwnerGone({ ...owner, pid: await endedPid() })).toBe(true);
    // This pid, but a process that started at another time: the pid was given out again.
    expect(runTokenOwnerGone({ ...owner, startTicks: `${Number(owner.startTicks) + 1}` })).toBe(true);
  });

  it('leaves alone a token made on another machine, before this boot, or in another PID namespace', async () => {
    const owner = thisProcessAsOwner();
    if (owner === undefined) throw new Error('assertion failed: /proc tells this process apart');
    const pid = await endedPid();
    const [host, boot, namespace] = owner.host.split(' ');
    expect(namespace).toMatch(/^pid:\[[0-9]+\]$/);
    expect(runTokenOwnerGone({ ...owner, pid })).toBe(true);
    expect(runTokenOwnerGone({ ...owner, pid, host: `another-host ${boot} ${namespace}` })).toBe(false);
    expect(runTokenOwnerGone({ ...owner, pid, host: `${host} another-boot ${namespace}` })).toBe(false);
    // A container or sandbox sharing /tmp and the uid: its pids are not this namespace's.
    expect(runTokenOwnerGone({ ...owner, pid, host: `${host} ${boot} pid:[1]` })).toBe(false);
  });
});
