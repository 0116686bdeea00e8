import { createServer, get, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor, within } from '../../../../test/support/deadlines.ts';
import { openTestGateway, type TestGateway, testFspIdentity } from '../test-helpers.ts';
import { EventStream } from './event-stream.ts';
import {
  type DeviceRelay,
  deviceNoticeChannel,
  deviceNoticeKey,
  openEnvelope,
  parseEnvelope,
  sealEnvelope,
  startDeviceRelay,
} from './relay.ts';

/**
 * Two gateway instances in one process on one database (the embedded PGlite
 * here, PostgreSQL when DATABASE_URL is set): what one announces reaches the
 * streams the other holds. The whole path with payments is test/e2e/gateways.test.ts.
 */
let a: TestGateway;
let b: TestGateway;
let relayA: DeviceRelay;
let relayB: DeviceRelay;
beforeAll(async () => {
  a = await openTestGateway();
  // Instances of one FSP: the same FSP identity, whose signing key the notices' key comes from.
  b = await openTestGateway({ database: a.database, fsp: a.fsp });
  relayA = await startDeviceRelay(a.context);
  relayB = await startDeviceRelay(b.context);
});
afterAll(async () => {
  await relayA?.stop();
  await relayB?.stop();
  b?.context.hub.close();
  await a?.close();
});

/** A device stream held by `gateway`'s hub; `ended` resolves when the server ends it. */
async function streamAt(gateway: TestGateway, party: string) {
  const server = createServer((request, response: ServerResponse) => {
    const stream = EventStream.open(response, request.headers, {
      compress: gateway.context.hub.mayCompress(),
    });
    stream.write(': open\n\n');
    gateway.context.hub.attach(party, stream);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  const { ended } = await within(
    new Promise<{ ended: Promise<void> }>((opened, failed) => {
      get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
        response.once('data', () =>
          opened({ ended: new Promise((done) => response.on('end', () => done())) }),
        );
        response.resume();
      }).on('error', failed);
    }),
    { deadlineMs: requestDeadlineMs, what: `a stream of ${party}` },
  );
  return { ended, close: () => new Promise<void>((done) => server.close(() => done())) };
}

describe('device notices between gateway instances', () => {
  it("ends a revoked party's streams at the other instance, and not the announcer's own", async () => {
    const atA = await streamAt(a, 'ana@person.xbank');
    const atB = await streamAt(b, 'ana@person.xbank');
    try {
      const handled = relayA.handled;
      await b.context.hub.announce({ kind: 'disconnect', party: 'ana@person.xbank' });
      await within(atA.ended, { deadlineMs: requestDeadlineMs, what: "ana's stream at A to end" });
      expect(a.context.hub.isConnected('ana@person.xbank')).toBe(false);
      expect(relayA.handled).toBe(handled + 1);
      // B ignores its own notice (it acts on what it announces itself).
      expect(b.context.hub.isConnected('ana@person.xbank')).toBe(true);
    } finally {
      b.context.hub.disconnect('ana@person.xbank');
      await atA.close();
      await atB.close();
    }
  });

  it('ignores what it does not understand and a notice of a payment that does not exist', async () => {
    const atA = await streamAt(a, 'ben@person.xbank');
    try {
      const warnings = a.warnings.length;
      await a.database.notify(deviceNoticeChannel, 'not json');
      await b.context.hub.announce({
        kind: 'payment',
        party: 'ben@person.xbank',
        paymentId: '00000000-0000-4000-8000-000000000000',
        event: 'payment-request',
      });
      await waitFor(() => a.warnings.length >= warnings + 2, {
        deadlineMs: requestDeadlineMs,
        what: 'A to warn of both notices',
      });
      expect(a.context.hub.isConnected('ben@person.xbank')).toBe(true);
    } finally {
      a.context.hub.disconnect('ben@person.xbank');
      await atA.close();
    }
  });

  it('ignores a notice no instance of this FSP sealed: bare, under another FSP, or changed after sealing', async () => {
    const atA = await streamAt(a, 'dora@person.xbank');
    try {
      const warnings = a.warnings.length;
      const handled = relayA.handled;
      const envelope = {
        from: 'elsewhere',
        notice: { kind: 'disconnect' as const, party: 'dora@person.xbank' },
      };
      const other = deviceNoticeKey(await testFspIdentity());
      const sealed = sealEnvelope(envelope, deviceNoticeKey(a.fsp));
      for (const payload of [
        JSON.stringify(envelope),
        sealEnvelope(envelope, other),
        sealed.replace('dora@person.xbank', 'dorb@person.xbank'),
        // The MAC's first character carries six of its bits: another one is another MAC.
        `${sealed.startsWith('A') ? 'B' : 'A'}${sealed.slice(1)}`,
      ])
        await a.database.notify(deviceNoticeChannel, payload);
      await waitFor(() => a.warnings.length >= warnings + 4, {
        deadlineMs: requestDeadlineMs,
        what: 'A to warn of the four notices',
      });
      expect(a.context.hub.isConnected('dora@person.xbank')).toBe(true);
      expect(relayA.handled).toBe(handled);
      // The same notice sealed with this FSP's key is taken.
      await a.database.notify(deviceNoticeChannel, sealed);
      await within(atA.ended, { deadlineMs: requestDeadlineMs, what: "dora's stream at A to end" });
    } finally {
      a.context.hub.disconnect('dora@person.xbank');
      await atA.close();
    }
  });

  it('rejects the announce when its notice cannot be sent, so that the push that made it is retried', async () => {
    const alone = await openTestGateway();
    const relay = await startDeviceRelay(alone.context);
    await alone.database.close();
    try {
      await expect(
        alone.context.hub.announce({ kind: 'disconnect', party: 'cai@person.xbank' }),
      ).rejects.toThrow();
    } finally {
      await relay.stop().catch(() => undefined);
      alone.context.hub.close();
    }
  });

  it('opens only what its key sealed', async () => {
    const key = deviceNoticeKey(a.fsp);
    const envelope = {
      from: 'x',
      notice: { kind: 'refund' as const, party: 'ana@person.xbank', refundId: 'r1' },
    };
    expect(openEnvelope(sealEnvelope(envelope, key), key)).toEqual(envelope);
    expect(
      openEnvelope(sealEnvelope(envelope, key), deviceNoticeKey(await testFspIdentity())),
    ).toBeUndefined();
    expect(openEnvelope(`.${JSON.stringify(envelope)}`, key)).toBeUndefined();
    expect(openEnvelope('', key)).toBeUndefined();
    // The key is the FSP's alone: another FSP id with the same signing key derives another.
    expect(deviceNoticeKey({ ...a.fsp, id: 'other.fsp' }).equals(key)).toBe(false);
  });

  it('reads only the notices it knows, ids and no more', () => {
    const notice = { kind: 'refund', party: 'ana@person.xbank', refundId: 'r1' };
    expect(parseEnvelope(JSON.stringify({ from: 'x', notice }))).toEqual({ from: 'x', notice });
    expect(
      parseEnvelope(JSON.stringify({ from: 'x', notice: { ...notice, kind: 'other' } })),
    ).toBeUndefined();
    expect(
      parseEnvelope(
        JSON.stringify({
          from: 'x',
          notice: { kind: 'payment', party: 'p', paymentId: 'i', event: 'secret' },
        }),
      ),
    ).toBeUndefined();
    expect(parseEnvelope(JSON.stringify({ notice }))).toBeUndefined();
    expect(parseEnvelope('[]')).toBeUndefined();
  });
});
