import { createServer, get, type ServerResponse } from 'node:http';
import type { Sql } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor, within } from '../../../../test/support/deadlines.ts';
import { openTestGateway, type TestGateway, testFspIdentity } from '../test-helpers.ts';
import { EventStream } from './event-stream.ts';
import {
  type DeviceRelay,
  deviceNoticeChannel,
  deviceNoticeKey,
  NoticeReplayGuard,
  openEnvelope,
  parseEnvelope,
  relayNoticeLifetimeMs,
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
        seq: 1,
        at: Date.now(),
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

  it('refuses a sealed notice sent again as seen, and one past its lifetime', async () => {
    const atA = await streamAt(a, 'emil@person.xbank');
    try {
      const key = deviceNoticeKey(a.fsp);
      const notice = { kind: 'disconnect' as const, party: 'emil@person.xbank' };
      const taken = sealEnvelope({ from: 'elsewhere', seq: 7, at: Date.now(), notice }, key);
      await a.database.notify(deviceNoticeChannel, taken);
      await within(atA.ended, { deadlineMs: requestDeadlineMs, what: "emil's first stream at A to end" });
    } finally {
      await atA.close();
    }
    const again = await streamAt(a, 'emil@person.xbank');
    try {
      const key = deviceNoticeKey(a.fsp);
      const notice = { kind: 'disconnect' as const, party: 'emil@person.xbank' };
      const warnings = a.warnings.length;
      const handled = relayA.handled;
      await a.database.notify(
        deviceNoticeChannel,
        sealEnvelope({ from: 'elsewhere', seq: 7, at: Date.now(), notice }, key),
      );
      await a.database.notify(
        deviceNoticeChannel,
        sealEnvelope({ from: 'elsewhere', seq: 8, at: Date.now() - 2 * relayNoticeLifetimeMs, notice }, key),
      );
      await waitFor(() => a.warnings.length >= warnings + 2, {
        deadlineMs: requestDeadlineMs,
        what: 'A to refuse the replay and the stale notice',
      });
      expect(a.warnings.slice(warnings)).toEqual([
        expect.objectContaining({ admitted: 'replayed' }),
        expect.objectContaining({ admitted: 'stale' }),
      ]);
      expect(a.context.hub.isConnected('emil@person.xbank')).toBe(true);
      expect(relayA.handled).toBe(handled);
    } finally {
      a.context.hub.disconnect('emil@person.xbank');
      await again.close();
    }
  });

  it('remembers each notice for its lifetime only, and at most so many', () => {
    const guard = new NoticeReplayGuard(1_000, 3);
    const notice = { kind: 'disconnect' as const, party: 'p' };
    const at = 1_000_000;
    const named = (seq: number, sent = at) => ({ from: 'x', seq, at: sent, notice });
    expect(guard.admit(named(1), at)).toBe('fresh');
    expect(guard.admit(named(1), at + 10)).toBe('replayed');
    expect(guard.admit({ ...named(1), from: 'y' }, at + 10)).toBe('fresh');
    expect(guard.admit(named(2, at - 1_001), at)).toBe('stale');
    expect(guard.admit(named(3, at + 1_001), at)).toBe('stale');
    // Past its lifetime it is stale before it could be a replay.
    expect(guard.admit(named(1), at + 1_001)).toBe('stale');
    // Full: the oldest is forgotten first.
    expect(guard.admit(named(4), at + 20)).toBe('fresh');
    expect(guard.admit(named(5), at + 20)).toBe('fresh');
    expect(guard.admit(named(1), at + 30)).toBe('fresh');
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

  it('commits a notice with its record in one transaction: both, or neither when the record fails', async () => {
    const table = `relay_records_${Date.now().toString(36)}`;
    await b.database.exec(`CREATE TABLE ${table} (party text NOT NULL)`);
    const eve = await streamAt(a, 'eve@person.xbank');
    const dan = await streamAt(a, 'dan@person.xbank');
    try {
      // A record that fails: the transaction rolls back, the notice with it (eve's stream stays open).
      await expect(
        b.context.hub.announce({ kind: 'disconnect', party: 'eve@person.xbank' }, async (sql) => {
          await sql.query(`INSERT INTO ${table} (party) VALUES (NULL)`);
        }),
      ).rejects.toThrow();
      // A record that holds: both commit. Notices arrive in the order of their commits, so once dan's is
      // handled at A, eve's would have been too, had it been sent.
      await b.context.hub.announce({ kind: 'disconnect', party: 'dan@person.xbank' }, async (sql) => {
        await sql.query(`INSERT INTO ${table} (party) VALUES ($1)`, ['dan@person.xbank']);
      });
      await within(dan.ended, { deadlineMs: requestDeadlineMs, what: "dan's stream at A to end" });
      expect(a.context.hub.isConnected('dan@person.xbank')).toBe(false);
      expect(a.context.hub.isConnected('eve@person.xbank')).toBe(true);
      const { rows } = await b.database.query(`SELECT party FROM ${table}`);
      expect(rows).toEqual([{ party: 'dan@person.xbank' }]);
    } finally {
      a.context.hub.disconnect('eve@person.xbank');
      await eve.close();
      await dan.close();
      await b.database.exec(`DROP TABLE ${table}`);
    }
  });

  it('says whether it recorded: true with a relay, false (the record not run) once its relay stopped', async () => {
    const alone = await openTestGateway();
    const relay = await startDeviceRelay(alone.context);
    const recorded: string[] = [];
    // A record is one statement (NoticeRecord): the notice's transaction commits only with it.
    const record = (party: string) => async (sql: Sql) => {
      recorded.push(party);
      await sql.query('SELECT $1::text AS party', [party]);
    };
    try {
      expect(
        await alone.context.hub.announce({ kind: 'disconnect', party: 'fay@person.xbank' }, record('fay')),
      ).toBe(true);
      await relay.stop();
      // The push that announces now writes its mark itself (outbox/deliver.ts's pushToDevice).
      expect(
        await alone.context.hub.announce({ kind: 'disconnect', party: 'gus@person.xbank' }, record('gus')),
      ).toBe(false);
      expect(recorded).toEqual(['fay']);
    } finally {
      await relay.stop();
      alone.context.hub.close();
      await alone.close();
    }
  });

  it('sends nothing, and records nothing, for a notice too long to send', async () => {
    const table = `relay_long_${Date.now().toString(36)}`;
    await b.database.exec(`CREATE TABLE ${table} (party text NOT NULL)`);
    try {
      // A party id no real one is: the sealed notice is over the channel's payload limit.
      const party = `${'x'.repeat(8_000)}@person.xbank`;
      await expect(
        b.context.hub.announce({ kind: 'disconnect', party }, async (sql) => {
          await sql.query(`INSERT INTO ${table} (party) VALUES ($1)`, [party]);
        }),
      ).rejects.toThrow(/payload/);
      const { rows } = await b.database.query(`SELECT party FROM ${table}`);
      expect(rows).toEqual([]);
    } finally {
      await b.database.exec(`DROP TABLE ${table}`);
    }
  });

  it('opens only what its key sealed', async () => {
    const key = deviceNoticeKey(a.fsp);
    const envelope = {
      from: 'x',
      seq: 1,
      at: Date.now(),
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
    const named = { from: 'x', seq: 3, at: 1_700_000_000_000 };
    expect(parseEnvelope(JSON.stringify({ ...named, notice }))).toEqual({ ...named, notice });
    expect(parseEnvelope(JSON.stringify({ ...named, notice: { ...notice, kind: 'other' } }))).toBeUndefined();
    expect(
      parseEnvelope(
        JSON.stringify({
          ...named,
          notice: { kind: 'payment', party: 'p', paymentId: 'i', event: 'secret' },
        }),
      ),
    ).toBeUndefined();
    expect(parseEnvelope(JSON.stringify({ ...named, from: undefined, notice }))).toBeUndefined();
    // A notice without its name and time (the version before the seal) is not read.
    expect(parseEnvelope(JSON.stringify({ from: 'x', notice }))).toBeUndefined();
    expect(parseEnvelope(JSON.stringify({ ...named, seq: -1, notice }))).toBeUndefined();
    expect(parseEnvelope(JSON.stringify({ ...named, at: 1.5, notice }))).toBeUndefined();
    expect(parseEnvelope('[]')).toBeUndefined();
  });
});
