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
}

export const defaultSseLimits: SseLimits = { lineLengthMax: 256 * 1024 };

/**
 * Parses a `text/event-stream` body (WHATWG HTML §9.2) into events. Works on
 * any ReadableStream, so the same code runs in browsers and in Node.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  limits: SseLimits = defaultSseLimits,
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event: ServerSentEvent = { event: 'message', id: '', data: '' };
  let hasData = false;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(
        buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? newline + 2 : newline + 1,
      );
      if (line === '') {
        if (hasData) yield event;
        event = { event: 'message', id: event.id, data: '' };
        hasData = false;
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = value;
        else if (field === 'id') event.id = value;
        else if (field === 'data') {
          event.data = hasData ? `${event.data}\n${value}` : value;
          hasData = true;
        }
      }
      newline = buffer.search(/\r\n|\r|\n/);
    }
    // A stream that never ends its line is cut off like any broken connection: retryable, so the
    // wallet reconnects as it does after a network failure (found by the fuzz campaign sse-reader).
    if (buffer.length > limits.lineLengthMax)
      throw new MpayError('SERVICE_UNAVAILABLE', 'event stream line too long');
  }
}
