/**
 * The shaper on a loopback echo server. Only lower bounds on elapsed time
 * are asserted: the shaper must hold bytes back at least as long as its
 * model says; a slow machine can only make a transfer take longer.
 */
import { once } from 'node:events';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs } from '../../../../test/support/deadlines.ts';
import { type LinkProfile, retransmissionDelayMs, Shaper, seededUniform } from './shaper.ts';

let echo: Server;
let echoPort = 0;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no echo address');
  echoPort = address.port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** Sends `bytes` through a shaper with `profile` to the echo server; ms until all came back, and the counters. */
async function echoThrough(profile: LinkProfile, bytes: number, seed = 'test') {
  const shaper = await Shaper.start({ upstream: { host: '127.0.0.1', port: echoPort }, profile, seed });
  try {
    const socket = tcpConnect({ host: '127.0.0.1', port: shaper.port });
    await once(socket, 'connect');
    const started = performance.now();
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('echo not back in time')), requestDeadlineMs);
      socket.on('data', (data: Buffer) => {
        received += data.length;
        if (received >= bytes) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.on('error', reject);
    });
    socket.write(Buffer.alloc(bytes, 7));
    await done;
    const elapsedMs = performance.now() - started;
    socket.destroy();
    return { elapsedMs, counters: shaper.snapshot() };
  } finally {
    await shaper.close();
  }
}

const fast = 1_000_000_000;

describe('shaper', () => {
  it('adds the round trip to a small message, one half each way', async () => {
    const { elapsedMs, counters } = await echoThrough(
      { rttMs: 300, upBitsPerSecond: fast, downBitsPerSecond: fast, loss: 0 },
      10,
    );
    expect(elapsedMs).toBeGreaterThanOrEqual(299);
    expect(counters).toMatchObject({ up: 10, down: 10, connections: 1, exchanges: 1, lostSegments: 0 });
  });

  it('holds bytes to the uplink bandwidth (16 KB at 64 kbit/s: about 2 s)', async () => {
    const bytes = 16 * 1024;
    const { elapsedMs, counters } = await echoThrough(
      { rttMs: 0, upBitsPerSecond: 64_000, downBitsPerSecond: fast, loss: 0 },
      bytes,
    );
    // No burst by default: every byte waits for its tokens.
    const floorMs = (bytes * 8 * 1000) / 64_000;
    expect(elapsedMs).toBeGreaterThanOrEqual(floorMs - 5);
    expect(counters.up).toBe(bytes);
    expect(counters.down).toBe(bytes);
  });

  it('holds bytes to the downlink bandwidth too', async () => {
    const bytes = 8 * 1024;
    const { elapsedMs } = await echoThrough(
      { rttMs: 0, upBitsPerSecond: fast, downBitsPerSecond: 32_000, loss: 0 },
      bytes,
    );
    expect(elapsedMs).toBeGreaterThanOrEqual((bytes * 8 * 1000) / 32_000 - 5);
  });

  it('delays a lost segment by one retransmission, max(200 ms, 2 × RTT)', async () => {
    expect(retransmissionDelayMs(50)).toBe(200);
    expect(retransmissionDelayMs(400)).toBe(800);
    // Loss almost 1: the one segment each way is lost.
    const { elapsedMs, counters } = await echoThrough(
      { rttMs: 50, upBitsPerSecond: fast, downBitsPerSecond: fast, loss: 0.999999 },
      100,
    );
    expect(counters.lostSegments).toBe(2);
    expect(elapsedMs).toBeGreaterThanOrEqual(50 + 2 * 200 - 1);
  });

  it('draws the same losses from the same seed', async () => {
    const profile = { rttMs: 0, upBitsPerSecond: fast, downBitsPerSecond: fast, loss: 0.3 };
    const first = await echoThrough(profile, 30 * 1460, 'seed-a');
    const again = await echoThrough(profile, 30 * 1460, 'seed-a');
    expect(again.counters.lostSegments).toBe(first.counters.lostSegments);
    expect(first.counters.lostSegments).toBeGreaterThan(0);
    expect(seededUniform('a', 1, 'up', 2)).toBe(seededUniform('a', 1, 'up', 2));
    expect(seededUniform('a', 1, 'up', 2)).not.toBe(seededUniform('b', 1, 'up', 2));
  });

  it('forwards to loopback only, and refuses connections above its bound', async () => {
    await expect(Shaper.start({ upstream: { host: '192.0.2.1', port: 80 } })).rejects.toThrow(
      /loopback only/,
    );
    const shaper = await Shaper.start({ upstream: { host: '127.0.0.1', port: echoPort }, maxConnections: 1 });
    try {
      const first = tcpConnect({ host: '127.0.0.1', port: shaper.port });
      await once(first, 'connect');
      first.write('x');
      await once(first, 'data');
      const second = tcpConnect({ host: '127.0.0.1', port: shaper.port });
      second.on('error', () => undefined);
      await once(second, 'close');
      expect(shaper.counters.connections).toBe(1);
      first.destroy();
    } finally {
      await shaper.close();
    }
  });
});
