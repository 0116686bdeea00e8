import {
  decodeUnverified,
  decryptWith,
  type KeyBinding,
  type VerifiedPayload,
  verifyKeyBinding,
  verifyPayload,
} from '@mpay/envelope';
import {
  isMpayError,
  type MacroRegistrationContent,
  MpayError,
  maskEmail,
  parseMacroRegistration,
  parsePartyId,
  parseSecretAnswer,
  signedContentMatches,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import {
  claimIdempotencyKey,
  type IdempotencyClaim,
  storeIdempotentAnswer,
} from '../payments/idempotency.ts';
import { recordNonce } from '../payments/nonces.ts';
import { type BankRecord, findBank } from '../registry/banks.ts';
import { requestClientId } from './client-id.ts';
import type { MacroContext } from './context.ts';
import { queueRegistrationMail } from './mail.ts';
import { generateMpin } from './mpin.ts';
import { secretAnswerVerifier } from './secret-answer.ts';
import {
  insertMacroClient,
  type MacroClientRecord,
  recordRegistrationAttempt,
  registrationAttemptsSince,
  registrationConflict,
} from './store.ts';

/**
 * Registration at the MPASP (seed 002 §3), for a customer of a bank who
 * enrolled a device key there: the bank's key binding vouches for the person
 * and the account; the device's signature over the registration makes it the
 * customer's own request; the client bank issues the client id; the MPASP
 * draws the mPIN, keeps only its OPAQUE record and an Argon2id verifier of the
 * secret answer, and mails the client id and the mPIN.
 *
 * Wire form (POST /macro/registrations, `application/jose`): a JWE to the
 * FSP's encryption key (it carries the secret answer) of the JSON
 * `{ binding, registration, signature, secretAnswer }`:
 * - `binding`: the bank's key binding of the device (compact JWS);
 * - `registration`: `MacroRegistrationContent`;
 * - `signature`: the device's compact JWS (`signPayload`) over exactly
 *   `registration`, issuer the party, audience the FSP, `txn` the party id;
 * - `secretAnswer`: SAns as typed (not signed: see `MacroRegistrationContent`).
 */
export interface OpenedRegistration {
  readonly binding: string;
  readonly registration: MacroRegistrationContent;
  readonly signature: string;
  /** Normalised (`normalizeSecretAnswer`): the only form ever hashed. */
  readonly secretAnswer: string;
}

export interface VerifiedRegistration extends OpenedRegistration {
  readonly bank: BankRecord;
  readonly keyBinding: KeyBinding;
  readonly signed: VerifiedPayload;
}

const compactPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const compactLengthMax = 16_384;

function compactMember(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length > compactLengthMax || !compactPattern.test(value)) {
    throw new MpayError('MESSAGE_INVALID', path);
  }
  return value;
}

/** Decrypts the registration sent to the FSP and checks its shape strictly (nothing verified yet). */
export async function openRegistration(context: GatewayContext, jwe: string): Promise<OpenedRegistration> {
  const bytes = await decryptWith(jwe, [context.fsp.encryption.privateJwk]);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'json');
  }
  const members = ['binding', 'registration', 'signature', 'secretAnswer'];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MpayError('MESSAGE_INVALID', '(message)');
  }
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record))
    if (!members.includes(name)) throw new MpayError('MESSAGE_INVALID', name);
  for (const name of members) if (!Object.hasOwn(record, name)) throw new MpayError('MESSAGE_INVALID', name);
  return {
    binding: compactMember(record.binding, 'binding'),
    registration: parseMacroRegistration(record.registration),
    signature: compactMember(record.signature, 'signature'),
    secretAnswer: parseSecretAnswer(record.secretAnswer),
  };
}

/** The `iss` of a binding before it is verified: only to pick the bank key it must verify under. */
function claimedBank(binding: string): string {
  const issuer = (decodeUnverified(binding)?.payload as { iss?: unknown } | undefined)?.iss;
  if (typeof issuer !== 'string') throw new MpayError('KEY_BINDING_INVALID');
  return issuer;
}

/**
 * Verifies an opened registration, in order: the binding under the key of
 * the bank it names (the gateway's bank registry), for a person of that bank
 * who is the registering party; then the device's signature under the
 * binding's signing key, over exactly the registration, to this FSP, fresh,
 * with `issuedAt` agreeing with its `iat`. Whether the binding is still
 * active is the bank's to say: it checks when it issues the client id.
 */
export async function verifyRegistration(
  context: GatewayContext,
  opened: OpenedRegistration,
): Promise<VerifiedRegistration> {
  const { registration } = opened;
  const bank = await findBank(context.database, claimedBank(opened.binding));
  const keyBinding = await verifyKeyBinding(opened.binding, async () => bank.signingJwk, {
    isRevoked: () => false,
    issuer: bank.id,
    clockSkewSeconds: context.limits.clockSkewSeconds,
    now: () => context.clock().getTime(),
  });
  const party = parsePartyId(keyBinding.subject, 'sub');
  if (party.kind !== 'person' || party.bank !== bank.id)
    throw new MpayError('KEY_BINDING_INVALID', 'subject');
  // A binding of another customer: the registration is not this device's to make.
  if (party.id !== registration.partyId) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  // Signature claims use the wall clock, as every signature the gateway checks (payments/verify.ts).
  const signed = await verifyPayload(
    opened.signature,
    (kid) => (kid === keyBinding.signingJwk.kid ? keyBinding.signingJwk : undefined),
    { issuer: registration.partyId, audience: context.fsp.id, transactionId: registration.partyId },
    { clockSkewSeconds: context.limits.clockSkewSeconds, maxAgeSeconds: context.limits.messageAgeSecondsMax },
  ).catch((error: unknown) => {
    // Which check failed (key, audience, issuer, lifetime) is not the sender's business.
    if (isMpayError(error, 'CLAIMS_INVALID') || isMpayError(error, 'KEY_UNKNOWN')) {
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    }
    throw error;
  });
  if (!signedContentMatches(signed.payload, registration)) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  const issuedAtSeconds = Date.parse(registration.issuedAt) / 1000;
  if (Math.abs(issuedAtSeconds - signed.claims.iat) > context.limits.clockSkewSeconds + 1) {
    throw new MpayError('CLAIMS_INVALID', 'issuedAt');
  }
  return { ...opened, bank, keyBinding, signed };
}

