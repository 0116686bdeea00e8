import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { readServerSentEvents } from './sse.ts';

function streamOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function read(chunks: readonly string[], lineLengthMax: number) {
  const events = [];
  for await (const event of readServerSentEvents(streamOf(chunks), { lineLengthMax })) events.push(event);
  return events;
}

describe('readServerSentEvents', () => {
  it('reads events split anywhere across chunks, with CRLF, comments and multi-line data', async () => {
    const events = await read(
      ['event: pay', 'ment\r\nid: 1\r\ndata: a\ndata', ': b\n\n: keep-alive\n\n'],
      64,
    );
    expect(events).toEqual([{ event: 'payment', id: '1', data: 'a\nb' }]);
  });

  // Regression (fuzz campaign sse-reader): a line longer than the limit threw a plain Error, which
  // callers could not tell from a programming error. It is a retryable SERVICE_UNAVAILABLE now.
  it('ends a stream whose line outgrows the limit with a retryable SERVICE_UNAVAILABLE', async () => {
    const error = await read(['event: payment\nid: 9999999999999'], 16).catch((caught: unknown) => caught);
    expect(isMpayError(error, 'SERVICE_UNAVAILABLE')).toBe(true);
    expect(isMpayError(error) && error.category).toBe('retryable');
  });
});
