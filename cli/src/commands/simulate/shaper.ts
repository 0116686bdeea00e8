/**
 * A traffic-shaping TCP proxy in user space (the kernel here has no netem):
 * it listens on loopback and forwards every connection to one upstream
 * (host, port) on loopback, byte for byte, so HTTP and HTTPS alike pass
 * through it unchanged. Each direction of each connection is a link with:
 *
 * - one-way latency: every byte is delivered `rttMs / 2` after it left the link;
 * - bandwidth: a token bucket per direction per connection (rate in bit/s,
 *   depth `burstBytes`, 0 by default: every byte pays its serialization time
 *   on the link, as on a radio bearer): bytes wait for their tokens, none is
 *   dropped;
 * - loss, as TCP feels it: the byte stream is cut into segments of
 *   `segmentBytes` (by stream offset, so the cut does not depend on how the
 *   kernel chunks reads); each segment is "lost" with probability `loss`,
 *   drawn from a seeded generator keyed by (seed, connection, direction,
 *   segment index), and a lost segment arrives one retransmission later:
 *   max(RTO_min = 200 ms, 2 × RTT). Delivery stays in order, so a lost
 *   segment holds back every byte behind it (head-of-line blocking), as TCP does.
 *
 * Not modelled (see docs/mobile-study.md): congestion control (slow start,
 * cwnd halving after a loss), the radio's own state machine (RRC promotion
 * from idle, seconds on 3G), jitter, and losses of ACKs or of the handshake.
 *
 * Bounded: at most `maxConnections` connections at once (more are refused),
 * at most `maxBufferedBytes` waiting per direction (the sending side is
 * paused until the link drains: back-pressure, not loss), clean close
 * (a FIN is forwarded once what precedes it was delivered).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface LinkProfile {
  /** Round-trip time added by the link (half each way), ms. */
  readonly rttMs: number;
  /** Device to server bandwidth, bit/s. */
  readonly upBitsPerSecond: number;
  /** Server to device bandwidth, bit/s. */
  readonly downBitsPerSecond: number;
  /** Probability that a segment is lost once (0 ≤ loss < 1). */
  readonly loss: number;
}

export interface ShaperOptions {
  /** The upstream: loopback only. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** The link; undefined passes bytes through unshaped (but still counted). */
  profile?: LinkProfile | undefined;
  readonly seed?: string;
  readonly segmentBytes?: number;
  /** The token bucket's depth, bytes (default 0: no burst above the rate). */
  readonly burstBytes?: number;
  readonly maxConnections?: number;
  readonly maxBufferedBytes?: number;
}

/** What passed through the proxy, device side: bytes on the wire (HTTP framing and, with TLS, its records included). */
export interface ShaperCounters {
  /** Bytes device → server. */
  up: number;
  /** Bytes server → device. */
  down: number;
  /** TCP connections the device opened (each one a handshake round trip). */
  connections: number;
  /**
   * Exchanges the device started: on a connection, a burst of bytes up that
   * follows bytes down (or opens the connection). One HTTP request and its
   * answer is one; a TLS handshake adds its own.
   */
  exchanges: number;
  /** Segments the loss model delayed. */
  lostSegments: number;
}

export const retransmissionMinMs = 200;
export const segmentBytesDefault = 1460;

/** The added delay of a lost segment: one retransmission, max(RTO_min, 2 × RTT). */
export function retransmissionDelayMs(rttMs: number): number {
  return Math.max(retransmissionMinMs, 2 * rttMs);
}

/** A uniform number in [0, 1) from (seed, parts): reproducible whatever the order segments are cut in. */
export function seededUniform(seed: string, ...parts: readonly (string | number)[]): number {
  const digest = createHash('sha256')
    .update(`${seed}\u0000${parts.join('\u0000')}`)
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.[0-9]{1,3}){3}$/.test(host);
}

type Direction = 'up' | 'down';

