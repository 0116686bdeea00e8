import {
  type BankingClientId,
  type BankingDeviceContent,
  type BankingPasswordContent,
  isMpayError,
  MpayError,
  parseBankingDeviceContent,
  parseBankingPasswordContent,
  sameBankingClientId,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { BankingContext } from '../context.ts';
import {
  type BankingCustomerRecord,
  selectBankingCustomer,
  setOpaqueRecord,
  setPendingCredentialId,
} from './customers-store.ts';
import { messageHash, StatementRejected, storedContent, verifyDeviceStatement } from './device-statement.ts';
import {
  createRegistrationResponse,
  freshCredentialId,
  opaqueMessagePattern,
  opaqueRecordPattern,
} from './opaque.ts';

/**
 * Registration at the authentication server (SA2pMP §5.2), after the device
 * enrolled its keys at the key depository (POST /enrolments) and the
 * operator enabled the party for banking (banking_customers):
 *
 * - the device's ID_C parts (SIM, PHID) under its key binding, signed by its
 *   bound key (POST /banking/devices);
 * - the customer's password, by OPAQUE registration, each step signed by a
 *   bound key of the customer over the hash of the OPAQUE message
 *   (POST /banking/passwords/start, /finish), only while none is registered.
 *   Each start draws a fresh OPAQUE credential identifier (opaque.ts), kept
 *   as pending; the finish stores the record and makes the pending one its
 *   identifier. A later start replaces the pending one: the finish of an
 *   earlier start then stores a record its password does not open (the
 *   record does not say which start it answers); the customer's devices
 *   register one at a time, and the bank's reset repairs it.
 *
 * Every refusal is BANKING_REGISTRATION_FAILED (the reason goes to the log
 * only), except BANKING_PASSWORD_EXISTS, told only to a device of the
 * customer that proved itself.
 */

function refused(context: BankingContext, reason: string, event: Record<string, unknown>): MpayError {
  context.log.info({ ...event, reason }, 'banking registration refused');
  return new MpayError('BANKING_REGISTRATION_FAILED');
}

/** A refusal the steps below raise; mapped to the generic code in one place. */
class RegistrationRejected extends Error {}

async function guarded<T>(context: BankingContext, event: Record<string, unknown>, work: () => Promise<T>) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RegistrationRejected || error instanceof StatementRejected) {
      throw refused(context, error.message, event);
    }
    // The strict parsers of the signed content: a malformed content is a refusal like any other.
    if (isMpayError(error, 'MESSAGE_INVALID')) throw refused(context, `content ${error.detail ?? ''}`, event);
    throw error;
  }
}

export interface PasswordStep {
  readonly userId: string;
  /** The OPAQUE message: the registration request (start) or record (finish). */
  readonly message: string;
  /** The device's JWS over `{ bankingPassword: { userId, step, messageHash } }`, txn its binding serial. */
  readonly device: string;
}

/** The customer a password step's signature proves: a bound key of the customer with that user id. */
async function passwordStepCustomer(
  sql: Sql,
  context: BankingContext,
  step: PasswordStep,
  kind: BankingPasswordContent['step'],
  now: Date,
): Promise<BankingCustomerRecord> {
  const pattern = kind === 'start' ? opaqueMessagePattern : opaqueRecordPattern;
  if (!pattern.test(step.message)) throw new RegistrationRejected('OPAQUE message malformed');
  const statement = await verifyDeviceStatement(
    sql,
    context,
    step.device,
    { member: 'bankingPassword', transactionId: 'serial' },
    now,
    false,
  );
  const content = parseBankingPasswordContent(statement.content);
  if (content.step !== kind) throw new RegistrationRejected(`step ${content.step}, expected ${kind}`);
  if (content.userId !== step.userId) throw new RegistrationRejected('userId differs from the signed one');
  if (content.messageHash !== messageHash(step.message))
    throw new RegistrationRejected('messageHash differs');
  const customer = await selectBankingCustomer(sql, statement.bound.binding.subject, true);
  if (customer === undefined || customer.userId !== step.userId) {
    throw new RegistrationRejected(`no banking customer ${step.userId} of the signing party`);
  }
  return customer;
}

