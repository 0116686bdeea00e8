import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/**
 * Ports for a service that is stopped and started again on the same address
 * (`mpay up --processes`, `mpay chaos`, the crash tests).
 *
 * A port the operating system hands out for `listen(0)` lies in the ephemeral range, the same range it
 * takes the local port of every outgoing connection from. Between a crash and the restart, any
 * connection on the machine (another service, a database client) may be given that port, and the
 * restart then fails with EADDRINUSE. These ports are drawn below the ephemeral range, where the kernel
 * never picks a local port by itself, and each is checked free by listening on it once.
 */
export async function restartablePorts(count: number): Promise<number[]> {
  const lowestEphemeral = await ephemeralRangeStart();
  const lowest = 10_000;
  const highest = Math.max(lowest + 1000, lowestEphemeral) - 1;
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt += 1) {
    if (attempt > 1000) throw new Error(`no ${count} free ports between ${lowest} and ${highest}`);
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (!ports.includes(port) && (await isFree(port))) ports.push(port);
  }
  return ports;
}

export async function restartablePort(): Promise<number> {
  const [port] = await restartablePorts(1);
  return port as number;
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
