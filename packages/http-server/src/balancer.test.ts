import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { requestDeadlineMs, within } from '../../../test/support/deadlines.ts';
import { type Balancer, createBalancerLimits, startBalancer } from './balancer.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An instance that answers every line with its name. */
async function instance(name: string): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data) => socket.write(`${name}:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

/** A port nobody listens on: one that was free a moment ago. */
async function deadPort(): Promise<number> {
  const { port, server } = await instance('gone');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function front(ports: number[], limits = {}): Promise<Balancer> {
  const balancer = await startBalancer({
    targets: ports.map((port) => ({ host: '127.0.0.1', port })),
    limits,
  });
  cleanups.push(() => balancer.close());
  return balancer;
}

/** Connects through the front, sends `line`, and returns the answer, or 'closed' when the front closed the connection. */
function ask(balancer: Balancer, line: string): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: balancer.port });
      socket.on('error', () => resolve('closed'));
      socket.on('close', () => resolve('closed'));
      socket.once('data', (data) => {
        resolve(data.toString());
        socket.destroy();
      });
      socket.write(line);
    }),
    { deadlineMs: requestDeadlineMs, what: `an answer to ${line} through the front` },
  );
}

describe('the TCP front of several instances', () => {
  it('hands connections to the instances in turn and pipes both ways', async () => {
    const a = await instance('a');
    const b = await instance('b');
    const balancer = await front([a.port, b.port]);
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await ask(balancer, `q${i}`));
    expect(answers).toEqual(['a:q0', 'b:q1', 'a:q2', 'b:q3']);
    expect(balancer.handedOut).toEqual([2, 2]);
  });

  it('skips an instance whose connect fails, and closes the connection when none answers', async () => {
    const a = await instance('a');
    const balancer = await front([await deadPort(), a.port], { downMs: 60_000 });
    expect(await ask(balancer, 'x')).toBe('a:x');
    expect(await ask(balancer, 'y')).toBe('a:y');
    expect(balancer.handedOut).toEqual([0, 2]);
    const none = await front([await deadPort()]);
    expect(await ask(none, 'z')).toBe('closed');
  });

  it('refuses connections above its maximum, and close() ends the open ones', async () => {
    const a = await instance('a');
    const balancer = await front([a.port], { connectionsMax: 1 });
    const held = connect({ host: '127.0.0.1', port: balancer.port });
    const firstAnswer = new Promise<string>((resolve) =>
      held.once('data', (data) => resolve(data.toString())),
    );
    held.write('hold');
    expect(await within(firstAnswer, { deadlineMs: requestDeadlineMs, what: 'the held connection' })).toBe(
      'a:hold',
    );
    expect(balancer.connections).toBe(1);
    expect(await ask(balancer, 'second')).toBe('closed');
    const heldClosed = new Promise<void>((resolve) => held.on('close', () => resolve()));
    await balancer.close();
    await within(heldClosed, { deadlineMs: requestDeadlineMs, what: 'the held connection to close' });
    expect(balancer.connections).toBe(0);
  });

  it('validates its limits', () => {
    expect(() => createBalancerLimits({ connectionsMax: 0 })).toThrow(/connectionsMax/);
    expect(() => createBalancerLimits({ idleTimeoutMs: 10 })).toThrow(/idleTimeoutMs/);
    expect(createBalancerLimits().connectTimeoutMs).toBe(2_000);
  });
});
