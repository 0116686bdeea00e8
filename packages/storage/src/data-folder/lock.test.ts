import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processExitDeadlineMs, serviceStartDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { openPglite } from '../pglite.ts';
import { lockDataFolder, lockPathOf } from './lock.ts';

let parent: string;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'mpay-folder-lock-'));
});

afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

async function refusal(work: Promise<unknown>): Promise<MpayError> {
  try {
    await work;
  } catch (error) {
    if (isMpayError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const lockModule = fileURLToPath(new URL('./lock.ts', import.meta.url));

/** Another process that takes the folder's lock, says so on stdout and holds it until killed. */
async function holder(folder: string): Promise<ChildProcess> {
  const script = `import { lockDataFolder } from ${JSON.stringify(lockModule)};
await lockDataFolder(${JSON.stringify(folder)});
process.stdout.write('locked\\n');
setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await within(
    new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('locked')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before locking`)));
    }),
    { deadlineMs: serviceStartDeadlineMs, what: 'the other process takes the lock' },
  );
  return child;
}

describe('one process at a time in a data folder', () => {
  it('refuses a second opening in the same process, and opens again once closed', async () => {
    const folder = join(parent, 'twice');
    const first = await openPglite({ dataDir: folder, schema: 'gateway', integrity: false });
    const second = await refusal(openPglite({ dataDir: folder, schema: 'gateway', integrity: false }));
    expect(second.code).toBe('STORAGE_UNAVAILABLE');
    expect(second.detail).toContain(
      `cannot open the embedded database in ${folder}: it is in use by this process`,
    );
    // The refused opening left the first one's lock alone.
    await stat(lockPathOf(folder));
    await first.query('SELECT 1');
    await first.close();
    await expect(stat(lockPathOf(folder))).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await openPglite({ dataDir: folder, schema: 'gateway', integrity: false });
    await again.close();
  });

  it('refuses while another process holds the folder, naming it, and takes over once it is killed', async () => {
    const folder = join(parent, 'other-process');
    const child = await holder(folder);
    try {
      const refused = await refusal(lockDataFolder(folder));
      expect(refused.code).toBe('STORAGE_UNAVAILABLE');
      expect(refused.detail).toContain(`it is in use by process ${child.pid} on `);
      expect(refused.detail).toContain(`remove ${lockPathOf(folder)}`);
    } finally {
      child.kill('SIGKILL');
      await within(once(child, 'exit'), { deadlineMs: processExitDeadlineMs, what: 'the holder exits' });
    }
    // Killed: its lock file is left behind, and taken over.
    const left = JSON.parse(await readFile(lockPathOf(folder), 'utf8')) as { pid: number };
    expect(left.pid).toBe(child.pid);
    const lock = await lockDataFolder(folder);
    const taken = JSON.parse(await readFile(lockPathOf(folder), 'utf8')) as { pid: number };
    expect(taken.pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over a lock cut short by a crash, never another host's", async () => {
    const folder = join(parent, 'left-behind');
    await writeFile(lockPathOf(folder), '{"pid":');
    const lock = await lockDataFolder(folder);
    await lock.release();

    await writeFile(
      lockPathOf(folder),
      JSON.stringify({ pid: 1, host: 'another-host.example', lockedAt: '2026-12-01T00:00:00.000Z' }),
    );
    const refused = await refusal(lockDataFolder(folder));
    expect(refused.detail).toContain('in use by process 1 on another-host.example since 2026-12-01');
    await rm(lockPathOf(folder));
  });

  it('takes over the lock of a process id now used by a process started at another time', async () => {
    const folder = join(parent, 'reused-pid');
    // This process's id, with a start time it never had: the id was reused after the owner died.
    await writeFile(
      lockPathOf(folder),
      JSON.stringify({
        pid: process.pid,
        host: (await import('node:os')).hostname(),
        startTicks: '1',
        lockedAt: '2026-12-01T00:00:00.000Z',
      }),
    );
    const lock = await lockDataFolder(folder);
    await lock.release();
  });
});
