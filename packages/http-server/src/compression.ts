/**
 * gzip for the answers that are mostly compact JOSE (base64url: 6 bits of
 * information in every 8-bit character, so deflate's Huffman coding alone
 * gives back about a fifth to a quarter): the device's confirmation answer
 * and its event stream. A route opts in (`gzipAnswers` as its onSend hook);
 * the answer is compressed only for a client whose Accept-Encoding takes
 * gzip, and only above a size.
 *
 * Compression and secrets (BREACH): a length oracle needs a secret and
 * attacker-chosen text compressed together, and an attacker who can make the
 * victim's client send requests with its credentials. The routes that opt in
 * carry ciphertext (JWE) beside public ids, and their requests are signed by
 * the device's key, not carried by a cookie: neither holds. A route whose
 * answer mixes a secret with echoed input must not opt in.
 */

import { constants as bufferConstants } from 'node:buffer';
import { Http2ServerRequest, constants as http2Constants } from 'node:http2';
import { type Readable, Transform } from 'node:stream';
import { gunzipSync, gzip as gzipCallback, gzipSync, constants as zlibConstants } from 'node:zlib';
import { MpayError } from '@mpay/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface CompressionLimits {
  /** Answers shorter than this go as they are (gzip's 18 bytes of framing and the header cost more). */
  readonly minimumBytes: number;
  /** zlib level, 1 (fastest) to 9; on base64url text they differ by a few bytes. */
  readonly level: number;
  /**
   * Answers up to this size are compressed on the event loop, larger ones on
   * libuv's thread pool. For the answers that opt in (a few KiB of JOSE) the
   * pool's hand-off costs more than the work: measured here on a 2 KiB
   * answer, about 60 µs of CPU compressed in place against 325 µs through
   * the pool (the callback form and its stream).
   */
  readonly inlineBytesMax: number;
}

export const defaultCompressionLimits: CompressionLimits = Object.freeze({
  minimumBytes: 512,
  level: 6,
  inlineBytesMax: 64 * 1024,
});

/** Validated limits: integers, minimumBytes and inlineBytesMax in 0..1 MiB, level in 1..9. */
export function createCompressionLimits(overrides: Partial<CompressionLimits> = {}): CompressionLimits {
  const limits = { ...defaultCompressionLimits, ...overrides };
  if (!Number.isSafeInteger(limits.minimumBytes) || limits.minimumBytes < 0 || limits.minimumBytes > 1 << 20)
    throw new RangeError('compression: minimumBytes must be an integer in 0..1048576');
  if (!Number.isSafeInteger(limits.level) || limits.level < 1 || limits.level > 9)
    throw new RangeError('compression: level must be an integer in 1..9');
  if (
    !Number.isSafeInteger(limits.inlineBytesMax) ||
    limits.inlineBytesMax < 0 ||
    limits.inlineBytesMax > 1 << 20
  )
    throw new RangeError('compression: inlineBytesMax must be an integer in 0..1048576');
  return Object.freeze(limits);
}

/** Longer Accept-Encoding values, or more members, are read as not taking gzip (hostile input, bounded work). */
const acceptEncodingLengthMax = 1024;
const acceptEncodingMembersMax = 32;

