import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { isMpayError } from '@mpay/protocol';
import { commitWithLastStatements, type Database, together } from '@mpay/storage';
import type { FspIdentity, GatewayContext } from '../context.ts';
import { paymentEventForStreams } from '../outbox/deliver.ts';
import { refundEventForStreams } from '../refunds/view.ts';
import type { DeviceEvent, DeviceNotice, NoticeRecord } from './hub.ts';

/**
 * Device pushes across gateway instances on one database (docs/scaling.md).
 * A device's event stream is held by one instance; the outbox row of a push
 * is delivered by whichever instance claims it. That instance writes the
 * event to the streams it holds and announces it on the database's channel
 * (PostgreSQL NOTIFY; PGlite: its own, one process) as ids only; every other
 * instance that holds a stream of that customer reads the event from the
 * database and writes it there. Nothing secret travels in a notice, and a
 * notice only says where to look: the payment or refund named decides whose
 * streams get it, never the notice's party.
 *
 * Any role that may connect to the database may NOTIFY on the channel, so
 * each notice carries an HMAC-SHA256 under a key every instance of the FSP
 * derives from the FSP's own signing key (`deviceNoticeKey`): a notice made
 * by anything else is ignored with a warning. Each notice is named (its
 * instance and count) and timed: one seen on the channel and sent again is
 * refused (NoticeReplayGuard), so is one older than relayNoticeLifetimeMs.
 * The notices of a version before the seal are not read, nor are sealed ones
 * by that version: instances on one database are upgraded together (while
 * they are mixed, pushes across instances wait for the device to reconnect).
 */
export const deviceNoticeChannel = 'device_events';

/**
 * The notice and what records it (a push's outbox mark) in one transaction,
 * one round trip on PostgreSQL: the notice, the record and the COMMIT leave
 * in one pipeline, and the COMMIT runs only if both succeeded. The
 * transaction commits without waiting for its WAL flush (the notice's
 * `commitWithoutFlush`): PostgreSQL holds its one notification lock through
 * the commit of a transaction that notified, and a flush inside it would make
 * every instance's notices wait for each other's. A crash of the database
 * may then lose the record of a notice sent: the push is made again, and the
 * device knows it by its id. A notice refused before it leaves (its payload
 * too long) leaves the COMMIT one statement short, and nothing commits
 * (commitWithLastStatements counts them).
 */
async function notifyAndRecord(database: Database, sealed: string, record: NoticeRecord): Promise<void> {
  await database.transaction(async (sql) => {
    const started = [
      database.notify(deviceNoticeChannel, sealed, sql, { commitWithoutFlush: true }),
      record(sql),
    ] as const;
    commitWithLastStatements(sql, started.length);
    await together(started);
  });
}

/**
 * Notices waiting to be handled here. Above it a new notice is not queued:
 * the streams its party holds here are ended instead, so that the device
 * opens them again and gets what waits for it (nothing is lost, it comes later).
 */
export const relayBacklogMax = 1_000;

/**
 * How far from this instance's clock a notice's time may be: older (or
 * further ahead) is refused, so that a notice seen on the channel cannot be
 * sent again later. The instances' clocks must agree within it.
 */
export const relayNoticeLifetimeMs = 30_000;

/** Notices remembered as seen (their lifetime); when full, the oldest is forgotten first. */
export const relaySeenNoticesMax = 50_000;

export interface Envelope {
  /** The announcing instance, which ignores its own notices. */
  readonly from: string;
  /** The announcing instance's count of its notices: with `from`, one notice's name. */
  readonly seq: number;
  /** When it was sent, ms since the epoch (the announcer's wall clock). */
  readonly at: number;
  readonly notice: DeviceNotice;
}

/**
 * The notices this instance took, by name, until their lifetime is over: a
 * sealed notice seen on the channel and sent again is refused as a replay,
 * and one older than its lifetime as stale.
 */
export class NoticeReplayGuard {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly lifetimeMs: number = relayNoticeLifetimeMs,
    private readonly seenMax: number = relaySeenNoticesMax,
  ) {}

  admit(envelope: Envelope, nowMs: number): 'fresh' | 'stale' | 'replayed' {
    if (Math.abs(nowMs - envelope.at) > this.lifetimeMs) return 'stale';
    // Forget what has outlived its lifetime (the oldest first: the map keeps insertion order, near enough).
    for (const [name, until] of this.#seen) {
      if (until >= nowMs && this.#seen.size < this.seenMax) break;
      this.#seen.delete(name);
    }
    const name = `${envelope.from} ${envelope.seq}`;
    if (this.#seen.has(name)) return 'replayed';
    this.#seen.set(name, envelope.at + this.lifetimeMs);
    return 'fresh';
  }
}

const paymentEvents: ReadonlySet<string> = new Set(['payment-request', 'receipt', 'payment-status']);

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

/** HKDF's info for the notices' key: a key derived for anything else is another. */
const deviceNoticeKeyInfo = 'mpay gateway device notices v1';

/** Characters of an HMAC-SHA256 in base64url, without padding. */
const macChars = 43;

/**
 * The key of the notices between the instances of one FSP: derived from the
 * FSP's signing key, which every instance holds and nothing else that can
 * reach the database does.
 */
export function deviceNoticeKey(fsp: FspIdentity): Buffer {
  const secret = fsp.signing.privateJwk.d;
  if (typeof secret !== 'string') throw new Error('assertion failed: the FSP signs with a private JWK');
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), fsp.id, deviceNoticeKeyInfo, 32));
}

/** The payload of a notice on the channel: its MAC under `key`, a dot, its JSON. */
export function sealEnvelope(envelope: Envelope, key: Buffer): string {
  const json = JSON.stringify(envelope);
  return `${createHmac('sha256', key).update(json).digest('base64url')}.${json}`;
}

