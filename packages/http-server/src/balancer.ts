import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * The front of several instances of one service on this machine: a TCP
 * balancer on loopback that hands each incoming connection to the next
 * instance in turn (round robin) and pipes the two sockets. It does not read
 * what passes (TLS goes through untouched; a device's event stream is one
 * long connection to one instance). An instance whose connect fails or times
 * out is skipped for `downMs` and the connection goes to the next; when none
 * answers, the client's connection is closed.
 *
 * Bounded: at most `connectionsMax` connections at once (more are closed at
 * once), a connect timeout, an idle timeout (a connection nothing passes
 * through for that long is closed: the gateway's event streams send a
 * heartbeat every 15 s), and close() that ends every connection.
 */
export interface BalancerTarget {
  readonly host: string;
  readonly port: number;
}

export interface BalancerLimits {
  /** Connections at once through the front (integer, 1..100,000). */
  readonly connectionsMax: number;
  /** Longest wait for an instance to accept a connection, in ms (integer, 1..60,000). */
  readonly connectTimeoutMs: number;
  /** A connection with nothing passing for this long is closed, in ms (integer, 1,000..86,400,000). */
  readonly idleTimeoutMs: number;
  /** How long an instance whose connect failed is skipped, in ms (integer, 0..600,000). */
  readonly downMs: number;
}

export const defaultBalancerLimits: BalancerLimits = Object.freeze({
  connectionsMax: 10_000,
  connectTimeoutMs: 2_000,
  idleTimeoutMs: 120_000,
  downMs: 2_000,
});

export interface BalancerOptions {
  readonly targets: readonly BalancerTarget[];
  /** The front's port (0 or absent: any free port). */
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly limits?: Partial<BalancerLimits>;
}

export interface Balancer {
  /** The port the front listens on. */
  readonly port: number;
  readonly host: string;
  /** Connections through the front now. */
  readonly connections: number;
  /** Connections handed to each target so far, in the order of `targets`. */
  readonly handedOut: readonly number[];
  close(): Promise<void>;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`balancer: ${name} must be an integer in ${min}..${max}`);
  return value;
}

export function createBalancerLimits(options: Partial<BalancerLimits> = {}): BalancerLimits {
  const limits = { ...defaultBalancerLimits, ...options };
  return Object.freeze({
    connectionsMax: checkInteger('connectionsMax', limits.connectionsMax, 1, 100_000),
    connectTimeoutMs: checkInteger('connectTimeoutMs', limits.connectTimeoutMs, 1, 60_000),
    idleTimeoutMs: checkInteger('idleTimeoutMs', limits.idleTimeoutMs, 1_000, 86_400_000),
    downMs: checkInteger('downMs', limits.downMs, 0, 600_000),
  });
}

/** Starts the front; resolves once it listens. */
export async function startBalancer(options: BalancerOptions): Promise<Balancer> {
  const targets = [...options.targets];
  if (targets.length === 0) throw new RangeError('balancer: at least one target');
  const limits = createBalancerLimits(options.limits);
  const host = options.host ?? '127.0.0.1';
  const downUntil = targets.map(() => 0);
  const handedOut = targets.map(() => 0);
  /** Every socket (clients and their upstreams), for close(); `clients` counts the front's connections. */
  const open = new Set<Socket>();
  const clients = new Set<Socket>();
  let next = 0;

  /** The targets to try for one connection: every one once, from the next in turn, those marked down last. */
  const order = (): number[] => {
    const start = next;
    next = (next + 1) % targets.length;
    const all = targets.map((_, offset) => (start + offset) % targets.length);
    const now = Date.now();
    return [
      ...all.filter((index) => downUntil[index]! <= now),
      ...all.filter((index) => downUntil[index]! > now),
    ];
  };

  const tryConnect = (index: number): Promise<Socket | undefined> =>
    new Promise((resolve) => {
      const target = targets[index]!;
      const upstream = connect({ host: target.host, port: target.port });
      const fail = () => {
        upstream.destroy();
        downUntil[index] = Date.now() + limits.downMs;
        resolve(undefined);
      };
      upstream.setTimeout(limits.connectTimeoutMs, fail);
      upstream.once('error', fail);
      upstream.once('connect', () => {
        upstream.removeListener('error', fail);
        upstream.setTimeout(0);
        downUntil[index] = 0;
        handedOut[index]! += 1;
        resolve(upstream);
      });
    });

  const handle = async (client: Socket): Promise<void> => {
    if (clients.size >= limits.connectionsMax) {
      client.destroy();
      return;
    }
    open.add(client);
    clients.add(client);
    client.pause();
    let clientGone = false;
    const onEarlyClose = () => {
      clientGone = true;
    };
    client.once('close', onEarlyClose);
    client.on('error', () => client.destroy());
    let upstream: Socket | undefined;
    for (const index of order()) {
      upstream = await tryConnect(index);
      if (upstream !== undefined || clientGone) break;
    }
    client.removeListener('close', onEarlyClose);
    if (upstream === undefined || clientGone) {
      upstream?.destroy();
      client.destroy();
      open.delete(client);
      clients.delete(client);
      return;
    }
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      clients.delete(client);
    };
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.setTimeout(limits.idleTimeoutMs, end);
    upstream.setTimeout(limits.idleTimeoutMs, end);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    handle(client).catch(() => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('assertion failed: a TCP address');
  return {
    port: address.port,
    host,
    get connections() {
      return clients.size;
    },
    handedOut,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      open.clear();
      clients.clear();
      await closed;
    },
  };
}