function qualityOf(parameters: readonly string[]): number {
  for (const parameter of parameters) {
    const [name, value] = parameter.split('=').map((part) => part.trim());
    if (name?.toLowerCase() !== 'q') continue;
    if (value === undefined || !/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return 0;
    return Number(value);
  }
  return 1;
}

/**
 * Whether an Accept-Encoding header takes gzip (RFC 9110 §12.5.3): `gzip`
 * (or its alias `x-gzip`) with a quality above 0, or, when neither is named,
 * `*` with a quality above 0. No header, an empty one, a malformed quality
 * (read as 0) or an oversized header: no.
 */
export function acceptsGzip(header: string | readonly string[] | undefined): boolean {
  const text = typeof header === 'string' ? header : header?.join(',');
  if (text === undefined || text.length > acceptEncodingLengthMax) return false;
  const members = text.split(',');
  if (members.length > acceptEncodingMembersMax) return false;
  let named: number | undefined;
  let wildcard: number | undefined;
  for (const member of members) {
    const [coding, ...parameters] = member.split(';');
    const name = coding?.trim().toLowerCase();
    if (name === 'gzip' || name === 'x-gzip') named = Math.max(named ?? 0, qualityOf(parameters));
    else if (name === '*') wildcard = qualityOf(parameters);
  }
  return (named ?? wildcard ?? 0) > 0;
}

/** Adds `accept-encoding` to the answer's Vary (its body depends on it), keeping what a route set. */
export function varyOnAcceptEncoding(reply: FastifyReply): void {
  const current = reply.getHeader('vary');
  const members = (Array.isArray(current) ? current.join(',') : typeof current === 'string' ? current : '')
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '');
  if (members.some((member) => member === '*' || member.toLowerCase() === 'accept-encoding')) return;
  reply.header('vary', [...members, 'accept-encoding'].join(', '));
}

type OnSendDone = (error: Error | null, payload?: unknown) => void;

/**
 * A route's onSend hook: its answer gzipped when the client takes gzip and
 * the body (a string or a Buffer: what Fastify serialised) is at least
 * `minimumBytes`. A body that could not be compressed goes as it was.
 */
export function gzipAnswers(limits: Partial<CompressionLimits> = defaultCompressionLimits) {
  const checked = createCompressionLimits(limits);
  return (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone): void => {
    varyOnAcceptEncoding(reply);
    const body =
      typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : undefined;
    if (
      body === undefined ||
      body.length < checked.minimumBytes ||
      reply.hasHeader('content-encoding') ||
      !acceptsGzip(request.headers['accept-encoding'])
    ) {
      done(null, payload);
      return;
    }
    const compressed = (result: Buffer) => {
      reply.header('content-encoding', 'gzip');
      reply.removeHeader('content-length');
      done(null, result);
    };
    if (body.length <= checked.inlineBytesMax) {
      let result: Buffer;
      try {
        result = gzipSync(body, { level: checked.level });
      } catch {
        done(null, payload);
        return;
      }
      compressed(result);
      return;
    }
    gzipCallback(body, { level: checked.level }, (error, result) => {
      if (error !== null) done(null, payload);
      else compressed(result);
    });
  };
}

/**
 * zlib settings of one compressed event stream: a 4 KiB window (it reaches the
 * previous event, whose JWE header and key id the next one repeats: about a
 * tenth more saved than Huffman coding alone) and memLevel 6; by zlib's
 * formula about 48 KiB of deflate state per stream.
 */
export const eventStreamGzipOptions = Object.freeze({
  level: 6,
  windowBits: 12,
  memLevel: 6,
  chunkSize: 4096,
  flush: zlibConstants.Z_NO_FLUSH,
});

/**
 * What a route that takes gzipped bodies says in its answers (RFC 9110
 * §12.5.3: Accept-Encoding in a response names the codings the server takes
 * in requests), so that a client compresses only for a server that reads it.
 */
export const requestCodingsTaken = 'gzip';

/**
 * A gzip body inflated in one call once all of it has arrived (its encoded
 * bytes are counted against the route's limit as they arrive, below): for
 * the bodies that opt in (a compact JWE of a KiB or two) inflating in place
 * costs about 35 µs of CPU, zlib's stream through the thread pool about
 * 240 µs (measured here on a 750-byte body). At most `limit` + 1 bytes come
 * out (a bomb stops there): one past the limit is REQUEST_TOO_LARGE.
 * Input that is not gzip, or is cut short, fails with zlib's own error, as
 * the stream would.
 */
