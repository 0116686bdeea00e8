import { randomUUID } from 'node:crypto';
import { generateSigningKeyPair } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankService } from '../../service.ts';
import {
  createTestOpaqueServerSetup,
  createTestSmsInbox,
  errorCodeOf,
  startTestBank,
  type TestBank,
  type TestSmsInbox,
  testBearerVerifier,
} from '../../test-helpers.ts';
import type { BankingContext } from '../context.ts';
import {
  type BankingCustomer,
  createBankingCustomer,
  enrolBankingDevice,
  enrolKey,
  openedRequest,
} from './fixture.test-helper.ts';
import { keyManagementLimits } from './limits.ts';
import { renewalNoticeText, renewalNoticeWorker, sendDueRenewalNotices } from './renewal-notices.ts';
import { listRenewalNotices } from './requests.ts';
import { noticeSmsOutbox, sendNoticeSmsNow } from './sms-outbox.ts';
import { claimNoticeSms, completeRenewalNotice } from './store.ts';

const day = 86_400;

async function noticesOf(bank: TestBank, serial: string) {
  const { rows } = await bank.database.query<{
    id: string;
    state: string;
    reason: string;
    created_by: string;
  }>(
    `SELECT id::text AS id, state, reason, created_by FROM banking_renewal_notices WHERE serial = $1 ORDER BY created_at`,
    [serial],
  );
  return rows;
}

async function notAfterOf(bank: TestBank, serial: string): Promise<Date> {
  const { rows } = await bank.database.query<{ not_after: Date | string }>(
    'SELECT not_after FROM key_bindings WHERE serial = $1',
    [serial],
  );
  return new Date(rows[0]!.not_after);
}

interface NoticeSms {
  sentAt: Date | null;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  createdAt: Date;
}

