import { signPayload, verifyKeyBinding } from '@mpay/envelope';
import type { HsmSigningKeyInfo } from '@mpay/hsm';
import { requestObject } from '@mpay/http-client';
import { isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import type { BankLink, CustodyContext } from '../context.ts';
import { newDeviceToken, newOpaqueId, tokenHash } from '../ids.ts';
import { deliverNow, queueEffect } from '../outbox/outbox.ts';
import { storeCredential, useRegistration } from '../pin/registrations.ts';
import { bankOf } from './banks.ts';

export interface CustodyEnrolmentRequest {
  readonly partyId: string;
  readonly bankId: string;
  /** The one-time enrolment code the customer's bank issued to the customer. */
  readonly code: string;
  /** The customer's phone (it gets a token for its inbox). */
  readonly deviceId: string;
  readonly displayName: string;
  readonly registrationId: string;
  readonly registrationRecord: string;
}

export interface CustodyEnrolment {
  readonly partyId: string;
  readonly serial: string;
  readonly binding: string;
  readonly credentialId: string;
  readonly deviceId: string;
  readonly deviceToken: string;
}

/**
 * Enrols a custody customer (iMS §5: the server "minds the certificates of
 * customers with their private and public keys"): a key pair generated inside
 * the HSM, not extractable; its public key enrolled at the customer's bank
 * with the customer's one-time code and a proof of possession signed in the
 * HSM, exactly as a phone enrols a device key, so the bank binds it to the
 * customer's accounts and checks the customer's consent unchanged. The
 * binding names custody's encryption key, so the FSP's messages for this
 * customer can be read by custody only. Then in one transaction the customer,
 * the key, the PIN record and the phone's token, and (from the outbox) the
 * customer's registration with the FSP.
 */
export async function enrolCustodyCustomer(
  context: CustodyContext,
  request: CustodyEnrolmentRequest,
): Promise<CustodyEnrolment> {
  const party = parsePartyId(request.partyId, 'partyId');
  if (party.kind !== 'person' || !('bank' in party) || party.bank !== request.bankId) {
    throw new MpayError('PARTY_ID_INVALID', 'partyId');
  }
  const bank = bankOf(context, request.bankId);
  const existing = await context.database.query('SELECT 1 FROM customers WHERE party_id = $1', [
    request.partyId,
  ]);
  if (existing.rows.length > 0) throw new MpayError('ENROLMENT_FAILED', 'already a customer');
  // The registration is used up first: a stale or replayed one never reaches the bank or the HSM.
  const claimed = await context.database.transaction((sql) =>
    useRegistration(sql, request.registrationId, context.clock()),
  );
  if (!claimed) throw new MpayError('REQUEST_INVALID', 'registrationId');
  // An opaque label: the token's object list names no customer.
  const label = `custody-key-${newOpaqueId()}`;
  const key = await context.hsm.generateSigningKey(label);
  let bound: { serial: string; binding: string } | undefined;
  try {
    bound = await bindAtBank(context, request, bank, key);
  } catch (error) {
    // Nothing bound it (the bank refused, or never answered): the key must not outlive the attempt.
    await context.hsm.destroySigningKey(key.id).catch(() => undefined);
    throw error;
  }
  // Bound at the bank: the key is kept even if storing fails below (the bank's binding names it).
  return storeEnrolment(context, request, bank, key, label, bound);
}

/** The device id the bank's binding names for a custody key: which custody holds it. */
function custodyDeviceId(context: CustodyContext): string {
  return `custody-${context.custody.id.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64);
}

async function bindAtBank(
  context: CustodyContext,
  request: CustodyEnrolmentRequest,
  bank: BankLink,
  key: HsmSigningKeyInfo,
): Promise<{ serial: string; binding: string }> {
  const deviceId = custodyDeviceId(context);
  const proof = await signPayload(
    { enrolment: { partyId: request.partyId, deviceId, bank: bank.id } },
    { issuer: request.partyId, audience: bank.id, transactionId: deviceId, expiresInSeconds: 300 },
    context.hsm.signer(key),
  );
  const { body } = await requestObject<{ serial?: unknown; binding?: unknown }>(
    `${bank.url}/enrolments`,
    {
      body: JSON.stringify({
        partyId: request.partyId,
        code: request.code,
        deviceId,
        signingJwk: key.publicJwk,
        encryptionJwk: context.custody.encryption.publicJwk,
        proof,
      }),
      contentType: 'application/json',
      timeoutMs: context.limits.callTimeoutMs,
      responseBytesMax: 32 * 1024,
    },
    'BANK_UNAVAILABLE',
  );
  if (typeof body.binding !== 'string' || typeof body.serial !== 'string') {
    throw new MpayError('BANK_UNAVAILABLE', 'enrolment answer');
  }
  return { serial: body.serial, binding: body.binding };
}

async function storeEnrolment(
  context: CustodyContext,
  request: CustodyEnrolmentRequest,
  bank: BankLink,
  key: HsmSigningKeyInfo,
  label: string,
  body: { serial: string; binding: string },
): Promise<CustodyEnrolment> {
  const now = context.clock();
  const binding = await verifyKeyBinding(body.binding, async () => bank.signingJwk, {
    isRevoked: () => false,
    issuer: bank.id,
    clockSkewSeconds: context.limits.clockSkewSeconds,
    now: () => now.getTime(),
  });
  if (binding.subject !== request.partyId || binding.signingJwk.kid !== key.publicJwk.kid) {
    throw new MpayError('KEY_BINDING_INVALID', 'the bank bound another key or party');
  }
  const deviceToken = newDeviceToken();
  await context.database.transaction(async (sql) => {
    await sql.query(
      `INSERT INTO customers (party_id, kind, bank_id, display_name, created_at)
       VALUES ($1, 'custody', $2, $3, $4)`,
      [request.partyId, bank.id, request.displayName, now.toISOString()],
    );
    await sql.query(
      `INSERT INTO custody_keys (party_id, hsm_key_id, hsm_label, kid, public_jwk, binding_serial, binding,
         accounts, created_at, credential_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        request.partyId,
        key.id,
        label,
        key.publicJwk.kid,
        JSON.stringify(key.publicJwk),
        binding.serialNumber,
        body.binding,
        JSON.stringify(binding.accounts),
        now.toISOString(),
        request.registrationId,
      ],
    );
    await storeCredential(sql, request.registrationId, request.partyId, request.registrationRecord, now);
    await sql.query(
      'INSERT INTO devices (party_id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)',
      [request.partyId, request.deviceId, tokenHash(deviceToken), now.toISOString()],
    );
    await queueEffect(
      sql,
      'fsp_registration',
      request.partyId,
      {
        binding: body.binding,
        displayName: request.displayName,
      },
      now,
    );
  });
  context.log.info(
    { partyId: request.partyId, serial: binding.serialNumber, kid: key.publicJwk.kid },
    'custody key enrolled',
  );
  // Registered with the FSP before answering, so the customer can be paid at once; else the outbox retries.
  await deliverNow(context, 'fsp_registration', request.partyId, 0);
  return {
    partyId: request.partyId,
    serial: binding.serialNumber,
    binding: body.binding,
    credentialId: request.registrationId,
    deviceId: request.deviceId,
    deviceToken,
  };
}

/** Whether an error is the bank's decision on the enrolment (to pass on as it is). */
export function isEnrolmentRefusal(error: unknown): boolean {
  return isMpayError(error, 'ENROLMENT_FAILED') || isMpayError(error, 'ENROLMENT_BLOCKED');
}