function inflateWhenWhole(limit: number): Transform {
  const chunks: Buffer[] = [];
  const outputMax = Math.min(limit + 1, bufferConstants.MAX_LENGTH);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
    flush(callback) {
      let inflated: Buffer;
      try {
        const whole = Buffer.concat(chunks);
        chunks.length = 0;
        inflated = gunzipSync(whole, { maxOutputLength: outputMax });
      } catch (error) {
        const tooLarge =
          error instanceof RangeError && 'code' in error && error.code === 'ERR_BUFFER_TOO_LARGE';
        callback(tooLarge ? new MpayError('REQUEST_TOO_LARGE') : (error as Error));
        return;
      }
      if (inflated.length > limit) callback(new MpayError('REQUEST_TOO_LARGE'));
      else callback(null, inflated);
    },
  });
}

/** A request body stream as Fastify reads it after preParsing: the encoded bytes counted for its checks. */
type DecodedBody = Readable & { receivedEncodedLength?: number };

type PreParsingDone = (error: Error | null, payload?: Readable) => void;

/**
 * A route's preParsing hook: a body sent with `Content-Encoding: gzip` (the
 * device's confirmation: compact JWE, whose base64url deflate codes at about
 * three quarters) is counted as it arrives, refused (413) once its encoded
 * bytes pass the route's body limit, and inflated in one call once all of it
 * has come (`inflateWhenWhole`): a small body that inflates past the limit is
 * refused (413) there, one byte past it, and Fastify checks Content-Length
 * against the bytes received; a body that is not gzip is REQUEST_INVALID. No coding
 * (or `identity`) passes as it is; any other coding is 415 with
 * `Accept-Encoding: gzip`. Nothing here is compressed, so no length oracle.
 */
export function gunzipRequests() {
  return (request: FastifyRequest, reply: FastifyReply, payload: DecodedBody, done: PreParsingDone): void => {
    const header = request.headers['content-encoding'];
    const coding = (typeof header === 'string' ? header : '').trim().toLowerCase();
    if (header === undefined || coding === '' || coding === 'identity') {
      done(null, payload);
      return;
    }
    if (coding !== 'gzip' && coding !== 'x-gzip') {
      reply.header('accept-encoding', requestCodingsTaken);
      done(new MpayError('REQUEST_ENCODING_UNSUPPORTED', coding.slice(0, 40)));
      return;
    }
    const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
    const gunzip = inflateWhenWhole(limit);
    const decoded: DecodedBody = gunzip;
    // Once answered (a 413 when the decoded body passed the limit, any other end): nothing more is
    // inflated, and an HTTP/2 stream whose client is still sending is told to stop with RST_STREAM
    // NO_ERROR after the complete answer (RFC 9113 §8.1; HTTP/2 has no Connection: close). An HTTP/2
    // answer's own 'finish' comes only when its stream closes: the stream's writable side is watched.
    let inflatedWhole = false;
    gunzip.once('end', () => {
      inflatedWhole = true;
    });
    const raw: unknown = request.raw;
    const stop = () => {
      payload.unpipe(gunzip);
      gunzip.destroy();
      if (!inflatedWhole && raw instanceof Http2ServerRequest && !raw.stream.closed)
        raw.stream.close(http2Constants.NGHTTP2_NO_ERROR);
    };
    (raw instanceof Http2ServerRequest ? raw.stream : reply.raw).once('finish', stop);
    let encoded = 0;
    payload.on('data', (chunk: Buffer) => {
      encoded += chunk.length;
      decoded.receivedEncodedLength = encoded;
      // Counted here too: Fastify counts only when gzip gives output, and some inputs give none.
      if (encoded > limit) gunzip.destroy(new MpayError('REQUEST_TOO_LARGE'));
    });
    payload.on('error', (error: Error) => gunzip.destroy(error));
    gunzip.once('error', () => payload.unpipe(gunzip));
    payload.pipe(gunzip);
    done(null, decoded);
  };
}
