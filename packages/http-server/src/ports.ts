import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcStat } from './proc-stat.ts';

/**
 * Ports for a service that is stopped and started again on the same address
 * (`mpay up --processes`, `mpay chaos`, the crash tests).
 *
 * A port the operating system hands out for `listen(0)` lies in the ephemeral range, the same range it
 * takes the local port of every outgoing connection from. Between a crash and the restart, any
 * connection on the machine (another service, a database client) may be given that port, and the
 * restart then fails with EADDRINUSE. These ports are drawn below the ephemeral range, where the kernel
 * never picks a local port by itself, and each is checked free by listening on it once.
 *
 * Drawn at random, two platforms on one machine (CI runs many at once) could draw the same port: the
 * second while the first has chosen it but not yet listens (its services take minutes to start on a
 * busy machine), or while one of its services is down between a kill and its restart, which then
 * fails with EADDRINUSE. So each port drawn is also reserved, machine-wide, for as long as the process
 * that drew it lives (or until `releaseRestartablePorts`), and never drawn by another meanwhile.
 */
export async function restartablePorts(
  count: number,
  range: { readonly lowest: number; readonly highest: number } | undefined = undefined,
): Promise<number[]> {
  const lowest = range?.lowest ?? 10_000;
  const highest = range?.highest ?? Math.max(lowest + 1000, await ephemeralRangeStart()) - 1;
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt += 1) {
    if (attempt > 1000) {
      await releaseRestartablePorts(ports);
      throw new Error(`no ${count} free ports between ${lowest} and ${highest}`);
    }
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (ports.includes(port) || !(await reserve(port))) continue;
    if (await isFree(port)) ports.push(port);
    else await releaseRestartablePorts([port]);
  }
  return ports;
}

export async function restartablePort(): Promise<number> {
  const [port] = await restartablePorts(1);
  return port as number;
}

/** Gives back ports this process reserved (restartablePorts), for others to draw; the rest are left. */
export async function releaseRestartablePorts(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    drawnUnreserved.delete(port);
    const file = heldHere.get(port);
    if (file === undefined) continue;
    heldHere.delete(port);
    await rm(file, { force: true });
  }
}

/**
 * The reservations: a folder per port, in it one file per claim, named by the
 * claiming process (its pid namespace, pid and start time, so that a pid used
 * again is not taken for the same process), a count and a random part. A claim
 * holds when no other claim of a live process is in the folder; two claims
 * made at once see each other and both give way (each draws another port). A
 * dead process's claims are ignored and removed by whoever finds them: such a
 * file never comes back to life, so removing it races nobody. The folder is
 * the user's own (mode 0700, checked not to be a link nor anyone else's), so
 * nobody else can plant a file or a link in it; a name that is not a claim is
 * left alone.
 */
export const portReservationsFolder = join(
  tmpdir(),
  `mpay-port-reservations-${process.getuid?.() ?? 'user'}`,
);

const claimName = /^\d+-\d+-\d+-\d+\.[0-9a-f]{8}$/;

/** This process's claims still held: port → its claim file. */
const heldHere = new Map<number, string>();
/** Ports this process drew while the reservations folder could not be used (nothing on disk holds them). */
const drawnUnreserved = new Set<number>();
let claims = 0;

/** This process as claims name it: pid namespace, pid, start time (clock ticks since boot; 0 where /proc is absent). */
const thisProcess = `${pidNamespace()}-${process.pid}-${startTimeOf(process.pid) ?? 0}`;

/**
 * This process's pid namespace (Linux: the number in /proc/self/ns/pid's link; 0 elsewhere). Two
 * containers may share a temporary folder but not their pids: a claim made in another namespace is
 * never judged by this one's /proc.
 */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

let usableFolder: Promise<boolean> | undefined;

/** Code of the process warning emitted (once) when ports cannot be reserved: only listening once decides then. */
export const portReservationsWarningCode = 'MPAY_PORT_RESERVATIONS_UNUSABLE';

/**
 * Whether the reservations folder is there (made now if need be) and safe: a directory, this user's,
 * 0700. When it is not, a process warning says so once: ports are then drawn without reservations, and
 * two platforms on the machine may draw the same one (a restart then fails with EADDRINUSE).
 */
function reservationsUsable(): Promise<boolean> {
  usableFolder ??= (async () => {
    const unusable = (why: string) => {
      process.emitWarning(
        `ports are drawn without reservations (${portReservationsFolder}: ${why}); another platform on this machine may draw the same port`,
        { code: portReservationsWarningCode },
      );
      return false;
    };
    try {
      await mkdir(portReservationsFolder, { mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') return unusable(`cannot be made (${code ?? String(error)})`);
    }
    try {
      const folder = await lstat(portReservationsFolder);
      const uid = process.getuid?.();
      if (!folder.isDirectory()) return unusable('not a directory');
      if (uid !== undefined && folder.uid !== uid) return unusable("another user's");
      if ((folder.mode & 0o077) !== 0) return unusable('open to other users (not mode 0700)');
      return true;
    } catch (error) {
      return unusable(`cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  })();
  return usableFolder;
}

async function reserve(port: number): Promise<boolean> {
  // No safe folder to reserve in (a read-only /tmp, a folder not this user's): listening once decides,
  // and this process at least never draws a port twice until it gives it back.
  if (!(await reservationsUsable())) {
    if (drawnUnreserved.has(port)) return false;
    drawnUnreserved.add(port);
    return true;
  }
  const folder = join(portReservationsFolder, String(port));
  claims += 1;
  // The count is this module's; a random part keeps apart the claims of two threads of one process.
  const mine = `${thisProcess}-${claims}.${randomBytes(4).toString('hex')}`;
  const file = join(folder, mine);
  try {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    await (await open(file, 'wx')).close();
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EEXIST';
  }
  let others: string[];
  try {
    others = (await readdir(folder)).filter((name) => name !== mine && claimName.test(name));
  } catch {
    // Not known whether another holds it (too many open files under load, …): give way, draw another.
    await rm(file, { force: true });
    return false;
  }
  for (const other of others) {
    if (claimantAlive(other)) {
      await rm(file, { force: true });
      return false;
    }
    await rm(join(folder, other), { force: true });
  }
  heldHere.set(port, file);
  return true;
}

/** Whether the process that made a claim (`<pid namespace>-<pid>-<start time>-<count>.<random>`) still runs. */
function claimantAlive(claim: string): boolean {
  const [namespace, pidText, startText] = claim.split('-');
  // Made in another pid namespace: this one cannot tell, so it holds (a port left unused at worst).
  if (namespace !== thisProcess.split('-')[0]) return true;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return `${namespace}-${pidText}-${startText}` === thisProcess;
  const start = startTimeOf(pid);
  if (start !== undefined) return String(start) === startText;
  // No /proc entry to read: a process by that pid is taken as the claimant (a port left unused at worst).
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time from /proc/<pid>/stat (field 22), or undefined (no such process, no /proc). */
function startTimeOf(pid: number): number | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.startTicks;
  } catch {
    return undefined;
  }
}

async function ephemeralRangeStart(): Promise<number> {
  try {
    const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const low = Number.parseInt(range.trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default; other systems start higher still (49152)
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}
