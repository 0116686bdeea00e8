import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { createGzip, type Gzip, constants as zlibConstants } from 'node:zlib';
import { acceptsGzip, eventStreamGzipOptions, requestCodingsTaken } from '@mpay/http-server';

/**
 * Bytes an event stream may hold unsent (its response's buffer plus its
 * compressor's) before the device counts as gone: about a hundred pushes.
 */
export const eventStreamQueuedBytesMax = 256 * 1024;

/** How often `whenRoom` looks again while a burst waits for the device to read. */
const roomPollMs = 10;

/**
 * One device's Server-Sent Events stream, as the hub writes to it: plain, or
 * gzipped for a client that takes gzip (every write flushed at once, with
 * Z_SYNC_FLUSH, so an event reaches the device as soon as it is written; the
 * stream's window reaches the previous event, whose JWE header the next one
 * largely repeats: a push/v2 of about 1.9 KB crosses as about 1.35 KB).
 * The deflate state (about 48 KiB) is freed when the stream closes.
 */
export class EventStream {
  readonly #response: ServerResponse | Http2ServerResponse;
  readonly #gzip: Gzip | undefined;
  /** Set by the response's close: an HTTP/2 stream has no `destroyed`, and its `socket` is the shared connection's. */
  #gone = false;

  private constructor(response: ServerResponse | Http2ServerResponse, gzip: Gzip | undefined) {
    this.#response = response;
    this.#gzip = gzip;
    response.once('close', () => {
      this.#gone = true;
    });
  }

  /**
   * Writes the stream's head (200, text/event-stream, never cached or
   * buffered by a proxy) and returns the stream: gzipped when `compress` and
   * the request's Accept-Encoding takes gzip.
   */
  static open(
    response: ServerResponse | Http2ServerResponse,
    requestHeaders: IncomingHttpHeaders,
    options: { readonly compress: boolean },
  ): EventStream {
    // Made before the head is written: a compressor that cannot be made (zlib out of memory) means a plain stream.
    let compressor: Gzip | undefined;
    if (options.compress && acceptsGzip(requestHeaders['accept-encoding'])) {
      try {
        compressor = createGzip(eventStreamGzipOptions);
      } catch {
        compressor = undefined;
      }
    }
    // HTTP/2 has no connection header (RFC 9113 §8.2.2): its streams are multiplexed on one connection that stays.
    const http2 = response instanceof Http2ServerResponse;
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      ...(http2 ? {} : { connection: 'keep-alive' }),
      'x-accel-buffering': 'no',
      vary: 'accept-encoding',
      // The confirmation takes a gzipped body (RFC 9110 §12.5.3): the device learns it before it confirms.
      'accept-encoding': requestCodingsTaken,
      ...(compressor === undefined ? {} : { 'content-encoding': 'gzip' }),
    });
    if (compressor === undefined) return new EventStream(response, undefined);
    // An HTTP/2 response is no stream.Writable by type, but takes writes, drain and end as one (node:http2's compat API).
    compressor.pipe(response as ServerResponse);
    compressor.on('error', () => response.destroy());
    response.once('close', () => {
      compressor.unpipe(response);
      compressor.destroy();
    });
    return new EventStream(response, compressor);
  }

  /** Whether its client went away (or it was ended): it must not hold a slot. */
  get closed(): boolean {
    const response = this.#response;
    if (this.#gone || response.writableEnded) return true;
    if (response instanceof Http2ServerResponse) return response.stream.destroyed || this.#gzipDone();
    return response.destroyed || response.socket === null || response.socket.destroyed || this.#gzipDone();
  }

  #gzipDone(): boolean {
    return this.#gzip?.destroyed === true || this.#gzip?.writableEnded === true;
  }

  /** Whether it is gzipped. */
  get compressed(): boolean {
    return this.#gzip !== undefined;
  }

  onClose(listener: () => void): void {
    this.#response.on('close', listener);
  }

  /**
   * Writes `text` and sends it on now. Nothing once closed. A device that
   * stopped reading (more than `eventStreamQueuedBytesMax` waiting here) is
   * cut off: what it has not read stays stored, and it gets it again when it
   * opens its stream again.
   */
  write(text: string): void {
    if (this.closed) return;
    if (this.#queued() > eventStreamQueuedBytesMax) {
      this.#response.destroy();
      return;
    }
    if (this.#gzip === undefined) {
      const response = this.#response;
      // Narrowed for the compiler: the two write()s have overloads it cannot unite.
      if (response instanceof Http2ServerResponse) response.write(text);
      else response.write(text);
      return;
    }
    this.#gzip.write(text);
    this.#gzip.flush(zlibConstants.Z_SYNC_FLUSH);
  }

  /** Bytes written here and not yet handed to the connection (the compressor's input and output included). */
  #queued(): number {
    return (
      this.#response.writableLength + (this.#gzip?.writableLength ?? 0) + (this.#gzip?.readableLength ?? 0)
    );
  }

  /**
   * For a burst (the requests waiting when the device connects): resolves
   * true once less than half of `eventStreamQueuedBytesMax` waits here (at
   * once when so), false when the stream closed or `deadlineMs` passed first
   * (the device is not reading; the stream is then cut off). A burst written
   * without it could pass the limit on its own while the compressor catches up.
   */
  async whenRoom(deadlineMs: number): Promise<boolean> {
    const deadline = Date.now() + deadlineMs;
    while (this.#queued() > eventStreamQueuedBytesMax / 2) {
      if (this.closed) return false;
      if (Date.now() > deadline) {
        this.#response.destroy();
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, roomPollMs));
    }
    return !this.closed;
  }

  /** Ends the stream, after `text` if given (the gzip trailer follows it). Nothing once closed. */
  end(text?: string): void {
    if (this.#gzip === undefined) {
      if (this.closed) return;
      if (text === undefined) this.#response.end();
      else this.#response.end(text);
      return;
    }
    if (this.#gzip.destroyed || this.#gzip.writableEnded) return;
    if (text === undefined) this.#gzip.end();
    else this.#gzip.end(text);
  }
}
