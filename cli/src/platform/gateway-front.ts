import type { GatewayService } from '@mpay/gateway';
import { type Balancer, startBalancer } from '@mpay/http-server';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';

/**
 * Several gateway instances behind one address (docs/scaling.md): N
 * instances of the gateway on one PostgreSQL schema, each with its own pool,
 * its own background loop and its own device streams, and a TCP front
 * (@mpay/http-server's balancer) on the gateway's port that hands each
 * connection to the next instance. The instances share the work through the
 * database: the outbox's claims (FOR UPDATE SKIP LOCKED) and the device
 * notices (LISTEN/NOTIFY, devices/relay.ts).
 */
export const gatewayInstancesMax = 16;

/** The number of gateway instances asked for: 1 by default; more only on PostgreSQL (CONFIGURATION_INVALID otherwise). */
export function gatewayCountOf(options: {
  readonly gateways?: number | undefined;
  readonly databaseUrl?: string | undefined;
}): number {
  const count = options.gateways ?? 1;
  if (!Number.isSafeInteger(count) || count < 1 || count > gatewayInstancesMax)
    throw new MpayError('CONFIGURATION_INVALID', `gateways must be an integer in 1..${gatewayInstancesMax}`);
  if (count > 1 && !options.databaseUrl)
    throw new MpayError(
      'CONFIGURATION_INVALID',
      `${count} gateways need a shared PostgreSQL (DATABASE_URL): the embedded PGlite is one process's database`,
    );
  return count;
}

/** `--gateways N` or MPAY_GATEWAYS (the flag wins); undefined when neither is given. */
export function gatewaysFromFlags(flags: Map<string, string>, env: NodeJS.ProcessEnv): number | undefined {
  const text = flags.get('gateways') ?? env.MPAY_GATEWAYS;
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^\d+$/.test(text.trim()))
    throw new MpayError(
      'CONFIGURATION_INVALID',
      `gateways must be a whole number, not ${JSON.stringify(text)}`,
    );
  return Number.parseInt(text.trim(), 10);
}

export interface GatewayInstances {
  /** The gateway's address: the front with several instances, else the one instance. */
  readonly url: string;
  /** Every instance, the first one first. */
  readonly instances: readonly GatewayService[];
  /** Each instance's own address (to reach one directly: tests, diagnostics). */
  readonly instanceUrls: readonly string[];
  /** The front; undefined with one instance. */
  readonly front: Balancer | undefined;
  /** The database handles of the instances after the first (each its own pool on the same schema). */
  readonly databases: readonly Database[];
  /** Closes the front, then every instance, then the databases of the instances after the first (the caller owns the first's). */
  close(): Promise<void>;
}

export interface GatewayInstancesOptions {
  /** The first instance, created (and migrated) by the caller. */
  readonly first: GatewayService;
  readonly count: number;
  /** The gateway's port (the front's with several instances); 0 or absent: any free port. */
  readonly port?: number | undefined;
  /** Makes one more instance on the same schema with its own database handle. */
  readonly create: () => Promise<{ readonly service: GatewayService; readonly database: Database }>;
  /** Listens one instance (in its TLS scope) and returns its URL. */
  readonly listen: (service: GatewayService, port: number) => Promise<string>;
}

/**
 * Listens the first instance on the gateway's port when it is the only one;
 * else starts the others one after the other (the first migrated the
 * schema), listens each on a free port and puts the front on the gateway's.
 * On a failure it closes what it started, never the first instance (the
 * caller's, created before the call).
 */
export async function startGatewayInstances(options: GatewayInstancesOptions): Promise<GatewayInstances> {
  if (options.count === 1) {
    const url = await options.listen(options.first, options.port ?? 0);
    return {
      url,
      instances: [options.first],
      instanceUrls: [url],
      front: undefined,
      databases: [],
      close: () => options.first.close(),
    };
  }
  const instances: GatewayService[] = [options.first];
  const databases: Database[] = [];
  const instanceUrls: string[] = [];
  let front: Balancer | undefined;
  const close = async () => {
    await front?.close();
    for (const instance of instances) await instance.close();
    for (const database of databases) await database.close();
  };
  try {
    instanceUrls.push(await options.listen(options.first, 0));
    while (instances.length < options.count) {
      const { service, database } = await options.create();
      instances.push(service);
      databases.push(database);
      instanceUrls.push(await options.listen(service, 0));
    }
    front = await startBalancer({
      targets: instanceUrls.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })),
      port: options.port ?? 0,
      host: '127.0.0.1',
    });
  } catch (error) {
    // What this call started; the first instance stays the caller's to close, as when it is the only one.
    await front?.close().catch(() => undefined);
    for (const instance of instances.slice(1)) await instance.close().catch(() => undefined);
    for (const database of databases) await database.close().catch(() => undefined);
    throw error;
  }
  // The front passes TLS through: its address has the instances' scheme.
  const scheme = new URL(instanceUrls[0] as string).protocol;
  return {
    url: `${scheme}//127.0.0.1:${front.port}`,
    instances,
    instanceUrls,
    front,
    databases,
    close,
  };
}
