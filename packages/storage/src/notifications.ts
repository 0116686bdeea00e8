import pg from 'pg';

/**
 * Notifications between the processes of one database (PostgreSQL
 * LISTEN/NOTIFY): several instances of a service on one schema tell each
 * other that something changed ("party X has new events"), and each reads
 * what changed from the database. A payload names rows (ids), never secrets:
 * anyone who can connect to the database can LISTEN.
 */
export interface NotificationListenOptions {
  /**
   * Called when the listening connection was lost and is back: notifications
   * sent meanwhile were lost, so the listener catches up from the database.
   */
  readonly onResume?: () => void;
}

export type NotificationHandler = (payload: string) => void;

/** Stops one listen(); resolves once the channel is no longer listened to (when it was the last handler). */
export type StopListening = () => Promise<void>;

/** PostgreSQL's limit on a NOTIFY payload is 8,000 bytes; the rest is kept for the channel and the envelope. */
export const notificationPayloadBytesMax = 7_900;

const channelPattern = /^[a-z_][a-z0-9_]*$/;

/** The channel's name in the database: the schema's own, so that schemas (test runs, platforms) never hear each other. */
export function channelOf(schema: string, channel: string): string {
  const name = `${schema}__${channel}`;
  if (!channelPattern.test(channel) || name.length > 63)
    throw new Error(`assertion failed: invalid notification channel ${channel} (schema ${schema})`);
  return name;
}

export function checkPayload(payload: string): void {
  if (Buffer.byteLength(payload, 'utf8') > notificationPayloadBytesMax)
    throw new Error(
      `assertion failed: a notification payload is at most ${notificationPayloadBytesMax} bytes`,
    );
}

export interface ReconnectLimits {
  /** First wait before connecting again after the listening connection was lost (ms). */
  readonly reconnectDelayMinMs: number;
  /** Longest wait between two attempts (ms); the wait doubles up to it. */
  readonly reconnectDelayMaxMs: number;
}

export const defaultReconnectLimits: ReconnectLimits = Object.freeze({
  reconnectDelayMinMs: 100,
  reconnectDelayMaxMs: 5_000,
});

interface Listening {
  readonly handler: NotificationHandler;
  readonly options: NotificationListenOptions;
}

/**
 * The one connection of a PostgreSQL database handle that LISTENs (a pool's
 * connections come and go, a listener must stay): opened at the first
 * listen(), LISTENs every channel someone listens to, and when it is lost
 * (the server restarted, the network dropped) opens again with a growing
 * wait, LISTENs again and calls every onResume.
 */
export class PostgresListener {
  readonly #url: string;
  readonly #limits: ReconnectLimits;
  readonly #channels = new Map<string, Set<Listening>>();
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryDelayMs: number;
  #closed = false;
  #lostOnce = false;

  constructor(url: string, limits: ReconnectLimits = defaultReconnectLimits) {
    this.#url = url;
    this.#limits = limits;
    this.#retryDelayMs = limits.reconnectDelayMinMs;
  }

  /** Whether the listening connection is open now (for readiness and tests). */
  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** The server process of the listening connection (tests end it to see the listener come back). */
  async backendPid(): Promise<number | undefined> {
    const client = this.#client;
    if (client === undefined) return undefined;
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return rows[0]?.pid;
  }

  async listen(
    channel: string,
    handler: NotificationHandler,
    options: NotificationListenOptions = {},
  ): Promise<StopListening> {
    if (this.#closed) throw new Error('assertion failed: listen on a closed database');
    const listening: Listening = { handler, options };
    const set = this.#channels.get(channel) ?? new Set<Listening>();
    const first = set.size === 0;
    set.add(listening);
    this.#channels.set(channel, set);
    try {
      const client = this.#client ?? (await this.#connect());
      // A connection opened after the handler was added LISTENed to it already; LISTEN twice is harmless.
      if (first) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      set.delete(listening);
      if (set.size === 0) this.#channels.delete(channel);
      throw error;
    }
    return async () => {
      set.delete(listening);
      if (set.size > 0 || this.#channels.get(channel) !== set) return;
      this.#channels.delete(channel);
      await this.#client?.query(`UNLISTEN ${channel}`).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#channels.clear();
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  #connect(): Promise<pg.Client> {
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<pg.Client> {
    // TCP keepalive finds a connection the network dropped silently (nothing else is sent on it while idle).
    const client = new pg.Client({
      connectionString: this.#url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // A lost connection emits 'error' (and then 'end'): without a handler it would end the process.
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      for (const listening of this.#channels.get(message.channel) ?? [])
        listening.handler(message.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.#channels.keys()) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      throw new Error('the database was closed');
    }
    this.#client = client;
    this.#retryDelayMs = this.#limits.reconnectDelayMinMs;
    return client;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#lostOnce = true;
    client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry !== undefined || this.#channels.size === 0) return;
    const delayMs = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, this.#limits.reconnectDelayMaxMs);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().then(
        () => this.#resumed(),
        () => this.#scheduleReconnect(),
      );
    }, delayMs);
    this.#retry.unref();
  }

  #resumed(): void {
    if (!this.#lostOnce) return;
    for (const set of this.#channels.values()) for (const listening of set) listening.options.onResume?.();
  }
}
