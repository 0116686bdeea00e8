import { randomInt, randomUUID } from 'node:crypto';
import { type KeyBinding, signPayload } from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  bankingRequestToJson,
  luhnCheckDigit,
} from '@mpay/protocol';
import { boundKeyOfSerial } from '../../macro/device.ts';
import { type EnrolledKey, enrolTestCustomer, type TestBank, uniquePartyId } from '../../test-helpers.ts';
import type { OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';

/**
 * Test-only: a banking customer as the business logic server meets it, with
 * what the authentication server would have established (a real key
 * binding, an open session, a claimed request), without its login.
 */
export interface BankingTestCustomer {
  readonly partyId: string;
  /** The accounts the device's binding names; the first is ID_C's by default. */
  readonly accountIds: readonly string[];
  readonly key: EnrolledKey;
  readonly binding: KeyBinding;
  readonly sessionId: string;
  readonly clientId: BankingClientId;
}

function digits(count: number): string {
  return Array.from({ length: count }, () => String(randomInt(10))).join('');
}

/** A SIM serial (ICCID) and an IMEI that pass their Luhn checks. */
export function testDeviceNumbers(): { sim: string; phoneId: string } {
  const sim = `89${digits(15)}`;
  const phoneId = digits(14);
  return { sim: `${sim}${luhnCheckDigit(sim)}`, phoneId: `${phoneId}${luhnCheckDigit(phoneId)}` };
}

export function bankingContextOf(bank: TestBank): BankingContext {
  const context = bank.service.banking;
  if (context === undefined) throw new Error('assertion failed: the test bank has mobile banking');
  return context;
}

/**
 * A person of `bank` with `accounts` EUR customer accounts (the first funded
 * with `funds`), registered for banking by the operator route, with an
 * enrolled device key over all its accounts and an active session.
 */
export async function newBankingCustomer(
  bank: TestBank,
  options: { funds?: bigint; accounts?: number; prefix?: string } = {},
): Promise<BankingTestCustomer> {
  const context = bankingContextOf(bank);
  const partyId = uniquePartyId('person', bank.name, options.prefix ?? 'customer');
  const accountIds: string[] = [];
  for (let index = 0; index < (options.accounts ?? 1); index += 1) {
    accountIds.push(await bank.openAccount('customer', 'EUR', partyId));
  }
  const [first] = accountIds;
  if (first === undefined) throw new Error('assertion failed: at least one account');
  if ((options.funds ?? 0n) > 0n) await bank.fund(first, options.funds ?? 0n);
  const registered = await bank.call('POST', '/banking/customers', {
    partyId,
    userId: `user-${randomUUID().slice(0, 8)}`,
    msisdn: `+3897${digits(7)}`,
  });
  if (registered.status !== 201) throw new Error(`banking customer: ${JSON.stringify(registered.body)}`);
  const key = await enrolTestCustomer(bank, partyId, accountIds);
  const { binding } = await boundKeyOfSerial(bank.database, context.bank, key.serial, bank.now(), false);
  const sessionId = randomUUID();
  const now = bank.now();
  await bank.database.query(
    `INSERT INTO banking_sessions (id, party_id, state, serial, expires_at, last_used_at, created_at, updated_at)
     VALUES ($1, $2, 'active', $3, $4, $5, $5, $5)`,
    [sessionId, partyId, key.serial, new Date(now.getTime() + 1_800_000).toISOString(), now.toISOString()],
  );
  return {
    partyId,
    accountIds,
    key,
    binding,
    sessionId,
    clientId: { ...testDeviceNumbers(), accountId: first },
  };
}

function nonceOf(jws: string): string {
  const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    nonce?: unknown;
  };
  if (typeof payload.nonce !== 'string') throw new Error('assertion failed: a signed payload has a nonce');
  return payload.nonce;
}

/**
 * What the authentication server hands the business logic server: the
 * device's JWS over `{ banking: { request, clientId, sessionId } }` (iss the
 * party, aud the bank, txn a fresh request id), the request claimed (its
 * banking_requests row committed), the binding as verified then.
 */
export async function openTestRequest(
  bank: TestBank,
  customer: BankingTestCustomer,
  request: BankingRequest,
  options: { accountId?: string } = {},
): Promise<OpenedBankingRequest> {
  const requestId = randomUUID();
  const clientId = { ...customer.clientId, accountId: options.accountId ?? customer.clientId.accountId };
  const lifetimeSeconds = 120;
  const jws = await signPayload(
    { banking: { request: bankingRequestToJson(request), clientId, sessionId: customer.sessionId } },
    {
      issuer: customer.partyId,
      audience: bank.name,
      transactionId: requestId,
      expiresInSeconds: lifetimeSeconds,
      now: () => bank.now().getTime(),
    },
    customer.key.signing.privateJwk,
  );
  const nonce = nonceOf(jws);
  const now = bank.now();
  await bank.database.query(
    `INSERT INTO banking_requests (id, session_id, party_id, serial, kind, nonce, request, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      requestId,
      customer.sessionId,
      customer.partyId,
      customer.key.serial,
      request.kind,
      nonce,
      jws,
      now.toISOString(),
    ],
  );
  return {
    requestId,
    sessionId: customer.sessionId,
    partyId: customer.partyId,
    serial: customer.key.serial,
    binding: customer.binding,
    clientId,
    request,
    jws,
    nonce,
    expiresAt: new Date(now.getTime() + lifetimeSeconds * 1000),
    sessionKey: new Uint8Array(32),
  };
}

/** An account's balances as the operator reads them. */
export async function balanceOf(
  bank: TestBank,
  accountId: string,
): Promise<{ balance: bigint; available: bigint }> {
  const { body } = await bank.call('GET', `/accounts/${accountId}`);
  return { balance: BigInt(body.balance as string), available: BigInt(body.available as string) };
}

/** The banking_transactions rows of a request (0 or 1). */
export async function bankingTransactionRows(bank: TestBank, requestId: string): Promise<number> {
  const { rows } = await bank.database.query<{ count: string }>(
    'SELECT count(*)::text AS count FROM banking_transactions WHERE id = $1',
    [requestId],
  );
  return Number(rows[0]?.count ?? '0');
}