interface Pending {
  readonly at: number;
  readonly data: Buffer;
}

/** One direction of one connection: the token bucket, the loss draws, the in-order delivery queue. */
class Link {
  readonly #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #tokens: number;
  #tokensAt = 0;
  #lastDeparture = 0;
  #lastDelivery = 0;
  #offset = 0;
  #buffered = 0;
  #ended = false;
  #closed = false;

  constructor(
    readonly shaper: Shaper,
    readonly connection: number,
    readonly direction: Direction,
    readonly source: Socket,
    readonly target: Socket,
  ) {
    this.#tokens = shaper.burstBytes;
  }

  /** Bytes read from `source`: each segment scheduled for its delivery time. */
  push(data: Buffer): void {
    const profile = this.shaper.profile;
    const now = performance.now();
    if (profile === undefined) {
      // Nothing to shape: forwarded at once (no timer hop), counted, with the target's back-pressure.
      if (this.#queue.length === 0 && !this.#closed) {
        this.#forward(data);
        return;
      }
      this.#enqueue(Math.max(now, this.#lastDelivery), data);
      return;
    }
    const segment = this.shaper.segmentBytes;
    const rate = (this.direction === 'up' ? profile.upBitsPerSecond : profile.downBitsPerSecond) / 8 / 1000;
    let at = 0;
    while (at < data.length) {
      // Cut at segment boundaries of the stream, not of this read.
      const room = segment - (this.#offset % segment);
      const piece = data.subarray(at, at + room);
      at += piece.length;
      const index = Math.floor(this.#offset / segment);
      this.#offset += piece.length;
      // Token bucket: the piece has left the link once its tokens were there.
      let departure = Math.max(now, this.#lastDeparture);
      this.#tokens = Math.min(this.shaper.burstBytes, this.#tokens + (departure - this.#tokensAt) * rate);
      if (this.#tokens < piece.length) {
        departure += (piece.length - this.#tokens) / rate;
        this.#tokens = piece.length;
      }
      this.#tokens -= piece.length;
      this.#tokensAt = departure;
      this.#lastDeparture = departure;
      let delivery = departure + profile.rttMs / 2;
      // The loss draw belongs to the segment's first byte: one draw per segment.
      if (
        profile.loss > 0 &&
        this.#offset - piece.length === index * segment &&
        seededUniform(this.shaper.seed, this.connection, this.direction, index) < profile.loss
      ) {
        delivery += retransmissionDelayMs(profile.rttMs);
        this.shaper.counters.lostSegments += 1;
      }
      this.#enqueue(Math.max(delivery, this.#lastDelivery), piece);
    }
  }

  #forward(data: Buffer): void {
    if (!this.target.destroyed && !this.target.write(data)) {
      this.source.pause();
      this.target.once('drain', () => this.source.resume());
    }
    this.shaper.delivered(this, data.length);
  }

  #enqueue(at: number, data: Buffer): void {
    this.#lastDelivery = at;
    this.#queue.push({ at, data });
    this.#buffered += data.length;
    if (this.#buffered > this.shaper.maxBufferedBytes) this.source.pause();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const head = this.#queue[0];
    if (head === undefined) {
      if (this.#ended) {
        this.#closed = true;
        this.target.end();
      }
      return;
    }
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#deliver();
      },
      Math.max(0, head.at - performance.now()),
    );
  }

  #deliver(): void {
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now + 0.5) {
      const { data } = this.#queue.shift()!;
      this.#buffered -= data.length;
      if (!this.target.destroyed) this.target.write(data);
      this.shaper.delivered(this, data.length);
    }
    if (this.#buffered <= this.shaper.maxBufferedBytes / 2 && this.source.isPaused()) this.source.resume();
    this.#schedule();
  }

  /** The source sent its FIN: forwarded after what it sent before. */
  end(): void {
    this.#ended = true;
    this.#schedule();
  }

