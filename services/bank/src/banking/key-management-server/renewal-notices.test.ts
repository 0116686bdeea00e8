import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, startTestBank, type TestBank } from '../../test-helpers.ts';
import type { BankingContext } from '../context.ts';
import { createBankingCustomer, enrolBankingDevice, enrolKey, openedRequest } from './fixture.test-helper.ts';
import { keyManagementLimits } from './limits.ts';
import { renewalNoticeText, renewalNoticeWorker, sendDueRenewalNotices } from './renewal-notices.ts';
import { listRenewalNotices } from './requests.ts';
import { unsentNoticeIds } from './sms-outbox.ts';

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

  it('keeps a notice whose SMS the gateway refused and sends the SMS again from the worker', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    bank.sms.failing(true);
    let answer: Awaited<ReturnType<TestBank['call']>>;
    try {
      answer = await bank.call('POST', '/banking/renewal-notices', {
        serial: device.key.serial,
        reason: 'rotation',
      });
    } finally {
      bank.sms.failing(false);
    }
    expect(answer.status).toBe(201);
    const noticeId = answer.body.noticeId as string;
    expect(bank.sms.latest(customer.msisdn)).toBeUndefined();
    expect(unsentNoticeIds(context)).toContain(noticeId);

    // Not before its retry delay.
    await sendDueRenewalNotices(context, bank.now());
    expect(bank.sms.latest(customer.msisdn)).toBeUndefined();

    bank.advanceSeconds(keyManagementLimits.smsRetryDelaySecondsMin + 1);
    await sendDueRenewalNotices(context, bank.now());
    const notAfter = await notAfterOf(bank, device.key.serial);
    expect(bank.sms.latest(customer.msisdn)?.text).toBe(renewalNoticeText('xbank', notAfter, noticeId));
    expect(unsentNoticeIds(context)).not.toContain(noticeId);

    bank.advanceSeconds(keyManagementLimits.smsRetryDelaySecondsMax + 1);
    await sendDueRenewalNotices(context, bank.now());
    expect(bank.sms.messages.filter((message) => message.to === customer.msisdn)).toHaveLength(1);
  });

  it('does not send the SMS again once the binding is revoked (a lost phone)', async () => {
    const customer = await createBankingCustomer(bank);
    const device = await enrolBankingDevice(bank, customer);
    bank.sms.failing(true);
    let answer: Awaited<ReturnType<TestBank['call']>>;
    try {
      answer = await bank.call('POST', '/banking/renewal-notices', {
        serial: device.key.serial,
        reason: 'rotation',
      });
    } finally {
      bank.sms.failing(false);
    }
    expect(unsentNoticeIds(context)).toContain(answer.body.noticeId);
    expect(
      (await bank.call('POST', `/key-bindings/${device.key.serial}/revocation`, { reason: 'lost' })).status,
    ).toBe(201);
    bank.advanceSeconds(keyManagementLimits.smsRetryDelaySecondsMax + 1);
    await sendDueRenewalNotices(context, bank.now());
    expect(bank.sms.latest(customer.msisdn)).toBeUndefined();
    expect(unsentNoticeIds(context)).not.toContain(answer.body.noticeId);
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
