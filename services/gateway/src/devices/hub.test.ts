import { createServer, get, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { EventStream } from './event-stream.ts';
import { DeviceHub } from './hub.ts';

describe('device hub', () => {
  it('never gives a slot to a client that already went away, so it cannot lock the customer out', async () => {
    const hub = new DeviceHub({
      connectionsPerPartyMax: 2,
      connectionsMax: 10,
      heartbeatMs: 60_000,
      compressedStreamsMax: 10,
    });
    const pending: Promise<void>[] = [];
    const server = createServer((request, response: ServerResponse) => {
      // The route authenticates before attaching; the client is gone by then.
      pending.push(
        new Promise((done) =>
          setTimeout(() => {
            const stream = EventStream.open(response, request.headers, { compress: true });
            expect(hub.attach('john@person.xbank', stream)).toBe(false);
            done();
          }, 50),
        ),
      );
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    for (let index = 0; index < 4; index += 1) {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
        setTimeout(() => socket.destroy(), 5);
      });
    }
    await new Promise((done) => setTimeout(done, 150));
    await Promise.all(pending);
    expect(pending).toHaveLength(4);
    expect(hub.isConnected('john@person.xbank')).toBe(false);
    hub.close();
    server.close();
  });

  it("disconnect ends that party's open streams only, and frees their slots", async () => {
    const hub = new DeviceHub({
      connectionsPerPartyMax: 2,
      connectionsMax: 10,
      heartbeatMs: 60_000,
      compressedStreamsMax: 10,
    });
    const server = createServer((request, response: ServerResponse) => {
      const stream = EventStream.open(response, request.headers, { compress: hub.mayCompress() });
      stream.write(': open\n\n');
      hub.attach(String(request.url).slice(1), stream);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    // A stream for the party, open once its first line came; resolves 'ended' when the server ends it.
    const open = (party: string) =>
      new Promise<{ ended: Promise<string> }>((opened, failed) => {
        get({ host: '127.0.0.1', port, path: `/${party}`, agent: false }, (response) => {
          response.once('data', () =>
            opened({ ended: new Promise((ended) => response.on('end', () => ended('ended'))) }),
          );
          response.resume();
        }).on('error', failed);
      });
    try {
      const lost = [(await open('ana')).ended, (await open('ana')).ended];
      const other = (await open('ben')).ended;
      expect(hub.isConnected('ana')).toBe(true);
      expect(hub.disconnect('ana')).toBe(2);
      expect(await Promise.all(lost)).toEqual(['ended', 'ended']);
      expect(hub.isConnected('ana')).toBe(false);
      expect(hub.push('ben', { event: 'payment-request', id: 'p', data: 'x' })).toBe(1);
      expect(hub.disconnect('nobody')).toBe(0);
      // The slots are free again: ana's other devices reconnect.
      const again = [(await open('ana')).ended, (await open('ana')).ended];
      expect(hub.push('ana', { event: 'payment-request', id: 'p', data: 'x' })).toBe(2);
      hub.close();
      expect(await Promise.all([...again, other])).toEqual(['ended', 'ended', 'ended']);
    } finally {
      hub.close();
      server.close();
    }
  });
});