/** The notice's SMS outbox columns, as stored. */
async function smsOf(bank: TestBank, noticeId: string): Promise<NoticeSms> {
  const { rows } = await bank.database.query<{
    sms_sent_at: Date | string | null;
    sms_attempts: number;
    sms_next_attempt_at: Date | string | null;
    sms_last_error: string | null;
    created_at: Date | string;
  }>(
    `SELECT sms_sent_at, sms_attempts, sms_next_attempt_at, sms_last_error, created_at
     FROM banking_renewal_notices WHERE id = $1`,
    [noticeId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`no notice ${noticeId}`);
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return {
    sentAt: date(row.sms_sent_at),
    attempts: Number(row.sms_attempts),
    nextAttemptAt: date(row.sms_next_attempt_at),
    lastError: row.sms_last_error,
    createdAt: new Date(row.created_at),
  };
}

function textsTo(inbox: TestSmsInbox, customer: BankingCustomer): string[] {
  return inbox.messages.filter((message) => message.to === customer.msisdn).map((message) => message.text);
}

/**
 * Another bank process on the same database (a restart, or a second process
 * on one PostgreSQL): a service of its own, with its own SMS inbox and no
 * state shared with the first but the database. It does not listen.
 */
async function anotherProcess(
  bank: TestBank,
  sms: TestSmsInbox = createTestSmsInbox(),
): Promise<{
  context: BankingContext;
  sms: TestSmsInbox;
  close(): Promise<void>;
}> {
  const signing = await generateSigningKeyPair();
  const service = createBankService({
    name: bank.name,
    database: bank.database,
    signingKey: signing.privateJwk,
    encryptionKey: bank.encryptionKey,
    interbank: { signingKey: signing.privateJwk, peers: [] },
    banking: { opaqueServerSetup: await createTestOpaqueServerSetup(), sms },
    verifyRequest: testBearerVerifier(),
    clock: () => bank.now(),
  });
  return { context: service.banking!, sms, close: () => service.close() };
}

/** How long the gated senders below wait for the second pending send before the test fails. */
const gateDeadlineMs = 20_000;

/**
 * SMS inboxes whose sends all wait until two are pending at once (two passes
 * each inside a send) or `open` is called, then all go through: two passes
 * that both claimed the same SMS would both be inside its send, so a double
 * send cannot hide behind one pass finishing first. `timedOut` says the gate
 * opened only at its deadline.
 */
function gatedInboxes(count: number): {
  inboxes: TestSmsInbox[];
  /** Resolves once a send is pending (a pass is inside a send). */
  firstPending: Promise<void>;
  /** Lets every send through from now on. */
  open(): void;
  timedOut(): boolean;
  close(): void;
} {
  let pending = 0;
  let timedOut = false;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let onePending!: () => void;
  const firstPending = new Promise<void>((resolve) => {
    onePending = resolve;
  });
  const deadline = setTimeout(() => {
    timedOut = true;
    open();
  }, gateDeadlineMs);
  const inboxes = Array.from({ length: count }, () => {
    const inbox = createTestSmsInbox();
    return {
      ...inbox,
      send: async (message: { readonly to: string; readonly text: string }) => {
        pending += 1;
        onePending();
        if (pending >= 2) open();
        await opened;
        return inbox.send(message);
      },
    };
  });
  return { inboxes, firstPending, open, timedOut: () => timedOut, close: () => clearTimeout(deadline) };
}

/** Issues a notice through the operator's route while the SMS gateway refuses every text. */
async function noticeRefusedBySms(bank: TestBank, serial: string): Promise<string> {
  bank.sms.failing(true);
  try {
    const answer = await bank.call('POST', '/banking/renewal-notices', { serial, reason: 'rotation' });
    expect(answer.status).toBe(201);
    return answer.body.noticeId as string;
  } finally {
    bank.sms.failing(false);
  }
}

describe('renewal notices by the operator (POST /banking/renewal-notices)', () => {
  let bank: TestBank;
  let context: BankingContext;

  beforeAll(async () => {
    bank = await startTestBank({ banking: {} });
    context = bank.service.banking!;
  });
  afterAll(() => bank.close());

  it('opens a notice on a banking device and texts the registered MSISDN', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const answer = await bank.call('POST', '/banking/renewal-notices', {
      serial: device.key.serial,
      reason: 'key rotation policy',
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ noticeId: expect.any(String), serial: device.key.serial, state: 'sent' });
    const noticeId = answer.body.noticeId as string;
    expect(noticeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const notAfter = await notAfterOf(bank, device.key.serial);
    expect(bank.sms.latest(customer.msisdn)?.text).toBe(
      `xbank: your mobile banking key expires on ${notAfter.toISOString().slice(0, 10)}. ` +
        `Open the app to renew it (notice ${noticeId.slice(0, 8)}).`,
    );
    expect(await noticesOf(bank, device.key.serial)).toEqual([
      { id: noticeId, state: 'sent', reason: 'key rotation policy', created_by: 'test-caller' },
    ]);
    // The outbox row: sent at once, nothing left to do.
    const sms = await smsOf(bank, noticeId);
    expect(sms).toEqual({
      sentAt: sms.createdAt,
      attempts: 0,
      nextAttemptAt: null,
      lastError: null,
      createdAt: expect.any(Date),
    });

    // The device lists it in its session.
    const listed = await listRenewalNotices(
      context,
      await openedRequest(bank, context, device, { kind: 'renewal_notices' }),
      bank.now(),
    );
    expect(listed).toEqual({
      notices: [
        { noticeId, serial: device.key.serial, reason: 'key rotation policy', createdAt: expect.any(String) },
      ],
    });
  });

  it('answers the open notice again (200) without a second SMS; an Idempotency-Key replays the first answer', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const key = randomUUID();
    const body = { serial: device.key.serial, reason: 'suspected compromise' };
    const first = await bank.call('POST', '/banking/renewal-notices', body, { 'idempotency-key': key });
    const replay = await bank.call('POST', '/banking/renewal-notices', body, { 'idempotency-key': key });
    const again = await bank.call('POST', '/banking/renewal-notices', { ...body, reason: 'another reason' });
    expect(first.status).toBe(201);
    expect(replay).toEqual(first);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(bank.sms.messages.filter((message) => message.to === customer.msisdn)).toHaveLength(1);
    expect(await noticesOf(bank, device.key.serial)).toHaveLength(1);
  });

  it('refuses a serial without a banking device, a revoked binding and a reason with control characters', async () => {
    const unknown = await bank.call('POST', '/banking/renewal-notices', {
      serial: 'no-such-serial',
      reason: 'x',
    });
    expect(unknown.status).toBe(404);
    expect(errorCodeOf(unknown)).toBe('BANKING_DEVICE_UNKNOWN');

    // A binding that was never registered for banking.
    const customer = await createBankingCustomer(bank);
    const plain = await enrolKey(bank, customer.partyId, [customer.accountId]);
    const notBanking = await bank.call('POST', '/banking/renewal-notices', {
      serial: plain.serial,
      reason: 'x',
    });
    expect(errorCodeOf(notBanking)).toBe('BANKING_DEVICE_UNKNOWN');

    const device = await enrolBankingDevice(bank, customer);
    const revoked = await bank.call('POST', `/key-bindings/${device.key.serial}/revocation`, {
      reason: 'lost',
    });
    expect(revoked.status).toBe(201);
    const onRevoked = await bank.call('POST', '/banking/renewal-notices', {
      serial: device.key.serial,
      reason: 'x',
    });
    expect(onRevoked.status).toBe(403);
    expect(errorCodeOf(onRevoked)).toBe('KEY_BINDING_REVOKED');

    const other = await enrolBankingDevice(bank, customer);
    const control = await bank.call('POST', '/banking/renewal-notices', {
      serial: other.key.serial,
      reason: 'line\nbreak',
    });
    expect(errorCodeOf(control)).toBe('REQUEST_INVALID');
    expect(await noticesOf(bank, other.key.serial)).toEqual([]);
    expect(bank.sms.latest(customer.msisdn)).toBeUndefined();
  });
});

