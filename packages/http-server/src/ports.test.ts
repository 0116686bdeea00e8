import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processExitDeadlineMs, serviceStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import {
  portReservationsFolder,
  portReservationsWarningCode,
  releaseRestartablePorts,
  restartablePorts,
} from './ports.ts';

/**
 * Two platforms on one machine must never draw the same port: a CI run of `mpay chaos` could find
 * its killed service's port taken by another test's platform when it started it again. Each test
 * draws from a narrow range of its own in 30000..32767 (below Linux's ephemeral range); platforms of
 * other tests may hold a port of it meanwhile, so the draws leave room, and a range is drawn empty
 * only where it is one port this process holds.
 */
const rangeBase = 30_000 + Math.floor(Math.random() * 25) * 100;
const rangeOf = (index: number) => ({ lowest: rangeBase + index * 30, highest: rangeBase + index * 30 + 29 });
const inRange = (ports: readonly number[], range: { lowest: number; highest: number }) =>
  ports.every((port) => port >= range.lowest && port <= range.highest);
/** This process's pid namespace, as the claims name it (/proc/self/ns/pid: `pid:[4026531836]`). */
const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
const portsModule = fileURLToPath(new URL('./ports.ts', import.meta.url));
const children: ChildProcess[] = [];

/** Another process that draws `count` ports of `range`, prints them, and holds them until killed. */
async function drawer(count: number, range: { lowest: number; highest: number }) {
  const script = `import { restartablePorts } from ${JSON.stringify(portsModule)};
const ports = await restartablePorts(${count}, ${JSON.stringify(range)});
process.stdout.write(JSON.stringify(ports) + '\\n');
setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  const ports = await within(
    new Promise<number[]>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('\n')) resolve(JSON.parse(output) as number[]);
      });
      child.once('exit', (code) => reject(new Error(`the other process exited (${code}) before drawing`)));
    }),
    { deadlineMs: serviceStartDeadlineMs, what: 'the other process to draw its ports' },
  );
  return { child, ports };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await within(exited, { deadlineMs: processExitDeadlineMs, what: 'the other process to exit' });
}

afterAll(async () => {
  for (const child of children) await killed(child);
});

describe('restartablePorts', () => {
  it('never gives one port twice to draws made at the same time in one process', async () => {
    const range = rangeOf(0);
    const draws = await Promise.all(Array.from({ length: 4 }, () => restartablePorts(4, range)));
    const ports = draws.flat();
    expect(new Set(ports).size).toBe(16);
    expect(inRange(ports, range)).toBe(true);
    await releaseRestartablePorts(ports);
  });

  it("never gives another process a port this one holds, and takes a dead process's ports back", async () => {
    const range = rangeOf(1);
    const held = await restartablePorts(10, range);
    const other = await drawer(10, range);
    expect(other.ports).toHaveLength(10);
    expect(inRange(other.ports, range)).toBe(true);
    expect(new Set([...held, ...other.ports]).size).toBe(20);
    // Each of the other's ports, drawn alone while it lives: refused.
    const [taken] = other.ports as [number];
    await expect(restartablePorts(1, { lowest: taken, highest: taken })).rejects.toThrow(/no 1 free ports/);
    // The other process dies without giving its ports back: each is free to draw again.
    await killed(other.child);
    const again: number[] = [];
    for (const port of other.ports)
      again.push(...(await restartablePorts(1, { lowest: port, highest: port })));
    expect(again).toEqual(other.ports);
    await releaseRestartablePorts([...held, ...again]);
  });

  it('gives a released port to the next draw, and takes a claim of a pid now used by another process as dead', async () => {
    const [port] = (await restartablePorts(1, rangeOf(2))) as [number];
    const one = { lowest: port, highest: port };
    await expect(restartablePorts(1, one)).rejects.toThrow(/no 1 free ports/);
    await releaseRestartablePorts([port]);
    expect(await restartablePorts(1, one)).toEqual([port]);
    await releaseRestartablePorts([port]);
    // A claim made by an earlier process with this very pid (another start time) holds nothing now.
    const folder = join(portReservationsFolder, String(port));
    await mkdir(folder, { recursive: true });
    const stale = `${namespace}-${process.pid}-1-1.0000beef`;
    await writeFile(join(folder, stale), '');
    // A file not named as a claim is no claim, and is left alone.
    await writeFile(join(folder, 'notes.txt'), '');
    expect(await restartablePorts(1, one)).toEqual([port]);
    const left = await readdir(folder);
    expect(left).not.toContain(stale);
    expect(left).toContain('notes.txt');
    await rm(join(folder, 'notes.txt'));
    await releaseRestartablePorts([port]);
    // A claim made in another pid namespace (a container sharing the folder) holds: this one cannot judge it.
    const foreign = `${Number(namespace) + 1}-${process.pid}-1-1.0000beef`;
    await writeFile(join(folder, foreign), '');
    await expect(restartablePorts(1, one)).rejects.toThrow(/no 1 free ports/);
    expect(await readdir(folder)).toContain(foreign);
    await rm(join(folder, foreign));
    await releaseRestartablePorts([port]);
  });

  it('says so, once, when the reservations folder is not safe to use, and still draws free ports', async () => {
    // Another temporary folder (TMPDIR) whose reservations folder is open to other users (mode 0755).
    const temporary = await mkdtemp(join(tmpdir(), 'mpay-ports-test-'));
    const folder = join(temporary, `mpay-port-reservations-${process.getuid?.() ?? 'user'}`);
    await mkdir(folder);
    await chmod(folder, 0o755);
    const range = rangeOf(3);
    const script = `import { restartablePorts } from ${JSON.stringify(portsModule)};
const ports = [...await restartablePorts(2, ${JSON.stringify(range)}), ...await restartablePorts(1, ${JSON.stringify(range)})];
process.stdout.write(JSON.stringify(ports) + '\\n');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: temporary },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      const [code] = await within(once(child, 'exit'), {
        deadlineMs: serviceStartDeadlineMs,
        what: 'the other process to draw its ports and exit',
      });
      expect(code, stderr).toBe(0);
      const ports = JSON.parse(stdout) as number[];
      expect(new Set(ports).size).toBe(3);
      expect(inRange(ports, range)).toBe(true);
      // One warning for the three draws, naming the folder and why.
      expect(stderr.split(portReservationsWarningCode).length - 1, stderr).toBe(1);
      expect(stderr).toContain(folder);
      expect(stderr).toContain('not mode 0700');
      // Nothing was written into the unsafe folder.
      expect(await readdir(folder)).toEqual([]);
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
  });
});
