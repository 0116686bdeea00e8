import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { insertRevocation, type KeyBindingRecord, selectKeyBinding } from '../../key-depository/store.ts';
import {
  closeSessionsOfSerial,
  lockSessionBinding,
  type OpenedBankingRequest,
  recordOutcomeWithEffect,
} from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { recordBankingTransaction } from '../transaction-log-server-client/record.ts';
import { keyManagementLimits } from './limits.ts';
import { type PartyDevice, selectBankingDevicesOfParty } from './store.ts';

export type DeviceState = 'active' | 'revoked' | 'expired';

/** Revoked wins over expired (as the key depository says it): a revocation is a fact about the device. */
export function deviceState(device: PartyDevice, now: Date): DeviceState {
  if (device.revokedAt !== undefined) return 'revoked';
  const time = now.getTime();
  return time < device.notBefore.getTime() || time >= device.notAfter.getTime() ? 'expired' : 'active';
}

/** An ICCID or IMEI as a device list shows it: every character but the last four masked. */
export function maskDeviceNumber(value: string): string {
  const shown = 4;
  return `${'*'.repeat(Math.max(0, value.length - shown))}${value.slice(-shown)}`;
}

/**
 * The `devices` request: the party's banking devices (each binding with a
 * banking registration; a renewal adds the renewed binding), newest first,
 * at most `devicesListedMax`: `{devices: [{serial, deviceId, sim, phoneId,
 * registeredAt, notAfter, state, current}]}`, SIM and IMEI masked but their
 * last four digits, `current` for the session's own binding.
 */
export async function listDevices(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  if (opened.request.kind !== 'devices') throw new Error('assertion failed: a devices request');
  const devices = await selectBankingDevicesOfParty(
    context.database,
    opened.partyId,
    keyManagementLimits.devicesListedMax,
  );
  return {
    devices: devices.map((device) => ({
      serial: device.serial,
      deviceId: device.deviceId,
      sim: maskDeviceNumber(device.sim),
      phoneId: maskDeviceNumber(device.phoneId),
      registeredAt: device.registeredAt.toISOString(),
      notAfter: device.notAfter.toISOString(),
      state: deviceState(device, now),
      current: device.serial === opened.serial,
    })),
  };
}

/**
 * Locks the session's binding and the binding to revoke, in the order of
 * their serials: two sessions revoking each other's device take the locks
 * in one order, so they queue instead of deadlocking.
 */
async function lockBoth(
  sql: Sql,
  context: BankingContext,
  opened: OpenedBankingRequest,
  serial: string,
  now: Date,
): Promise<KeyBindingRecord | undefined> {
  if (serial < opened.serial) {
    const target = await selectKeyBinding(sql, serial, true);
    await lockSessionBinding(sql, context, opened, now);
    return target;
  }
  await lockSessionBinding(sql, context, opened, now);
  return selectKeyBinding(sql, serial, true);
}

/**
 * The `revoke_device` request, `{serial, reason}` → `{serial, revokedAt}`: a
 * customer revokes one of their key bindings (a lost or stolen phone) from an
 * authenticated session on another device, or on the same one. The serial
 * must be a binding of the session's party (BANKING_DEVICE_UNKNOWN
 * otherwise, for an unknown serial and another party's alike). In one
 * transaction, with the session's binding locked (a request in flight under
 * a key revoked meanwhile is refused by `lockSessionBinding`): the
 * revocation (reason `customer: <reason>`, revoked by the party), every
 * active session of that binding closed, and the banking transaction
 * recorded for the third-party log, the request's outcome with them.
 *
 * Idempotent: a binding revoked already (by this request kind, the
 * operator, or a renewal) is answered with its first revocation's time,
 * and nothing is written or recorded again.
 */
export async function revokeDevice(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  const request = opened.request;
  if (request.kind !== 'revoke_device') throw new Error('assertion failed: a revoke_device request');
  const { serial, reason } = request;
  const outcome = await context.database.transaction(async (sql) => {
    const target = await lockBoth(sql, context, opened, serial, now);
    if (target === undefined || target.partyId !== opened.partyId)
      throw new MpayError('BANKING_DEVICE_UNKNOWN');
    if (target.revocation !== undefined) {
      const revokedAt = target.revocation.revokedAt;
      await recordOutcomeWithEffect(sql, opened, resultOf(serial, revokedAt));
      return { revokedAt, created: false, sessionsClosed: 0 };
    }
    const created = await insertRevocation(sql, serial, `customer: ${reason}`, opened.partyId, now);
    if (!created) throw new Error('assertion failed: a locked, unrevoked binding is revoked once');
    const sessionsClosed = await closeSessionsOfSerial(sql, serial, `device revoked: ${reason}`, now);
    await recordBankingTransaction(
      sql,
      context,
      opened,
      { kind: 'revoke_device', facts: { serial, reason, revokedAt: now.toISOString() } },
      now,
    );
    await recordOutcomeWithEffect(sql, opened, resultOf(serial, now));
    return { revokedAt: now, created: true, sessionsClosed };
  });
  if (outcome.created) {
    context.log.warn(
      {
        serial,
        partyId: opened.partyId,
        reason,
        bySerial: opened.serial,
        sessionsClosed: outcome.sessionsClosed,
      },
      'key binding revoked by the customer',
    );
  }
  return resultOf(serial, outcome.revokedAt);
}

/** revoke_device's result, recorded with the revocation (recordOutcomeWithEffect). */
function resultOf(serial: string, revokedAt: Date): Readonly<Record<string, unknown>> {
  return { serial, revokedAt: revokedAt.toISOString() };
}