describe('renewal notices by the worker, near expiry', () => {
  let bank: TestBank;
  let context: BankingContext;

  beforeAll(async () => {
    bank = await startTestBank({ banking: { limits: { renewalNoticeDays: 30 } } });
    context = bank.service.banking!;
  });
  afterAll(() => bank.close());

  it('notifies each active banking binding once within renewalNoticeDays of its expiry, never a revoked one', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const revoked = await enrolBankingDevice(bank, customer);
    expect(
      (await bank.call('POST', `/key-bindings/${revoked.key.serial}/revocation`, { reason: 'lost' })).status,
    ).toBe(201);
    const notAfter = await notAfterOf(bank, device.key.serial);
    const validitySeconds = (notAfter.getTime() - bank.now().getTime()) / 1000;

    // Far from expiry: nothing.
    expect(await sendDueRenewalNotices(context, bank.now())).toBe(0);
    bank.advanceSeconds(validitySeconds - 31 * day);
    await bank.service.worker.runOnce();
    expect(await noticesOf(bank, device.key.serial)).toEqual([]);
    expect(bank.sms.latest(customer.msisdn)).toBeUndefined();

    // Within 30 days of expiry: the worker's pass issues the notice and texts it.
    bank.advanceSeconds(2 * day);
    await bank.service.worker.runOnce();
    const notices = await noticesOf(bank, device.key.serial);
    expect(notices).toEqual([
      {
        id: expect.any(String),
        state: 'sent',
        reason: `key expires on ${notAfter.toISOString().slice(0, 10)}`,
        created_by: renewalNoticeWorker,
      },
    ]);
    expect(bank.sms.latest(customer.msisdn)?.text).toBe(renewalNoticeText('xbank', notAfter, notices[0]!.id));
    expect(await noticesOf(bank, revoked.key.serial)).toEqual([]);

    // Once only.
    expect(await sendDueRenewalNotices(context, bank.now())).toBe(0);
    expect(bank.sms.messages.filter((message) => message.to === customer.msisdn)).toHaveLength(1);
  });

  it('sends none for a binding that has expired', async () => {
    // A bank of its own: the other test's bindings are near expiry on this one's clock.
    const expiring = await startTestBank({ banking: {} });
    try {
      const customer = await createBankingCustomer(expiring);
      const device = await enrolBankingDevice(expiring, customer);
      const notAfter = await notAfterOf(expiring, device.key.serial);
      expiring.advanceSeconds((notAfter.getTime() - expiring.now().getTime()) / 1000 + 1);
      expect(await sendDueRenewalNotices(expiring.service.banking!, expiring.now())).toBe(0);
      expect(await noticesOf(expiring, device.key.serial)).toEqual([]);
      const operator = await expiring.call('POST', '/banking/renewal-notices', {
        serial: device.key.serial,
        reason: 'x',
      });
      expect(errorCodeOf(operator)).toBe('KEY_BINDING_EXPIRED');
      expect(expiring.sms.messages).toEqual([]);
    } finally {
      await expiring.close();
    }
  });
});