  destroy(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }
}

export class Shaper {
  profile: LinkProfile | undefined;
  readonly seed: string;
  readonly segmentBytes: number;
  readonly burstBytes: number;
  readonly maxConnections: number;
  readonly maxBufferedBytes: number;
  readonly counters: ShaperCounters = { up: 0, down: 0, connections: 0, exchanges: 0, lostSegments: 0 };
  readonly #upstream: { readonly host: string; readonly port: number };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Per connection: the direction of the last bytes delivered (an exchange starts when up follows down). */
  readonly #lastDirection = new Map<number, Direction>();
  #connections = 0;
  #port = 0;

  private constructor(options: ShaperOptions) {
    if (!isLoopbackHost(options.upstream.host))
      throw new Error(`the shaper forwards to loopback only, not to ${options.upstream.host}`);
    this.profile = options.profile;
    this.seed = options.seed ?? 'mpay';
    this.segmentBytes = options.segmentBytes ?? segmentBytesDefault;
    this.burstBytes = options.burstBytes ?? 0;
    this.maxConnections = options.maxConnections ?? 64;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.#upstream = options.upstream;
    // Half-open allowed: a FIN is forwarded after the bytes before it, not answered at once.
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    this.#server.maxConnections = this.maxConnections;
  }

  /** A shaper listening on 127.0.0.1 on a port of the system's choosing. */
  static async start(options: ShaperOptions): Promise<Shaper> {
    const shaper = new Shaper(options);
    await new Promise<void>((resolve, reject) => {
      shaper.#server.once('error', reject);
      shaper.#server.listen(0, '127.0.0.1', () => {
        shaper.#server.off('error', reject);
        resolve();
      });
    });
    const address = shaper.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the shaper has no TCP address');
    shaper.#port = address.port;
    return shaper;
  }

  get port(): number {
    return this.#port;
  }

  /** `upstreamUrl` with its origin replaced by the shaper's (same scheme, path kept). */
  urlFor(upstreamUrl: string): string {
    const url = new URL(upstreamUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.#port);
    return url.href.replace(/\/$/, '');
  }

  /** A copy of the counters, to subtract one from another. */
  snapshot(): ShaperCounters {
    return { ...this.counters };
  }

  /** Called by a link as it delivers: counts bytes and exchanges. */
  delivered(link: Link, bytes: number): void {
    this.counters[link.direction] += bytes;
    if (link.direction === 'up' && this.#lastDirection.get(link.connection) !== 'up')
      this.counters.exchanges += 1;
    this.#lastDirection.set(link.connection, link.direction);
  }

  #accept(device: Socket): void {
    this.#connections += 1;
    const connection = this.#connections;
    this.counters.connections += 1;
    const server = tcpConnect({ host: this.#upstream.host, port: this.#upstream.port, allowHalfOpen: true });
    this.#sockets.add(device);
    this.#sockets.add(server);
    device.setNoDelay(true);
    server.setNoDelay(true);
    const up = new Link(this, connection, 'up', device, server);
    const down = new Link(this, connection, 'down', server, device);
    device.on('data', (data: Buffer) => up.push(data));
    server.on('data', (data: Buffer) => down.push(data));
    device.on('end', () => up.end());
    server.on('end', () => down.end());
    const close = () => {
      up.destroy();
      down.destroy();
      device.destroy();
      server.destroy();
      this.#sockets.delete(device);
      this.#sockets.delete(server);
      this.#lastDirection.delete(connection);
    };
    device.on('error', close);
    server.on('error', close);
    // A socket closed: nothing more can reach it; the other side gets what is still queued for it, then its FIN.
    device.on('close', () => {
      this.#sockets.delete(device);
      down.destroy();
      up.end();
      if (server.destroyed) close();
    });
    server.on('close', () => {
      this.#sockets.delete(server);
      up.destroy();
      down.end();
      if (device.destroyed) close();
    });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
