import { randomBytes, randomUUID } from 'node:crypto';
import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type KeyBinding,
  signPayload,
  verifyKeyBinding,
} from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  bankingRequestToJson,
  luhnCheckDigit,
} from '@mpay/protocol';
import {
  type EnrolledKey,
  issueTestEnrolmentCode,
  type TestBank,
  uniquePartyId,
} from '../../test-helpers.ts';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';

/**
 * Banking devices and opened requests for the key management server's
 * tests, made with the rows the authentication server would have written
 * (customer, device registration, active session, claimed request), so that
 * these tests do not go through a login.
 */

function digits(count: number): string {
  return Array.from(randomBytes(count), (byte) => String(byte % 10)).join('');
}

/** A valid ICCID (19 digits, 89…, Luhn) and IMEI (15 digits, Luhn). */
export function testSimAndPhone(): { sim: string; phoneId: string } {
  const simBody = `89${digits(16)}`;
  const phoneBody = digits(14);
  return { sim: `${simBody}${luhnCheckDigit(simBody)}`, phoneId: `${phoneBody}${luhnCheckDigit(phoneBody)}` };
}

export interface BankingCustomer {
  readonly partyId: string;
  readonly userId: string;
  readonly msisdn: string;
  readonly accountId: string;
}

/** A customer with an account, enabled for mobile banking (the operator's POST /banking/customers, as rows). */
export async function createBankingCustomer(bank: TestBank): Promise<BankingCustomer> {
  const partyId = uniquePartyId('person', bank.name, 'kms');
  const accountId = await bank.openAccount('customer', 'EUR', partyId);
  const userId = `user-${randomUUID().slice(0, 8)}`;
  const msisdn = `+3897${digits(7)}`;
  const now = bank.now().toISOString();
  await bank.database.query(
    `INSERT INTO banking_customers (party_id, user_id, msisdn, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, 'test-operator', $4, $4)`,
    [partyId, userId, msisdn, now],
  );
  return { partyId, userId, msisdn, accountId };
}

export interface BankingDevice {
  readonly customer: BankingCustomer;
  readonly key: EnrolledKey;
  readonly clientId: BankingClientId;
  /** The device's session (active), opened on its binding. */
  readonly sessionId: string;
}

