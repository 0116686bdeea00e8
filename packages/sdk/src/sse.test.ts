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

async function read(chunks: readonly string[], lineLengthMax?: number) {
  const events = [];
  const limits = lineLengthMax === undefined ? {} : { lineLengthMax };
  for await (const event of readServerSentEvents(streamOf(chunks), limits)) events.push(event);
  return events;
}

/** The events of `text` cut into chunks at `cuts`, or the code of the error that ended the stream. */
async function readCut(text: string, cuts: readonly number[], lineLengthMax?: number) {
  const chunks = [...cuts, text.length].map((end, index) => text.slice(cuts[index - 1] ?? 0, end));
  return read(chunks, lineLengthMax).catch((error: unknown) => (isMpayError(error) ? error.code : error));
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

  it('reads the same events however the body is cut, a CRLF split between two chunks included', async () => {
    const text = 'event: pay\r\ndata: a\r\ndata: b\r\n\r\nid: 7\rdata: c\r\rdata: d\n\n: ping\r\n\r\n';
    const whole = await readCut(text, []);
    expect(whole).toEqual([
      { event: 'pay', id: '', data: 'a\nb' },
      { event: 'message', id: '7', data: 'c' },
      { event: 'message', id: '7', data: 'd' },
    ]);
    for (let first = 0; first <= text.length; first++)
      for (let second = first; second <= text.length; second += 3)
        expect(await readCut(text, [first, second]), `cut at ${first} and ${second}`).toEqual(whole);
  });

  it('dispatches an event whose blank line is a CR at the very end of the stream', async () => {
    expect(await read(['data: x\n', '\r'])).toEqual([{ event: 'message', id: '', data: 'x' }]);
    // Without its blank line the event is dropped, as the standard says.
    expect(await read(['data: x\n'])).toEqual([]);
  });

  it('refuses a line longer than the limit even when it ends within one chunk', async () => {
    expect(await readCut('data: 0123456789abcdef\n\n', [], 16)).toBe('SERVICE_UNAVAILABLE');
    expect(await readCut('data: 0123456789\n\n', [], 16)).toEqual([
      { event: 'message', id: '', data: '0123456789' },
    ]);
  });

  it('ends a stream whose event grows past eventDataLengthMax in lines each within the line limit', async () => {
    const line = `data: ${'x'.repeat(100 * 1024)}\n`;
    // 20 lines of 100 KiB: about 2 MiB in one event that never ends, each line well within 256 KiB.
    expect(await readCut(line.repeat(20), [])).toBe('SERVICE_UNAVAILABLE');
    // Nine lines (about 0.9 MiB) and the blank line: one event, under the 1 MiB default.
    const events = await readCut(`${line.repeat(9)}\n`, []);
    expect(events).toHaveLength(1);
    expect((events as { data: string }[])[0]?.data).toHaveLength(9 * 100 * 1024 + 8);
  });

  it('names an event of an empty type a message, and ignores an id that holds NUL (WHATWG HTML 9.2.6)', async () => {
    expect(await read(['id: 1\nevent: pay\nevent:\ndata: x\n\nid: 2\u0000\ndata: y\n\n'])).toEqual([
      { event: 'message', id: '1', data: 'x' },
      { event: 'message', id: '1', data: 'y' },
    ]);
  });

  it('ends a stream that sends nothing for silenceMsMax while it waits, not while the caller holds an event', async () => {
    const encoder = new TextEncoder();
    let cancelled = false;
    // Two events in two chunks at once, then nothing: the connection is there but silent.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(': connected\n\nevent: a\ndata: 1\n\n'));
        controller.enqueue(encoder.encode('event: b\ndata: 2\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const events = readServerSentEvents(body, { silenceMsMax: 50 });
    expect((await events.next()).value).toMatchObject({ event: 'a' });
    // Held three times the limit: the timer runs only while the reader waits for bytes.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await events.next()).value).toMatchObject({ event: 'b' });
    await expect(events.next()).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      detail: 'event stream silent',
    });
    expect(cancelled).toBe(true);
  });

  it('cancels the body when the caller stops reading early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: 1\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readServerSentEvents(body)) {
      expect(event.data).toBe('1');
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('refuses a silence limit that is not a positive number', async () => {
    for (const silenceMsMax of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      await expect(readServerSentEvents(streamOf([]), { silenceMsMax }).next()).rejects.toMatchObject({
        code: 'CONFIGURATION_INVALID',
      });
  });
});