describe('the notice SMS outbox (the notice row, sent again by any bank process)', () => {
  const { smsAttemptsMax, smsRetryDelaySecondsMin, smsRetryDelaySecondsMax } = keyManagementLimits;
  let bank: TestBank;
  let context: BankingContext;

  beforeAll(async () => {
    bank = await startTestBank({ banking: {} });
    context = bank.service.banking!;
  });
  afterAll(() => bank.close());

  it('keeps a refused SMS in the notice and sends it from the database after a restart, once', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const noticeId = await noticeRefusedBySms(bank, device.key.serial);
    expect(textsTo(bank.sms, customer)).toEqual([]);
    const refused = await smsOf(bank, noticeId);
    expect(refused).toEqual({
      sentAt: null,
      attempts: 1,
      nextAttemptAt: new Date(refused.createdAt.getTime() + smsRetryDelaySecondsMin * 1000),
      // The code only, never the error's text.
      lastError: 'SERVICE_UNAVAILABLE',
      createdAt: expect.any(Date),
    });

    // The process stops; another starts on the same database, with nothing of the first but its rows.
    const restarted = await anotherProcess(bank);
    try {
      // Not before its retry delay: neither the issuer's send nor the worker's.
      expect(await sendNoticeSmsNow(restarted.context, noticeId, bank.now())).toBe(false);
      await sendDueRenewalNotices(restarted.context, bank.now());
      expect(textsTo(restarted.sms, customer)).toEqual([]);

      bank.advanceSeconds(smsRetryDelaySecondsMin + 1);
      const retryAt = bank.now();
      await sendDueRenewalNotices(restarted.context, retryAt);
      const notAfter = await notAfterOf(bank, device.key.serial);
      expect(textsTo(restarted.sms, customer)).toEqual([renewalNoticeText('xbank', notAfter, noticeId)]);
      expect(textsTo(bank.sms, customer)).toEqual([]);
      expect(await smsOf(bank, noticeId)).toEqual({
        sentAt: retryAt,
        attempts: 1,
        nextAttemptAt: null,
        lastError: 'SERVICE_UNAVAILABLE',
        createdAt: refused.createdAt,
      });

      // Sent: no process sends it again.
      bank.advanceSeconds(smsRetryDelaySecondsMax + 1);
      await sendDueRenewalNotices(restarted.context, bank.now());
      await sendDueRenewalNotices(context, bank.now());
      expect(await sendNoticeSmsNow(context, noticeId, bank.now())).toBe(false);
      expect([...textsTo(restarted.sms, customer), ...textsTo(bank.sms, customer)]).toHaveLength(1);
    } finally {
      await restarted.close();
    }
  });

  /** `count` notices whose first SMS the gateway refused, due again once the retry delay passes. */
  async function refusedNotices(
    count: number,
  ): Promise<{ customers: BankingCustomer[]; noticeIds: string[] }> {
    const customers: BankingCustomer[] = [];
    const noticeIds: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const customer = await createBankingCustomer(bank);
      const device = await enrolBankingDevice(bank, customer);
      customers.push(customer);
      noticeIds.push(await noticeRefusedBySms(bank, device.key.serial));
    }
    return { customers, noticeIds };
  }

  it('sends each due SMS exactly once when two bank processes start their passes together', async () => {
    // On PostgreSQL the two claims run at once: FOR UPDATE SKIP LOCKED keeps them apart.
    const { customers, noticeIds } = await refusedNotices(3);
    const gate = gatedInboxes(2);
    const first = await anotherProcess(bank, gate.inboxes[0]);
    const second = await anotherProcess(bank, gate.inboxes[1]);
    try {
      bank.advanceSeconds(smsRetryDelaySecondsMin + 1);
      const now = bank.now();
      await Promise.all([
        sendDueRenewalNotices(first.context, now),
        sendDueRenewalNotices(second.context, now),
      ]);
      expect(gate.timedOut()).toBe(false);
      for (const customer of customers) {
        expect([...textsTo(first.sms, customer), ...textsTo(second.sms, customer)]).toHaveLength(1);
      }
      // Both took part: each was inside a send when the gate opened.
      expect(first.sms.messages.length).toBeGreaterThan(0);
      expect(second.sms.messages.length).toBeGreaterThan(0);
      for (const noticeId of noticeIds) {
        expect(await smsOf(bank, noticeId)).toMatchObject({ sentAt: now, attempts: 1, nextAttemptAt: null });
      }
    } finally {
      gate.close();
      await first.close();
      await second.close();
    }
  });

  it('does not send an SMS again from a pass that starts while another pass is sending it', async () => {
    // The first pass's claim has committed: the next attempt it pushed forward keeps the second away.
    const { customers, noticeIds } = await refusedNotices(1);
    const gate = gatedInboxes(2);
    const first = await anotherProcess(bank, gate.inboxes[0]);
    const second = await anotherProcess(bank, gate.inboxes[1]);
    try {
      bank.advanceSeconds(smsRetryDelaySecondsMin + 1);
      const now = bank.now();
      const firstPass = sendDueRenewalNotices(first.context, now);
      await gate.firstPending;
      await sendDueRenewalNotices(second.context, now);
      gate.open();
      await firstPass;
      expect(gate.timedOut()).toBe(false);
      expect(textsTo(first.sms, customers[0]!)).toHaveLength(1);
      expect(textsTo(second.sms, customers[0]!)).toEqual([]);
      expect(await smsOf(bank, noticeIds[0]!)).toMatchObject({
        sentAt: now,
        attempts: 1,
        nextAttemptAt: null,
      });
    } finally {
      gate.close();
      await first.close();
      await second.close();
    }
  });

  it('leaves an SMS claimed by a process that then stopped alone until the claim ends, then sends it', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const noticeId = await noticeRefusedBySms(bank, device.key.serial);
    bank.advanceSeconds(smsRetryDelaySecondsMin + 1);
    // A pass claims it and stops before sending (nothing recorded).
    const claimedAt = bank.now();
    const claimedUntil = new Date(claimedAt.getTime() + noticeSmsOutbox.claimSeconds * 1000);
    const claimed = await claimNoticeSms(bank.database, claimedAt, claimedUntil, noticeId);
    expect(claimed).toMatchObject({
      noticeId,
      serial: device.key.serial,
      attempts: 1,
      msisdn: customer.msisdn,
    });
    expect(await claimNoticeSms(bank.database, claimedAt, claimedUntil, noticeId)).toBeUndefined();

    await sendDueRenewalNotices(context, bank.now());
    expect(textsTo(bank.sms, customer)).toEqual([]);

    bank.advanceSeconds(noticeSmsOutbox.claimSeconds + 1);
    await sendDueRenewalNotices(context, bank.now());
    expect(textsTo(bank.sms, customer)).toHaveLength(1);
    expect((await smsOf(bank, noticeId)).sentAt).not.toBeNull();
  });

  it('never texts a notice once it is completed or its binding is revoked (a lost phone)', async () => {
    const lost = await createBankingCustomer(bank);
    const lostDevice = await enrolBankingDevice(bank, lost);
    const lostNotice = await noticeRefusedBySms(bank, lostDevice.key.serial);
    expect(
      (await bank.call('POST', `/key-bindings/${lostDevice.key.serial}/revocation`, { reason: 'lost' }))
        .status,
    ).toBe(201);

    const renewed = await createBankingCustomer(bank);
    const renewedDevice = await enrolBankingDevice(bank, renewed);
    const renewedNotice = await noticeRefusedBySms(bank, renewedDevice.key.serial);
    // Completed while its SMS was due (its due time left as it was, to test the pass's own check).
    await bank.database.query(
      `UPDATE banking_renewal_notices SET state = 'completed', completed_at = $2 WHERE id = $1`,
      [renewedNotice, bank.now().toISOString()],
    );

    bank.advanceSeconds(smsRetryDelaySecondsMax + 1);
    // Neither a send of the notice itself (the claim checks)...
    expect(await sendNoticeSmsNow(context, lostNotice, bank.now())).toBe(false);
    expect(await sendNoticeSmsNow(context, renewedNotice, bank.now())).toBe(false);
    // ...nor the worker's pass (which clears them first).
    await sendDueRenewalNotices(context, bank.now());
    expect(textsTo(bank.sms, lost)).toEqual([]);
    expect(textsTo(bank.sms, renewed)).toEqual([]);
    for (const noticeId of [lostNotice, renewedNotice]) {
      // No attempt any more: the due SMS is cleared, not retried at every pass.
      expect(await smsOf(bank, noticeId)).toMatchObject({ sentAt: null, attempts: 1, nextAttemptAt: null });
    }
  });

  it('clears the due SMS of a notice as a renewal completes it', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const noticeId = await noticeRefusedBySms(bank, device.key.serial);
    expect((await smsOf(bank, noticeId)).nextAttemptAt).not.toBeNull();
    const renewedTo = await enrolKey(bank, customer.partyId, [customer.accountId]);
    await completeRenewalNotice(bank.database, noticeId, renewedTo.serial, bank.now());
    expect(await smsOf(bank, noticeId)).toMatchObject({ sentAt: null, attempts: 1, nextAttemptAt: null });
  });

  it('gives up after smsAttemptsMax sends with an operator alarm; the notice stays open and listed', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    const alarms: { event: Record<string, unknown>; message: string }[] = [];
    const watched: BankingContext = {
      ...context,
      alarm: (event, message) => {
        alarms.push({ event, message });
      },
    };
    const noticeId = await noticeRefusedBySms(bank, device.key.serial);
    const alarmsOfNotice = () => alarms.filter((alarm) => alarm.event.noticeId === noticeId);
    bank.sms.failing(true);
    try {
      for (let attempt = 2; attempt <= smsAttemptsMax; attempt += 1) {
        expect(alarmsOfNotice()).toEqual([]);
        bank.advanceSeconds(smsRetryDelaySecondsMax + 1);
        await sendDueRenewalNotices(watched, bank.now());
        expect((await smsOf(bank, noticeId)).attempts).toBe(attempt);
      }
    } finally {
      bank.sms.failing(false);
    }
    expect(alarmsOfNotice()).toEqual([
      {
        event: {
          noticeId,
          serial: device.key.serial,
          attempts: smsAttemptsMax,
          error: 'SERVICE_UNAVAILABLE',
        },
        message: 'renewal notice SMS not sent, given up (the notice stays open in the app)',
      },
    ]);
    expect(await smsOf(bank, noticeId)).toMatchObject({
      sentAt: null,
      attempts: smsAttemptsMax,
      nextAttemptAt: null,
      lastError: 'SERVICE_UNAVAILABLE',
    });

    // Given up: not sent even with the gateway back, but the device still finds the notice.
    bank.advanceSeconds(smsRetryDelaySecondsMax + 1);
    await sendDueRenewalNotices(watched, bank.now());
    expect(textsTo(bank.sms, customer)).toEqual([]);
    expect(await noticesOf(bank, device.key.serial)).toMatchObject([{ id: noticeId, state: 'sent' }]);
    const listed = await listRenewalNotices(
      context,
      await openedRequest(bank, context, device, { kind: 'renewal_notices' }),
      bank.now(),
    );
    expect(listed).toMatchObject({ notices: [{ noticeId, serial: device.key.serial }] });
  });
});