/** POST /banking/passwords/start: OPAQUE's registration response under a fresh credential identifier, kept pending. */
export async function startPasswordRegistration(
  context: BankingContext,
  step: PasswordStep,
  now: Date,
): Promise<{ registrationResponse: string }> {
  return guarded(context, { userId: step.userId, step: 'start' }, () =>
    context.database.transaction(async (sql) => {
      const customer = await passwordStepCustomer(sql, context, step, 'start', now);
      if (customer.opaqueRecord !== undefined) throw new MpayError('BANKING_PASSWORD_EXISTS');
      const credentialId = freshCredentialId(customer.userId);
      const registrationResponse = await createRegistrationResponse(
        context.banking.opaqueServerSetup,
        credentialId,
        step.message,
      );
      if (registrationResponse === undefined) throw new RegistrationRejected('OPAQUE registration request');
      if (!(await setPendingCredentialId(sql, customer.partyId, credentialId, now))) {
        throw new Error('assertion failed: the locked customer had no password');
      }
      return { registrationResponse };
    }),
  );
}

/** POST /banking/passwords/finish: stores the OPAQUE record, once (the operator's reset clears it). */
export async function finishPasswordRegistration(
  context: BankingContext,
  step: PasswordStep,
  now: Date,
): Promise<{ userId: string; registeredAt: string }> {
  return guarded(context, { userId: step.userId, step: 'finish' }, () =>
    context.database.transaction(async (sql) => {
      const customer = await passwordStepCustomer(sql, context, step, 'finish', now);
      if (customer.opaqueRecord !== undefined) throw new MpayError('BANKING_PASSWORD_EXISTS');
      if (customer.opaquePendingCredentialId === undefined) {
        throw new RegistrationRejected('no registration started (or the bank reset it since)');
      }
      if (!(await setOpaqueRecord(sql, customer.partyId, step.message, now))) {
        throw new Error('assertion failed: the locked customer had no password and a pending identifier');
      }
      context.log.info({ partyId: customer.partyId }, 'banking password registered');
      return { userId: customer.userId, registeredAt: now.toISOString() };
    }),
  );
}

export interface RegisteredDevice {
  /** false: the same registration was made before (answered again, 200). */
  readonly created: boolean;
  readonly serial: string;
  readonly partyId: string;
  readonly clientId: BankingClientId;
}

interface DeviceRow {
  party_id: string;
  sim: string;
  phone_id: string;
  registration: string;
}

function sameRegistration(row: DeviceRow, partyId: string, content: BankingDeviceContent): boolean {
  if (
    row.party_id !== partyId ||
    row.sim !== content.clientId.sim ||
    row.phone_id !== content.clientId.phoneId
  ) {
    return false;
  }
  const stored = parseBankingDeviceContent(storedContent(row.registration, 'bankingDevice'));
  return stored.userId === content.userId && sameBankingClientId(stored.clientId, content.clientId);
}

/**
 * POST /banking/devices: the device's ID_C parts under its key binding. The
 * binding's row is locked, so two registrations of one binding queue: the
 * second sees the first (the same content → answered again; another → refused).
 */
export async function registerBankingDevice(
  context: BankingContext,
  device: string,
  now: Date,
): Promise<RegisteredDevice> {
  return guarded(context, { step: 'device' }, () =>
    context.database.transaction(async (sql) => {
      const statement = await verifyDeviceStatement(
        sql,
        context,
        device,
        { member: 'bankingDevice', transactionId: 'serial' },
        now,
        true,
      );
      const { serial, binding } = statement.bound;
      const partyId = binding.subject;
      const content = parseBankingDeviceContent(statement.content);
      const customer = await selectBankingCustomer(sql, partyId);
      if (customer === undefined || customer.userId !== content.userId) {
        throw new RegistrationRejected(
          `binding ${serial}: no banking customer ${content.userId} of ${partyId}`,
        );
      }
      if (!binding.accounts.includes(content.clientId.accountId)) {
        throw new RegistrationRejected(
          `binding ${serial} does not name account ${content.clientId.accountId}`,
        );
      }
      const { rows } = await sql.query<DeviceRow>(
        'SELECT party_id, sim, phone_id, registration FROM banking_devices WHERE serial = $1',
        [serial],
      );
      const existing = rows[0];
      if (existing !== undefined) {
        if (!sameRegistration(existing, partyId, content)) {
          throw new RegistrationRejected(`binding ${serial} is registered with another content`);
        }
        return { created: false, serial, partyId, clientId: content.clientId };
      }
      await sql.query(
        `INSERT INTO banking_devices (serial, party_id, sim, phone_id, registration, registered_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [serial, partyId, content.clientId.sim, content.clientId.phoneId, device, now.toISOString()],
      );
      context.log.info({ partyId, serial }, 'banking device registered');
      return { created: true, serial, partyId, clientId: content.clientId };
    }),
  );
}
