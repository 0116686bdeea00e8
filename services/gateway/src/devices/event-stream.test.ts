import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';
import { EventStream, eventStreamQueuedBytesMax } from './event-stream.ts';
import { DeviceHub } from './hub.ts';

/** Resolves once `condition` holds, looking every 5 ms; fails naming `what` past the request deadline. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + requestDeadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${requestDeadlineMs} ms`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

/** An incompressible event of 8,000 characters. */
function bigEvent(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6_000))).toString('base64url');
}

/** A push as a device gets it: a JWE-sized run of base64url. */
function pushData(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(1_400))).toString('base64url');
}

/**
 * A hub and a server that opens an event stream per request as the devices
 * route does (the path names the party), gzipped while the hub allows.
 */
function streamServer(compressedStreamsMax: number) {
  const hub = new DeviceHub({
    connectionsPerPartyMax: 4,
    connectionsMax: 10,
    heartbeatMs: 60_000,
    compressedStreamsMax,
  });
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const stream = EventStream.open(response, request.headers, { compress: hub.mayCompress() });
    stream.write(': connected\n\n');
    hub.attach(String(request.url).slice(1), stream);
  });
  return {
    hub,
    async listen(): Promise<number> {
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      return (server.address() as { port: number }).port;
    },
    async close(): Promise<void> {
      hub.close();
      // A client that stopped reading would hold the server open.
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

describe('device event streams, plain and gzipped, over real HTTP', () => {
  const streams = streamServer(2);
  const hub = streams.hub;
  let port = 0;
  beforeAll(async () => {
    port = await streams.listen();
  });
  afterAll(() => streams.close());

  /**
   * Opens a stream as `party`; `texts` holds what was decoded so far (gunzipped
   * as it arrives when the server gzipped it), `wire` the bytes received.
   */
  function open(party: string, acceptEncoding: string | undefined) {
    const state = { texts: '', wire: 0, encoding: undefined as string | undefined, ended: false };
    const opened = new Promise<typeof state>((done, failed) => {
      get(
        {
          host: '127.0.0.1',
          port,
          path: `/${party}`,
          agent: false,
          headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
        },
        (response) => {
          state.encoding = response.headers['content-encoding'];
          response.on('data', (chunk: Buffer) => {
            state.wire += chunk.length;
          });
          const decoded = state.encoding === 'gzip' ? response.pipe(createGunzip()) : response;
          decoded.on('data', (chunk: Buffer) => {
            state.texts += chunk.toString('utf8');
            if (state.texts.includes(': connected\n\n')) done(state);
          });
          decoded.on('end', () => {
            state.ended = true;
          });
        },
      ).on('error', failed);
    });
    return within(opened, { deadlineMs: requestDeadlineMs, what: `the stream of ${party}` });
  }

  it('gzips for a device that takes gzip, each event readable as soon as it is written, and smaller', async () => {
    const zipped = await open('ana', 'gzip, deflate');
    const plain = await open('ben', undefined);
    expect(zipped.encoding).toBe('gzip');
    expect(plain.encoding).toBeUndefined();
    const wireBefore = { zipped: zipped.wire, plain: plain.wire };
    const events = [1, 2, 3].map((index) => ({
      event: 'payment-request' as const,
      id: `p${index}`,
      data: pushData(),
    }));
    for (const event of events) {
      expect(hub.push('ana', event)).toBe(1);
      expect(hub.push('ben', event)).toBe(1);
      // The stream stays open: the event must come through the compressor's flush, not its end.
      await waitUntil(() => zipped.texts.includes(event.data), `gzipped event ${event.id}`);
      await waitUntil(() => plain.texts.includes(event.data), `plain event ${event.id}`);
    }
    expect(zipped.texts).toBe(plain.texts);
    const sent = { zipped: zipped.wire - wireBefore.zipped, plain: plain.wire - wireBefore.plain };
    expect(sent.zipped).toBeLessThan(sent.plain * 0.85);
    hub.disconnect('ana');
    hub.disconnect('ben');
  });

  it('gzips at most compressedStreamsMax streams at once; past it, and for gzip;q=0, streams go plain', async () => {
    const first = await open('cy', 'gzip');
    const second = await open('cy', 'gzip');
    const third = await open('dan', 'gzip');
    const refused = await open('eve', 'gzip;q=0');
    expect([first.encoding, second.encoding, third.encoding, refused.encoding]).toEqual([
      'gzip',
      'gzip',
      undefined,
      undefined,
    ]);
    const event = { event: 'payment-request' as const, id: 'p', data: pushData() };
    expect(hub.push('dan', event)).toBe(1);
    await waitUntil(() => third.texts.includes(event.data), 'the plain stream past the limit');
    hub.disconnect('cy');
    // A gzipped slot is free again once a compressed stream closed.
    await waitUntil(() => hub.mayCompress(), 'a gzipped slot freed');
    const again = await open('fay', 'gzip');
    expect(again.encoding).toBe('gzip');
    hub.disconnect('dan');
    hub.disconnect('eve');
    hub.disconnect('fay');
  });

  it('ends a gzipped stream cleanly: the gzip trailer arrives and the device reads the end', async () => {
    const zipped = await open('gus', 'gzip');
    hub.disconnect('gus');
    await waitUntil(() => zipped.ended, 'the end of the gzipped stream');
    expect(zipped.texts).toBe(': connected\n\n');
  });
});

describe('device event streams whose device is gone or stopped reading', () => {
  const streams = streamServer(1);
  const hub = streams.hub;
  let port = 0;
  beforeAll(async () => {
    port = await streams.listen();
  });
  afterAll(() => streams.close());

  /** A raw client asking for gzip; resolves once the head came. `paused`: it then reads nothing more. */
  function rawClient(party: string, paused: boolean) {
    return within(
      new Promise<Socket>((opened, failed) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(`GET /${party} HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\n\r\n`),
        );
        socket.once('data', () => {
          if (paused) socket.pause();
          opened(socket);
        });
        socket.on('error', failed);
      }),
      { deadlineMs: requestDeadlineMs, what: `the stream of ${party}` },
    );
  }

  it('gives its gzipped slot back when the device vanishes without a word', async () => {
    const socket = await rawClient('hana', false);
    await waitUntil(() => hub.isConnected('hana'), 'the stream attached');
    expect(hub.mayCompress()).toBe(false);
    socket.destroy();
    await waitUntil(() => !hub.isConnected('hana'), 'the stream detached');
    expect(hub.mayCompress()).toBe(true);
  });

  it(`cuts off a device that stopped reading once more than ${eventStreamQueuedBytesMax} bytes wait for it`, async () => {
    const socket = await rawClient('ivan', true);
    try {
      await waitUntil(() => hub.isConnected('ivan'), 'the stream attached');
      // Incompressible events of 8 KB: the kernel's buffers fill, then the stream's own; bounded at 40 MB.
      for (let index = 0; index < 5_000 && hub.isConnected('ivan'); index += 1) {
        hub.push('ivan', {
          event: 'payment-request',
          id: `p${index}`,
          data: bigEvent(),
        });
        if (index % 16 === 0) await new Promise((done) => setImmediate(done));
      }
      await waitUntil(() => !hub.isConnected('ivan'), 'the reader that stopped cut off');
      expect(hub.mayCompress()).toBe(true);
    } finally {
      socket.destroy();
    }
  });
});

