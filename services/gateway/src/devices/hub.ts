import type { Sql } from '@mpay/storage';
import type { EventStream } from './event-stream.ts';

/** One Server-Sent Event. `data` must not contain newlines (compact JOSE never does). */
export interface DeviceEvent {
  event: 'payment-request' | 'receipt' | 'payment-status' | 'refund-receipt';
  id: string;
  data: string;
}

/**
 * What one gateway instance tells the others about a customer's streams
 * (devices/relay.ts): ids only, never the event itself. Each instance reads
 * the event from the database and writes it to the streams it holds.
 */
export type DeviceNotice =
  | {
      readonly kind: 'payment';
      readonly party: string;
      readonly paymentId: string;
      readonly event: Exclude<DeviceEvent['event'], 'refund-receipt'>;
    }
  | { readonly kind: 'refund'; readonly party: string; readonly refundId: string }
  | { readonly kind: 'disconnect'; readonly party: string };

/**
 * What records, in the database, that a notice was sent (an outbox row's
 * mark): one statement, started with the notice in its transaction.
 */
export type NoticeRecord = (sql: Sql) => Promise<void>;

/**
 * Sends a notice to the other instances (with `record`, in one transaction
 * with it); resolves when sent, rejects (after logging) when it could not be.
 */
export type DeviceNoticeSender = (notice: DeviceNotice, record?: NoticeRecord) => Promise<void>;

export interface DeviceHubLimits {
  connectionsPerPartyMax: number;
  connectionsMax: number;
  heartbeatMs: number;
  /**
   * Streams gzipped at once (each holds about 48 KiB of deflate state:
   * devices/event-stream.ts); past it, new streams go plain.
   */
  compressedStreamsMax: number;
}

export const defaultDeviceHubLimits: DeviceHubLimits = {
  connectionsPerPartyMax: 4,
  connectionsMax: 10_000,
  heartbeatMs: 15_000,
  compressedStreamsMax: 2_000,
};

/**
 * The open Server-Sent Events streams of customers' devices held by this
 * process. Pushes are best-effort: the payment stays stored and is sent
 * again on reconnect. With several gateway instances on one database, a
 * device's stream is held by one of them: `announce` tells the others (the
 * relay set with `relayTo`), and the relay pushes what another instance
 * announced to the streams held here.
 */
export class DeviceHub {
  readonly #streams = new Map<string, Set<EventStream>>();
  readonly #limits: DeviceHubLimits;
  #count = 0;
  #compressedCount = 0;
  readonly #heartbeat: NodeJS.Timeout;
  #send: DeviceNoticeSender | undefined;

  constructor(limits: DeviceHubLimits = defaultDeviceHubLimits) {
    this.#limits = limits;
    this.#heartbeat = setInterval(() => this.#beat(), limits.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Whether a stream of the party would be attached now (no limit reached). */
  hasRoomFor(partyId: string): boolean {
    const held = this.#streams.get(partyId)?.size ?? 0;
    return held < this.#limits.connectionsPerPartyMax && this.#count < this.#limits.connectionsMax;
  }

  /** Whether a stream opened now may be gzipped (fewer than `compressedStreamsMax` are). */
  mayCompress(): boolean {
    return this.#compressedCount < this.#limits.compressedStreamsMax;
  }

  /** Registers a stream; returns false when a limit is reached. */
  attach(partyId: string, stream: EventStream): boolean {
    if (stream.closed || !this.hasRoomFor(partyId)) return false;
    const streams = this.#streams.get(partyId) ?? new Set<EventStream>();
    streams.add(stream);
    this.#streams.set(partyId, streams);
    this.#count += 1;
    if (stream.compressed) this.#compressedCount += 1;
    stream.onClose(() => this.#detach(partyId, streams, stream));
    return true;
  }

  /** Sends to every open stream of the party; returns how many received it. */
  push(partyId: string, event: DeviceEvent): number {
    const streams = this.#streams.get(partyId);
    if (streams === undefined) return 0;
    for (const stream of streams) writeEvent(stream, event);
    return streams.size;
  }

  /**
   * Ends every open stream of the party (a revoked device must stop hearing
   * its payments at once); a device whose key still holds opens its stream
   * again, a revoked one is refused. Returns how many streams were ended.
   */
  disconnect(partyId: string): number {
    const streams = this.#streams.get(partyId);
    if (streams === undefined) return 0;
    const ended = streams.size;
    for (const stream of [...streams]) {
      this.#detach(partyId, streams, stream);
      stream.end();
    }
    return ended;
  }

  /** The instances' channel (devices/relay.ts); without one (a single instance, unit tests) announce does nothing. */
  relayTo(send: DeviceNoticeSender | undefined): void {
    this.#send = send;
  }

  /**
   * Tells the other gateway instances what this one pushed (or disconnected)
   * here, for the streams they hold. Rejects when the notice could not be
   * sent: the push that announced it is then retried from the outbox.
   * With a relay, `record` (the push's mark) commits with the notice, in
   * one round trip, and the answer is true; without one (none was ever set,
   * or it stopped), nothing is sent and nothing recorded, and the answer is
   * false: the caller records it itself. The relay is read once, here, so
   * the answer always says what happened to `record`.
   */
  async announce(notice: DeviceNotice, record?: NoticeRecord): Promise<boolean> {
    const send = this.#send;
    if (send === undefined) return false;
    await send(notice, record);
    return true;
  }

  /** Whether the other instances hear what this one announces (a relay is on). */
  get relaying(): boolean {
    return this.#send !== undefined;
  }

  /**
   * Ends every open stream (the devices open them again and get what waits
   * for them): after notices from other instances may have been lost.
   */
  disconnectAll(): number {
    let ended = 0;
    for (const partyId of [...this.#streams.keys()]) ended += this.disconnect(partyId);
    return ended;
  }

  isConnected(partyId: string): boolean {
    return this.#streams.has(partyId);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const streams of this.#streams.values()) for (const stream of streams) stream.end();
    this.#streams.clear();
    this.#count = 0;
    this.#compressedCount = 0;
  }

  #beat(): void {
    for (const [partyId, streams] of this.#streams) {
      for (const stream of streams) {
        if (stream.closed) this.#detach(partyId, streams, stream);
        else stream.write(': heartbeat\n\n');
      }
    }
  }

  #detach(partyId: string, streams: Set<EventStream>, stream: EventStream): void {
    if (streams.delete(stream)) {
      this.#count -= 1;
      if (stream.compressed) this.#compressedCount -= 1;
    }
    if (streams.size === 0) this.#streams.delete(partyId);
  }
}

export function writeEvent(stream: EventStream, event: DeviceEvent): void {
  if (/[\r\n]/.test(event.data) || /[\r\n]/.test(event.id))
    throw new Error('assertion failed: SSE field with newline');
  stream.write(`event: ${event.event}\nid: ${event.id}\ndata: ${event.data}\n\n`);
}
