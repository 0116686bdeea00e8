import { MpayError } from '@mpay/protocol';

/** A Server-Sent Event as the wallet sees it. */
export interface ServerSentEvent {
  event: string;
  id: string;
  data: string;
}

export interface SseLimits {
  /** Largest single line, in characters; a longer one ends the stream. */
  lineLengthMax: number;
  /**
   * Largest data of one event (its `data:` lines joined), in characters; a
   * larger one ends the stream. Each line may be within lineLengthMax while a
   * sender that never ends the event makes it grow without end.
   */
  eventDataLengthMax: number;
}

export const defaultSseLimits: SseLimits = { lineLengthMax: 256 * 1024, eventDataLengthMax: 1024 * 1024 };

export interface SseReadOptions extends Partial<SseLimits> {
  /**
   * Longest wait for the body's next bytes, in ms, while the reader waits for
   * them (not while the caller holds an event it was given): past it the
   * stream ends with a retryable SERVICE_UNAVAILABLE. A connection a NAT or a
   * proxy dropped without a word sends nothing, not even the server's
   * heartbeats (comments), so without it such a stream waits for ever.
   * Undefined: no such limit.
   */
  silenceMsMax?: number;
}

/**
 * Parses a `text/event-stream` body (WHATWG HTML §9.2) into events. Works on
 * any ReadableStream, so the same code runs in browsers and in Node. The
 * events do not depend on how the body is cut into chunks (a CRLF split
 * between two chunks is one line end), and each chunk is scanned once, so a
 * long line sent in small pieces costs its length, not its square. A stream
 * that breaks a limit ends with a retryable SERVICE_UNAVAILABLE, as a broken
 * connection does, so the wallet reconnects.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  options: SseReadOptions = {},
): AsyncGenerator<ServerSentEvent> {
  const { lineLengthMax, eventDataLengthMax } = { ...defaultSseLimits, ...options };
  const { silenceMsMax } = options;
  if (silenceMsMax !== undefined && !(Number.isFinite(silenceMsMax) && silenceMsMax > 0))
    throw new MpayError('CONFIGURATION_INVALID', 'silenceMsMax');
  const decoder = new TextDecoder();
  // A line ends at CR, LF or CRLF (WHATWG HTML §9.2.5). One per stream: its lastIndex is this stream's.
  const lineEnd = /[\r\n]/g;
  // The line not ended yet, in the pieces it came in (joined once, when it ends: no copy per chunk).
  let pending: string[] = [];
  let pendingLength = 0;
  // The last chunk ended with a CR: an LF first in the next one is the rest of that CRLF.
  let afterCr = false;
  let event: ServerSentEvent = { event: 'message', id: '', data: '' };
  let hasData = false;

  /** One line's field; the event it completes, if any. */
  const takeLine = (line: string): ServerSentEvent | undefined => {
    if (line.length > lineLengthMax) throw new MpayError('SERVICE_UNAVAILABLE', 'event stream line too long');
    if (line === '') {
      const done = hasData ? event : undefined;
      event = { event: 'message', id: event.id, data: '' };
      hasData = false;
      return done;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    // An empty type is a message (§9.2.6: the type buffer is used only when not empty); an id with NUL is ignored.
    if (field === 'event') event.event = value === '' ? 'message' : value;
    else if (field === 'id') {
      if (!value.includes('\u0000')) event.id = value;
    } else if (field === 'data') {
      if ((hasData ? event.data.length + 1 : 0) + value.length > eventDataLengthMax)
        throw new MpayError('SERVICE_UNAVAILABLE', 'event stream event too large');
      event.data = hasData ? `${event.data}\n${value}` : value;
      hasData = true;
    }
    return undefined;
  };

  const reader = body.getReader();
  let ended = false;
  let silent = false;
  try {
    for (;;) {
      // Armed only while waiting for bytes: a caller that holds an event for long is not silence.
      const silence =
        silenceMsMax === undefined
          ? undefined
          : setTimeout(() => {
              silent = true;
              void reader.cancel().catch(() => undefined);
            }, silenceMsMax);
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } finally {
        clearTimeout(silence);
      }
      if (silent) throw new MpayError('SERVICE_UNAVAILABLE', 'event stream silent');
      if (read.done) {
        ended = true;
        break;
      }
      yield* eventsOf(read.value);
    }
  } finally {
    // A caller that stops early, or an error here: the body is not read further (as for-await's cancel).
    if (!ended && !silent) await reader.cancel().catch(() => undefined);
  }
  // The stream ended: an event without its blank line is dropped, as the standard says.

  /** The events one chunk completes. */
  function* eventsOf(chunk: Uint8Array): Generator<ServerSentEvent> {
    const text = decoder.decode(chunk, { stream: true });
    if (text.length === 0) return;
    let start = afterCr && text.charCodeAt(0) === 10 ? 1 : 0;
    afterCr = false;
    lineEnd.lastIndex = start;
    for (let found = lineEnd.exec(text); found !== null; found = lineEnd.exec(text)) {
      const end = found.index;
      let line = text.slice(start, end);
      if (pending.length > 0) {
        line = pending.join('') + line;
        pending = [];
        pendingLength = 0;
      }
      if (text.charCodeAt(end) === 10) start = end + 1;
      else if (end + 1 === text.length) {
        start = end + 1;
        afterCr = true;
      } else start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      lineEnd.lastIndex = start;
      const done = takeLine(line);
      if (done !== undefined) yield done;
    }
    if (start < text.length) {
      pending.push(text.slice(start));
      pendingLength += text.length - start;
      // A line not ended yet that is already too long: no need to wait for its end.
      if (pendingLength > lineLengthMax)
        throw new MpayError('SERVICE_UNAVAILABLE', 'event stream line too long');
    }
  }
}
