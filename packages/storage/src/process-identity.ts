import { readFileSync } from 'node:fs';

/**
 * Who holds a lock file, as this machine can tell: a pid, and the process's
 * start time so that a pid reused by an unrelated process is not taken for
 * the holder. Shared by the embedded database's folder lock
 * (data-folder/lock.ts) and the pki folder's lock (@mpay/pki lock.ts).
 */

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined where there is no /proc. */
export function processStartTicks(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the process `pid` that started at `startTicks` still runs on this
 * machine: it exists (EPERM: under another user) and, where both start times
 * are known, started when the holder did.
 */
export function processStillRuns(pid: number, startTicks: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPERM') return false;
  }
  const now = processStartTicks(pid);
  return startTicks === undefined || now === undefined || now === startTicks;
}