/** A notice whose MAC verifies under `key` and that `parseEnvelope` reads; undefined for anything else. */
export function openEnvelope(payload: string, key: Buffer): Envelope | undefined {
  if (payload.charAt(macChars) !== '.') return undefined;
  // Compared as text: one MAC has one encoding (a decoder would take other spellings of the same bytes).
  const sent = Buffer.from(payload.slice(0, macChars));
  const json = payload.slice(macChars + 1);
  const expected = Buffer.from(createHmac('sha256', key).update(json).digest('base64url'));
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) return undefined;
  return parseEnvelope(json);
}

/** A notice's JSON as sent, or undefined for anything else. */
export function parseEnvelope(payload: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { from, seq, at, notice } = value as {
    from?: unknown;
    seq?: unknown;
    at?: unknown;
    notice?: unknown;
  };
  if (!isText(from) || typeof notice !== 'object' || notice === null) return undefined;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0 || !Number.isSafeInteger(at)) return undefined;
  const named = { from, seq: seq as number, at: at as number };
  const fields = notice as Record<string, unknown>;
  if (!isText(fields.party)) return undefined;
  const party = fields.party;
  switch (fields.kind) {
    case 'payment':
      if (!isText(fields.paymentId) || !isText(fields.event) || !paymentEvents.has(fields.event))
        return undefined;
      return {
        ...named,
        notice: {
          kind: 'payment',
          party,
          paymentId: fields.paymentId,
          event: fields.event as 'payment-request' | 'receipt' | 'payment-status',
        },
      };
    case 'refund':
      return isText(fields.refundId)
        ? { ...named, notice: { kind: 'refund', party, refundId: fields.refundId } }
        : undefined;
    case 'disconnect':
      return { ...named, notice: { kind: 'disconnect', party } };
    default:
      return undefined;
  }
}

export interface DeviceRelay {
  /** This instance's id in the notices. */
  readonly instanceId: string;
  /** Notices from other instances handled so far (pushed or disconnected here), for tests and metrics. */
  readonly handled: number;
  /** Stops listening and waits for the notices under way. */
  stop(): Promise<void>;
}

/**
 * Listens for the other instances' notices and sets the hub's sender. After
 * the listening connection was lost and is back, every stream held here is
 * ended: the devices open them again and get what waits for them.
 */
export async function startDeviceRelay(context: GatewayContext): Promise<DeviceRelay> {
  const instanceId = randomUUID();
  const key = deviceNoticeKey(context.fsp);
  const replays = new NoticeReplayGuard();
  let sent = 0;
  let queue: Promise<void> = Promise.resolve();
  let waiting = 0;
  let handled = 0;
  let stopped = false;

  const handle = async (notice: DeviceNotice): Promise<void> => {
    // The cheap test first: most notices are for streams held elsewhere.
    if (stopped || !context.hub.isConnected(notice.party)) return;
    if (notice.kind === 'disconnect') {
      context.hub.disconnect(notice.party);
      handled += 1;
      return;
    }
    const found: { customerId: string; event: DeviceEvent } | undefined =
      notice.kind === 'payment'
        ? await paymentEventForStreams(context, notice.paymentId, notice.event)
        : await refundEventForStreams(context, notice.refundId);
    if (found === undefined) return;
    context.hub.push(found.customerId, found.event);
    handled += 1;
  };

  const stopListening = await context.database.listen(
    deviceNoticeChannel,
    (payload) => {
      const envelope = openEnvelope(payload, key);
      if (envelope === undefined) {
        context.log.warn(
          { channel: deviceNoticeChannel },
          'device notice not understood or not sealed by an instance of this FSP; ignored',
        );
        return;
      }
      if (envelope.from === instanceId) return;
      const admitted = replays.admit(envelope, Date.now());
      if (admitted !== 'fresh') {
        context.log.warn(
          { channel: deviceNoticeChannel, from: envelope.from, admitted },
          'device notice refused',
        );
        return;
      }
      const { party } = envelope.notice;
      if (waiting >= relayBacklogMax) {
        const ended = context.hub.disconnect(party);
        context.log.warn({ party, ended }, 'device notice not queued (too many waiting): its streams ended');
        return;
      }
      waiting += 1;
      queue = queue
        .then(() => handle(envelope.notice))
        .catch((error: unknown) => {
          // A notice naming what does not exist is ignored; one that failed for another cause (the
          // database) ends the party's streams here, so that the device catches up when it reopens them.
          const ended = isMpayError(error) ? 0 : context.hub.disconnect(party);
          context.log.warn({ err: error, party, ended }, 'device notice failed');
        })
        .finally(() => {
          waiting -= 1;
        });
    },
    {
      onResume: () => {
        const ended = context.hub.disconnectAll();
        context.log.warn({ ended }, 'device notices may have been lost: device streams ended to catch up');
      },
    },
  );

  // A notice that could not be sent fails the push that announced it: its outbox row stays due and
  // is delivered again (the streams here get the event twice; the device knows it by its id).
  context.hub.relayTo(async (notice, record) => {
    sent += 1;
    const envelope: Envelope = { from: instanceId, seq: sent, at: Date.now(), notice };
    try {
      const sealed = sealEnvelope(envelope, key);
      if (record === undefined) await context.database.notify(deviceNoticeChannel, sealed);
      else await notifyAndRecord(context.database, sealed, record);
    } catch (error) {
      context.log.error({ err: error, party: notice.party, kind: notice.kind }, 'device notice not sent');
      throw error;
    }
  });

  return {
    instanceId,
    get handled() {
      return handled;
    },
    async stop() {
      stopped = true;
      context.hub.relayTo(undefined);
      await stopListening();
      await queue;
    },
  };
}