/** The answer already stored for this Idempotency-Key (same request), without claiming it. */
async function answeredBefore(
  sql: Sql,
  claim: IdempotencyClaim,
): Promise<{ statusCode: number; body: unknown } | undefined> {
  const { rows } = await sql.query<{
    request_hash: string;
    status_code: number | null;
    response_body: string | null;
  }>('SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2', [
    claim.scope,
    claim.key,
  ]);
  const row = rows[0];
  if (row === undefined || row.status_code === null || row.response_body === null) return undefined;
  if (row.request_hash !== claim.requestHash) throw new MpayError('IDEMPOTENCY_KEY_REUSED');
  return { statusCode: row.status_code, body: JSON.parse(row.response_body) as unknown };
}

/** Rate limits, counted on verified attempts (an attempt counts whatever its outcome). */
async function countAttempt(macro: MacroContext, partyId: string, now: Date): Promise<void> {
  const { limits } = macro;
  const since = new Date(now.getTime() - limits.registrationWindowSeconds * 1000);
  await macro.gateway.database.transaction(async (sql) => {
    const attempts = await registrationAttemptsSince(sql, partyId, since);
    if (
      attempts.party >= limits.registrationsPerPartyMax ||
      attempts.all >= limits.registrationsPerWindowMax
    ) {
      throw new MpayError('REQUEST_RATE_LIMITED', undefined, {
        retryAfterSeconds: limits.registrationWindowSeconds,
      });
    }
    await recordRegistrationAttempt(sql, partyId, now);
  });
}

function refuseConflict(conflict: 'msisdn_taken' | 'client_exists' | undefined): void {
  if (conflict === 'msisdn_taken') throw new MpayError('MACRO_MSISDN_TAKEN');
  if (conflict === 'client_exists') throw new MpayError('MACRO_CLIENT_EXISTS');
}

export interface RegistrationAnswer {
  readonly statusCode: number;
  readonly body: unknown;
}

/**
 * Registers a verified client: rate limits, then the MSISDN (one client per
 * number, whoever holds it) and the party (one client per customer), then
 * the client id from the client bank, then the mPIN and its OPAQUE record and
 * the answer's verifier (CPU-heavy, outside any transaction), then one
 * transaction with the Idempotency-Key's claim, the signature's nonce, the
 * client and the queued mail. The same request again under the same key gets
 * the first answer; the mail is queued once.
 */
export async function registerClient(
  macro: MacroContext,
  verified: VerifiedRegistration,
  claim: IdempotencyClaim,
): Promise<RegistrationAnswer> {
  const { gateway } = macro;
  const { registration } = verified;
  const before = await answeredBefore(gateway.database, claim);
  if (before !== undefined) return before;
  const now = gateway.clock();
  await countAttempt(macro, registration.partyId, now);
  refuseConflict(await registrationConflict(gateway.database, registration.partyId, registration.msisdn));
  const issued = await requestClientId(gateway, verified.bank, {
    partyId: registration.partyId,
    msisdn: registration.msisdn,
    bindingSerial: verified.keyBinding.serialNumber,
  });
  const clientId = issued.content.clientId;
  const mPin = generateMpin();
  const client: MacroClientRecord = {
    clientId,
    partyId: registration.partyId,
    bankId: verified.bank.id,
    msisdn: registration.msisdn,
    email: registration.email,
    name: registration.name,
    secretQuestion: registration.secretQuestion,
    secretAnswerVerifier: await secretAnswerVerifier(verified.secretAnswer),
    deviceSecret: registration.deviceSecret,
    opaqueRecord: macro.mpins.register(clientId, mPin),
    bindingSerial: verified.keyBinding.serialNumber,
    binding: verified.binding,
    registration: verified.signature,
    clientIdStatement: issued.statement,
    registeredAt: now,
  };
  const answer = await gateway.database.transaction(async (sql) => {
    const stored = await claimIdempotencyKey(sql, claim, now);
    if (stored !== undefined) return stored;
    await recordNonce(
      sql,
      verified.signed.claims.iss,
      verified.signed.claims.nonce,
      verified.signed.claims.exp,
    );
    if (!(await insertMacroClient(sql, client))) {
      refuseConflict(await registrationConflict(sql, registration.partyId, registration.msisdn));
      throw new Error('assertion failed: a client that was not stored conflicts with one that was');
    }
    await queueRegistrationMail(
      sql,
      { clientId, to: registration.email, name: registration.name, mPin },
      { fspId: gateway.fsp.id, loginFailuresMax: macro.limits.mpinLoginFailuresMax },
      now,
    );
    const fresh = { statusCode: 201, body: { clientId, mailedTo: maskEmail(registration.email) } };
    await storeIdempotentAnswer(sql, claim, fresh);
    return fresh;
  });
  gateway.kickOutbox();
  gateway.log.info({ clientId, partyId: registration.partyId }, 'macro client registered');
  return answer;
}
