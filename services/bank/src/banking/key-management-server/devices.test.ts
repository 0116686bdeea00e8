import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOfError } from '../../../../../test/support/code-of.ts';
import { BindingRejected, boundKeyOfSerial } from '../../macro/device.ts';
import { startTestBank, type TestBank } from '../../test-helpers.ts';
import type { BankingContext } from '../context.ts';
import { maskDeviceNumber } from './devices.ts';
import {
  bankingTransactionsOf,
  createBankingCustomer,
  enrolBankingDevice,
  openedRequest,
  openSession,
  sessionState,
} from './fixture.test-helper.ts';
import { listDevices, revokeDevice } from './requests.ts';

async function revocationOf(bank: TestBank, serial: string) {
  const { rows } = await bank.database.query<{
    reason: string;
    revoked_by: string;
    revoked_at: Date | string;
  }>('SELECT reason, revoked_by, revoked_at FROM key_binding_revocations WHERE serial = $1', [serial]);
  return rows[0] === undefined
    ? undefined
    : { ...rows[0], revoked_at: new Date(rows[0].revoked_at).toISOString() };
}

describe('the devices and revoke_device requests', () => {
  let bank: TestBank;
  let context: BankingContext;

  beforeAll(async () => {
    bank = await startTestBank({ banking: {} });
    context = bank.service.banking!;
  });
  afterAll(() => bank.close());

  it('masks all but the last four digits', () => {
    expect(maskDeviceNumber('8938501234567890123')).toBe('***************0123');
    expect(maskDeviceNumber('490154203237518')).toBe('***********7518');
  });

  it("lists the party's banking devices, SIM and IMEI masked, the session's own marked current", async () => {
    const customer = await createBankingCustomer(bank);
    const phone = await enrolBankingDevice(bank, customer);
    const tablet = await enrolBankingDevice(bank, customer);
    // Another customer's device is not listed.
    await enrolBankingDevice(bank, await createBankingCustomer(bank));
    const result = await listDevices(
      context,
      await openedRequest(bank, context, phone, { kind: 'devices' }),
      bank.now(),
    );
    const devices = result.devices as Record<string, unknown>[];
    expect(devices.map((device) => device.serial).sort()).toEqual(
      [phone.key.serial, tablet.key.serial].sort(),
    );
    const own = devices.find((device) => device.serial === phone.key.serial);
    expect(own).toEqual({
      serial: phone.key.serial,
      deviceId: phone.key.deviceId,
      sim: `***************${phone.clientId.sim.slice(-4)}`,
      phoneId: `***********${phone.clientId.phoneId.slice(-4)}`,
      registeredAt: expect.any(String),
      notAfter: expect.any(String),
      state: 'active',
      current: true,
    });
    expect(devices.find((device) => device.serial === tablet.key.serial)).toMatchObject({
      state: 'active',
      current: false,
    });
    expect(JSON.stringify(result)).not.toContain(phone.clientId.sim);
    expect(JSON.stringify(result)).not.toContain(phone.clientId.phoneId);
  });

  it('revokes another device of the party, closes its sessions and records the banking transaction', async () => {
    const customer = await createBankingCustomer(bank);
    const phone = await enrolBankingDevice(bank, customer);
    const lost = await enrolBankingDevice(bank, customer);
    const secondSession = await openSession(bank, lost);
    const opened = await openedRequest(bank, context, phone, {
      kind: 'revoke_device',
      serial: lost.key.serial,
      reason: 'stolen',
    });
    const at = bank.now();
    const result = await revokeDevice(context, opened, at);
    expect(result).toEqual({ serial: lost.key.serial, revokedAt: at.toISOString() });
    // The request's outcome committed with the revocation (a retry is answered it).
    const { rows } = await bank.database.query<{ outcome: string; result: string }>(
      'SELECT outcome, result FROM banking_requests WHERE id = $1',
      [opened.requestId],
    );
    expect(rows.map((row) => ({ outcome: row.outcome, result: JSON.parse(row.result) as unknown }))).toEqual([
      { outcome: 'OK', result },
    ]);
    expect(await revocationOf(bank, lost.key.serial)).toEqual({
      reason: 'customer: stolen',
      revoked_by: customer.partyId,
      revoked_at: result.revokedAt,
    });
    // The lost device's sessions are closed; the revoking session stays open.
    expect(await sessionState(bank, lost.sessionId)).toEqual({
      state: 'closed',
      reason: 'device revoked: stolen',
    });
    expect((await sessionState(bank, secondSession)).state).toBe('closed');
    expect((await sessionState(bank, phone.sessionId)).state).toBe('active');
    // The key no longer verifies as bound; the revoking device's still does.
    await expect(
      boundKeyOfSerial(bank.database, context.bank, lost.key.serial, bank.now(), false),
    ).rejects.toThrow(BindingRejected);
    await boundKeyOfSerial(bank.database, context.bank, phone.key.serial, bank.now(), false);
    // One banking transaction, for the log: the device's signed request and the bank's record.
    const recorded = await bankingTransactionsOf(bank, customer.partyId);
    expect(recorded).toEqual([
      { id: opened.requestId, kind: 'revoke_device', messages: [opened.jws, expect.any(String)] },
    ]);

    // The listing shows it revoked.
    const listed = await listDevices(
      context,
      await openedRequest(bank, context, phone, { kind: 'devices' }),
      bank.now(),
    );
    expect(
      (listed.devices as Record<string, unknown>[]).find((device) => device.serial === lost.key.serial),
    ).toMatchObject({
      state: 'revoked',
      current: false,
    });

    // Revoking it again answers the first revocation and records nothing more.
    bank.advanceSeconds(5);
    const again = await revokeDevice(
      context,
      await openedRequest(bank, context, phone, {
        kind: 'revoke_device',
        serial: lost.key.serial,
        reason: 'lost',
      }),
      bank.now(),
    );
    expect(again).toEqual(result);
    expect(await bankingTransactionsOf(bank, customer.partyId)).toHaveLength(1);
    expect((await revocationOf(bank, lost.key.serial))?.reason).toBe('customer: stolen');
  });

  it('lets a device revoke itself: its own session is closed with it', async () => {
    const customer = await createBankingCustomer(bank);
    const phone = await enrolBankingDevice(bank, customer);
    const result = await revokeDevice(
      context,
      await openedRequest(bank, context, phone, {
        kind: 'revoke_device',
        serial: phone.key.serial,
        reason: 'replaced',
      }),
      bank.now(),
    );
    expect(result.serial).toBe(phone.key.serial);
    expect((await revocationOf(bank, phone.key.serial))?.reason).toBe('customer: replaced');
    expect((await sessionState(bank, phone.sessionId)).state).toBe('closed');
  });

  it("refuses an unknown serial and another party's serial (BANKING_DEVICE_UNKNOWN), changing nothing", async () => {
    const customer = await createBankingCustomer(bank);
    const phone = await enrolBankingDevice(bank, customer);
    const stranger = await enrolBankingDevice(bank, await createBankingCustomer(bank));
    for (const serial of ['no-such-serial', stranger.key.serial]) {
      const error = await revokeDevice(
        context,
        await openedRequest(bank, context, phone, { kind: 'revoke_device', serial, reason: 'lost' }),
        bank.now(),
      ).catch((caught: unknown) => caught);
      expect(codeOfError(error)).toBe('BANKING_DEVICE_UNKNOWN');
    }
    expect(await revocationOf(bank, stranger.key.serial)).toBeUndefined();
    expect((await sessionState(bank, stranger.sessionId)).state).toBe('active');
    expect(await bankingTransactionsOf(bank, customer.partyId)).toEqual([]);
  });

  it('refuses a request whose own binding was revoked while it was in flight (BANKING_REQUEST_INVALID)', async () => {
    const customer = await createBankingCustomer(bank);
    const phone = await enrolBankingDevice(bank, customer);
    const tablet = await enrolBankingDevice(bank, customer);
    const opened = await openedRequest(bank, context, phone, {
      kind: 'revoke_device',
      serial: tablet.key.serial,
      reason: 'lost',
    });
    expect(
      (await bank.call('POST', `/key-bindings/${phone.key.serial}/revocation`, { reason: 'lost' })).status,
    ).toBe(201);
    const error = await revokeDevice(context, opened, bank.now()).catch((caught: unknown) => caught);
    expect(codeOfError(error)).toBe('BANKING_REQUEST_INVALID');
    expect(await revocationOf(bank, tablet.key.serial)).toBeUndefined();
  });
});
