import { createServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DeviceHub } from './hub.ts';

describe('device hub', () => {
  it('never gives a slot to a client that already went away, so it cannot lock the customer out', async () => {
    const hub = new DeviceHub({ connectionsPerPartyMax: 2, connectionsMax: 10, heartbeatMs: 60_000 });
    const pending: Promise<void>[] = [];
    const server = createServer((_request, response: ServerResponse) => {
      // The route authenticates before attaching; the client is gone by then.
      pending.push(
        new Promise((done) =>
          setTimeout(() => {
            expect(hub.attach('john@person.xbank', response)).toBe(false);
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
});