describe('a burst larger than a stream holds (the requests waiting when a device connects)', () => {
  const events = 400;
  /** `/paced`: each event once there is room (as the devices route writes its backlog); `/burst`: all at once. */
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const stream = EventStream.open(response, request.headers, { compress: true });
    for (let index = 0; index < events; index += 1) {
      if (request.url === '/paced' && !(await stream.whenRoom(requestDeadlineMs))) return;
      stream.write(`event: payment-request\nid: p${index}\ndata: ${pushData()}\n\n`);
    }
    stream.end();
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });

  /** How many events a reading client got before the stream ended or was cut off. */
  function received(path: string) {
    return within(
      new Promise<number>((done) => {
        get(
          { host: '127.0.0.1', port, path, agent: false, headers: { 'accept-encoding': 'gzip' } },
          (response) => {
            let text = '';
            const count = () => text.split('\n\n').filter((block) => block.startsWith('event: ')).length;
            const decoded = response.pipe(createGunzip());
            decoded.on('data', (chunk: Buffer) => {
              text += chunk.toString('utf8');
            });
            decoded.on('end', () => done(count()));
            // Cut off: the gzip stream breaks off unfinished.
            decoded.on('error', () => done(count()));
            response.on('aborted', () => done(count()));
          },
          // Cut off before its head was sent (the burst passed the limit at once): none received.
        ).on('error', () => done(0));
      }),
      { deadlineMs: requestDeadlineMs, what: `the events of ${path}` },
    );
  }

  it(`gets all ${events} events (about 800 KB) when written as the device reads them`, async () => {
    expect(await received('/paced')).toBe(events);
  });

  it(`is cut off past ${eventStreamQueuedBytesMax} bytes when written all at once (why the route paces its backlog)`, async () => {
    expect(await received('/burst')).toBeLessThan(events);
  });
});