/** Registers a banking device for a key binding and opens an active session on it. */
export async function registerDevice(
  bank: TestBank,
  customer: BankingCustomer,
  key: EnrolledKey,
  signing: GeneratedKeyPair = key.signing,
  ids = testSimAndPhone(),
): Promise<BankingDevice> {
  const now = bank.now().toISOString();
  await bank.database.query(
    `INSERT INTO banking_devices (serial, party_id, sim, phone_id, registration, registered_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [key.serial, customer.partyId, ids.sim, ids.phoneId, `registration of ${key.serial}`, now],
  );
  const device = { customer, key: { ...key, signing }, clientId: { ...ids, accountId: customer.accountId } };
  return { ...device, sessionId: await openSession(bank, device) };
}

/** An active session of the device's binding (what a login's last step leaves). */
export async function openSession(
  bank: TestBank,
  device: Pick<BankingDevice, 'customer' | 'key'>,
): Promise<string> {
  const sessionId = randomUUID();
  const now = bank.now();
  await bank.database.query(
    `INSERT INTO banking_sessions (id, party_id, state, serial, expires_at, last_used_at, created_at, updated_at)
     VALUES ($1, $2, 'active', $3, $4, $5, $5, $5)`,
    [
      sessionId,
      device.customer.partyId,
      device.key.serial,
      new Date(now.getTime() + 1_800_000).toISOString(),
      now.toISOString(),
    ],
  );
  return sessionId;
}

/**
 * Enrols a device key as enrolTestCustomer does, with the proof signed on the
 * bank's clock, so that it also works after a test moved that clock forward.
 */
export async function enrolKey(
  bank: TestBank,
  partyId: string,
  accountIds: readonly string[],
): Promise<EnrolledKey> {
  const code = await issueTestEnrolmentCode(bank, partyId, accountIds);
  const deviceId = `device-${randomUUID().slice(0, 8)}`;
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  const proof = await signPayload(
    { enrolment: { partyId, deviceId, bank: bank.name } },
    {
      issuer: partyId,
      audience: bank.name,
      transactionId: deviceId,
      expiresInSeconds: 300,
      now: () => bank.now().getTime(),
    },
    signing.privateJwk,
  );
  const answer = await bank.call('POST', '/enrolments', {
    partyId,
    code,
    deviceId,
    signingJwk: signing.publicJwk,
    encryptionJwk: encryption.publicJwk,
    proof,
  });
  if (answer.status !== 201) throw new Error(`enrolment: ${JSON.stringify(answer.body)}`);
  return {
    partyId,
    deviceId,
    serial: answer.body.serial as string,
    binding: answer.body.binding as string,
    signing,
    encryption,
  };
}

/** Enrols a key for the customer's account and registers it as a banking device with a session. */
export async function enrolBankingDevice(bank: TestBank, customer: BankingCustomer): Promise<BankingDevice> {
  const key = await enrolKey(bank, customer.partyId, [customer.accountId]);
  return registerDevice(bank, customer, key);
}

/**
 * The request as the authentication server hands it on after opening and
 * claiming it: the device's JWS over `{banking: {request, clientId,
 * sessionId}}` by its key, its binding verified, the banking_requests row
 * inserted (the claim banking transactions refer to).
 */
export async function openedRequest(
  bank: TestBank,
  context: BankingContext,
  device: BankingDevice,
  request: BankingRequest,
): Promise<OpenedBankingRequest> {
  const requestId = randomUUID();
  const now = bank.now();
  const jws = await signPayload(
    {
      banking: {
        request: bankingRequestToJson(request),
        clientId: device.clientId,
        sessionId: device.sessionId,
      },
    },
    {
      issuer: device.customer.partyId,
      audience: bank.name,
      transactionId: requestId,
      expiresInSeconds: 120,
      now: () => now.getTime(),
    },
    device.key.signing.privateJwk,
  );
  const nonce = randomBytes(16).toString('base64url');
  await bank.database.query(
    `INSERT INTO banking_requests (id, session_id, party_id, serial, kind, nonce, request, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      requestId,
      device.sessionId,
      device.customer.partyId,
      device.key.serial,
      request.kind,
      nonce,
      jws,
      now.toISOString(),
    ],
  );
  const binding: KeyBinding = await verifyKeyBinding(
    device.key.binding,
    (kid) => context.bank.resolveKey(kid),
    {
      isRevoked: () => false,
      issuer: context.bank.id,
      now: () => now.getTime(),
    },
  );
  return {
    requestId,
    sessionId: device.sessionId,
    partyId: device.customer.partyId,
    serial: device.key.serial,
    binding,
    clientId: device.clientId,
    request,
    jws,
    nonce,
    expiresAt: new Date(now.getTime() + 120_000),
    sessionKey: new Uint8Array(32),
  };
}

/** New device keys and their proof of possession for a renewal: `{renewal: {noticeId, partyId, bank}}`. */
export async function renewalKeys(
  bank: TestBank,
  partyId: string,
  noticeId: string,
  options: { content?: Record<string, unknown>; transactionId?: string; signer?: GeneratedKeyPair } = {},
): Promise<{ signing: GeneratedKeyPair; encryption: GeneratedKeyPair; proof: string }> {
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  const proof = await signPayload(
    options.content ?? { renewal: { noticeId, partyId, bank: bank.name } },
    {
      issuer: partyId,
      audience: bank.name,
      transactionId: options.transactionId ?? noticeId,
      expiresInSeconds: 300,
      now: () => bank.now().getTime(),
    },
    (options.signer ?? signing).privateJwk,
  );
  return { signing, encryption, proof };
}

/** The session's state and why it ended. */
export async function sessionState(
  bank: TestBank,
  sessionId: string,
): Promise<{ state: string; reason: string | null }> {
  const { rows } = await bank.database.query<{ state: string; closed_reason: string | null }>(
    'SELECT state, closed_reason FROM banking_sessions WHERE id = $1',
    [sessionId],
  );
  if (rows[0] === undefined) throw new Error('no such session');
  return { state: rows[0].state, reason: rows[0].closed_reason };
}

/** The banking transactions recorded for a party, oldest first. */
export async function bankingTransactionsOf(
  bank: TestBank,
  partyId: string,
): Promise<{ id: string; kind: string; messages: string[] }[]> {
  const { rows } = await bank.database.query<{ id: string; kind: string; messages: string }>(
    'SELECT id::text AS id, kind, messages FROM banking_transactions WHERE party_id = $1 ORDER BY created_at, id',
    [partyId],
  );
  return rows.map((row) => ({ id: row.id, kind: row.kind, messages: JSON.parse(row.messages) as string[] }));
}
