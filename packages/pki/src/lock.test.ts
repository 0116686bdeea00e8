import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { beginCaRotation, retireCa, switchCa } from './ca-rotation.ts';
import { pkiLockFileName, withPkiLock } from './lock.ts';
import {
  type DeploymentInstitution,
  ensureDeploymentPki,
  issueDeploymentCertificate,
  pkiDirOf,
  rotateDeploymentPki,
} from './store.ts';

const institutions: DeploymentInstitution[] = [{ id: 'xbank', services: ['bank'] }];

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-pki-lock-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const lockPath = () => join(pkiDirOf(dataDir), pkiLockFileName);

/** A pid that ran and has exited (a child run to its end): no process has it now, or not for long. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function failureOf(work: Promise<unknown>): Promise<{ code: string; detail: string }> {
  const error: unknown = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return { code: error.code, detail: error.detail ?? '' };
}

describe("the pki folder's lock", () => {
  it('refuses every writing command with PKI_BUSY naming the pid while a live process holds it, and leaves its lock alone', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    // This test's own process: alive, as an `mpay pki ca switch` running in another terminal would be.
    const held = `${JSON.stringify({ pid: process.pid, startedAt: '2026-12-02T10:00:00.000Z' })}\n`;
    await writeFile(lockPath(), held);
    // One at a time: each refusal is awaited as it happens (none is left unhandled while another runs).
    const commands = [
      () => ensureDeploymentPki(dataDir, institutions),
      () => issueDeploymentCertificate(dataDir, { institution: 'xbank', service: 'bank' }),
      () => rotateDeploymentPki(dataDir),
      () => beginCaRotation(dataDir),
      () => switchCa(dataDir),
      () => retireCa(dataDir),
    ];
    for (const command of commands) {
      const refused = await failureOf(command());
      expect(refused.code).toBe('PKI_BUSY');
      expect(refused.detail).toBe(
        `${lockPath()}: held by process ${process.pid} (since 2026-12-02T10:00:00.000Z), which is still running; retry when it is done (if no mpay command runs, delete ${lockPath()})`,
      );
    }
    expect(await readFile(lockPath(), 'utf8')).toBe(held);
    // A lock being written (no pid yet) is never taken over either.
    await writeFile(lockPath(), '');
    expect((await failureOf(rotateDeploymentPki(dataDir))).code).toBe('PKI_BUSY');
  });

  it('takes over the lock of a process that no longer runs, with a note, and releases its own', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const pid = deadPid();
    await writeFile(lockPath(), JSON.stringify({ pid, startedAt: '2026-12-01T00:00:00.000Z' }));
    const notes: string[] = [];
    const report = await rotateDeploymentPki(dataDir, { onNote: (line) => notes.push(line) });
    expect(report.services.map((entry) => entry.action)).toEqual(['reissued']);
    expect(notes).toEqual([
      `${lockPath()}: took over the lock of process ${pid} (since 2026-12-01T00:00:00.000Z), which no longer runs`,
    ]);
    await expect(stat(lockPath())).rejects.toThrow(/ENOENT/);
  });

  it('lets one command only take over a stale lock when many try at once; the others get PKI_BUSY', async () => {
    const folder = await mkdtemp(join(dataDir, 'race-'));
    const stale = JSON.stringify({ pid: deadPid(), startedAt: '2026-12-01T00:00:00.000Z' });
    for (let round = 0; round < 5; round += 1) {
      await writeFile(join(folder, pkiLockFileName), stale);
      let inside = 0;
      let most = 0;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, async (_, index) => {
          // Staggered: some start while another is between its reads, its removal and its create.
          for (let turn = 0; turn < index % 4; turn += 1) await stat(folder);
          return withPkiLock(folder, { now: new Date(), note: () => undefined }, async () => {
            inside += 1;
            most = Math.max(most, inside);
            // Hold it across some turns of the event loop and the thread pool: the others' steps run meanwhile.
            for (let turn = 0; turn < 20; turn += 1) await readdir(folder);
            inside -= 1;
          });
        }),
      );
      expect(most, `round ${round}: holders at once`).toBe(1);
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
      expect(won, `round ${round}: commands that got the lock`).toBeGreaterThanOrEqual(1);
      for (const outcome of outcomes)
        if (outcome.status === 'rejected')
          expect((outcome.reason as { code?: unknown }).code).toBe('PKI_BUSY');
      // Nothing of the takeover is left behind: the folder is as empty as before.
      expect(await readdir(folder)).toEqual([]);
    }
  });

  it('refuses, naming both files, while the marker of a takeover cut short is left', async () => {
    const folder = await mkdtemp(join(dataDir, 'cut-'));
    const stale = JSON.stringify({ pid: deadPid(), startedAt: '2026-12-01T00:00:00.000Z' });
    await writeFile(join(folder, pkiLockFileName), stale);
    const digest = createHash('sha256').update(stale, 'utf8').digest('hex').slice(0, 32);
    const marker = join(folder, `${pkiLockFileName}.takeover-${digest}`);
    await writeFile(marker, stale);
    const refused = await failureOf(
      withPkiLock(folder, { now: new Date(), note: () => undefined }, async () => 1),
    );
    expect(refused.code).toBe('PKI_BUSY');
    expect(refused.detail).toContain(marker);
    // Deleted as the message says: the next command takes the stale lock over.
    await rm(marker);
    expect(await withPkiLock(folder, { now: new Date(), note: () => undefined }, async () => 2)).toBe(2);
  });

  it('tells a pid reused by another process from the holder by its start time in /proc', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const procStat = await readFile('/proc/self/stat', 'utf8');
    const ownTicks = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ')[19];
    // This very process, started when the lock says: still the holder.
    const held = { pid: process.pid, startedAt: '2026-12-02T10:00:00.000Z', startTicks: ownTicks };
    await writeFile(lockPath(), JSON.stringify(held));
    expect((await failureOf(rotateDeploymentPki(dataDir))).code).toBe('PKI_BUSY');
    // The same pid, but the lock's holder started at another time: its pid was reused, the lock is stale.
    await writeFile(lockPath(), JSON.stringify({ ...held, startTicks: `${Number(ownTicks) + 1}` }));
    const notes: string[] = [];
    await rotateDeploymentPki(dataDir, { onNote: (line) => notes.push(line) });
    expect(notes).toEqual([
      `${lockPath()}: took over the lock of process ${process.pid} (since 2026-12-02T10:00:00.000Z), which no longer runs`,
    ]);
  });

  it('is released when the command fails, and held (with this pid) while it runs', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    expect((await failureOf(switchCa(dataDir))).code).toBe('PKI_INVALID'); // no begin: refused
    await expect(stat(lockPath())).rejects.toThrow(/ENOENT/);
    // Two writers at once in one process: whichever takes the lock first runs, the other is refused.
    const outcomes = await Promise.allSettled([rotateDeploymentPki(dataDir), rotateDeploymentPki(dataDir)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    expect(refused?.status === 'rejected' && isMpayError(refused.reason, 'PKI_BUSY')).toBe(true);
  });
});

describe('temporary files a crashed write left', () => {
  it('are removed, CA key and service key alike, by the next writing command (mpay up at start), with a note', async () => {
    await ensureDeploymentPki(dataDir, institutions);
    const folder = pkiDirOf(dataDir);
    const leftovers = [
      join(folder, `ca.next.key.pem.${randomUUID()}.tmp`),
      join(folder, `ca.key.pem.${randomUUID()}.tmp`),
      join(folder, 'xbank', `bank.key.pem.${randomUUID()}.tmp`),
    ];
    for (const path of leftovers) await writeFile(path, '-----BEGIN PRIVATE KEY-----\n', { mode: 0o600 });
    // Not the writer's: kept.
    await writeFile(join(folder, 'notes.tmp'), 'the operator’s');
    const notes: string[] = [];
    await ensureDeploymentPki(dataDir, institutions, { onNote: (line) => notes.push(line) });
    expect(notes).toEqual(
      [...leftovers].sort().map((path) => `${path}: removed (a temporary file of a write cut short)`),
    );
    expect((await readdir(folder)).filter((file) => file.endsWith('.tmp'))).toEqual(['notes.tmp']);
    expect((await readdir(join(folder, 'xbank'))).sort()).toEqual(['bank.cert.pem', 'bank.key.pem']);
  });
});
