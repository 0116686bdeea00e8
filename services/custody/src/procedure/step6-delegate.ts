import { createHmac, timingSafeEqual } from 'node:crypto';
import { decryptWith, encryptTo, type PublicJwk, signPayload } from '@mpay/envelope';
import {
  type CustodyMessageState,
  customerDeclineContent,
  customerSignedContent,
  type ImsMessage,
  imsFromJson,
  imsToJson,
  isMpayError,
  MpayError,
  stepCustodyMessage,
} from '@mpay/protocol';
import { afterCommit, type Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { custodyKeyOf } from '../customers/custody-key.ts';
import type { AuthenticatedDevice } from '../customers/devices.ts';
import { deliverNow, queueEffect } from '../outbox/outbox.ts';
import { finishLogin, refuseFinish, type StartedLogin, startLogin } from '../pin/logins.ts';

export type Decision = 'confirm' | 'decline';

/** What a delegate authorisation's MAC covers: this delegation, this decision, this exact message. */
export function delegationMacInput(delegationId: string, decision: Decision, messageHash: string): string {
  return `mpay-custody-delegation/v1\n${delegationId}\n${decision}\n${messageHash}`;
}

export function delegationMac(
  sessionKey: string,
  delegationId: string,
  decision: Decision,
  messageHash: string,
) {
  return createHmac('sha256', Buffer.from(sessionKey, 'base64url'))
    .update(delegationMacInput(delegationId, decision, messageHash), 'utf8')
    .digest();
}

/**
 * Step 4 at custody: the phone asks to authorise one message; custody counts
 * the try and answers the first OPAQUE message of a login bound to that phone
 * and that payment. A payment custody never received gets an answer too: its
 * authorisation fails like a wrong PIN (one generic refusal for everything).
 */
export async function startDelegation(
  context: CustodyContext,
  device: AuthenticatedDevice,
  paymentId: string,
  startLoginRequest: string,
): Promise<{ delegationId: string; loginResponse: string }> {
  const { rows } = await context.database.query<{ credential_id: string }>(
    'SELECT credential_id FROM custody_keys WHERE party_id = $1',
    [device.partyId],
  );
  const credentialId = rows[0]?.credential_id;
  if (credentialId === undefined) throw new MpayError('PIN_REFUSED');
  // A message of this customer that was already answered, or is too old to be paid, is said so
  // before any try is counted (the customer's own phone may know its state; nobody else reaches here).
  const { rows: messages } = await context.database.query<{
    state: CustodyMessageState;
    created_at: Date | string;
  }>('SELECT state, created_at FROM messages WHERE payment_id = $1 AND party_id = $2', [
    paymentId,
    device.partyId,
  ]);
  const message = messages[0];
  if (message !== undefined && message.state !== 'sent_to_device')
    throw new MpayError('PAYMENT_STATE_INVALID');
  const ageMs =
    message === undefined ? 0 : context.clock().getTime() - new Date(message.created_at).getTime();
  if (ageMs > context.limits.messageAgeSecondsMax * 1000) throw new MpayError('PAYMENT_EXPIRED');
  const started: StartedLogin = await startLogin(context, credentialId, startLoginRequest, {
    purpose: 'delegation',
    deviceId: device.deviceId,
    paymentId,
  });
  return { delegationId: started.loginId, loginResponse: started.loginResponse };
}

/** Step 5's message: the OPAQUE finish, the decision and the MAC over the exact message, encrypted to custody. */
interface Authorisation {
  readonly finishLoginRequest: string | null;
  readonly decision: Decision;
  readonly messageHash: string;
  readonly authorisation: string;
}

function parseAuthorisation(plaintext: Uint8Array): Authorisation | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
    const { finishLoginRequest, decision, messageHash, authorisation } = value;
    if (finishLoginRequest !== null && typeof finishLoginRequest !== 'string') return undefined;
    if (decision !== 'confirm' && decision !== 'decline') return undefined;
    if (typeof messageHash !== 'string' || typeof authorisation !== 'string') return undefined;
    return { finishLoginRequest, decision, messageHash, authorisation };
  } catch {
    return undefined;
  }
}

interface MessageRow {
  party_id: string;
  state: CustodyMessageState;
  ims: string;
  forward_hash: string;
  /** When step 2 forwarded it to the phones. */
  created_at: Date | string;
}

export type DelegationAnswer =
  | { readonly status: 'completed'; readonly paymentId: string; readonly receipt: string }
  | { readonly status: 'authorised' | 'declined'; readonly paymentId: string };

/**
 * Step 6: custody validates the source (the phone's token, the delegation
 * started by that phone), checks the PIN (the OPAQUE finish), and checks that
 * the authorisation names exactly the message custody forwarded, with the
 * session key only this login has; then it signs that one message with the
 * customer's key inside the HSM. In one transaction: the login used up, the
 * message's step, the signature kept, and the effects (to the FSP, to the
 * log). Anything wrong is one answer, PIN_REFUSED, counted; the last try
 * blocks (PIN_BLOCKED).
 */
export async function authoriseDelegation(
  context: CustodyContext,
  device: AuthenticatedDevice,
  delegationId: string,
  jwe: string,
): Promise<DelegationAnswer> {
  const plaintext = await decryptWith(jwe, [context.custody.encryption.privateJwk]).catch(() => undefined);
  const authorisation = plaintext === undefined ? undefined : parseAuthorisation(plaintext);
  let paymentId: string | undefined;
  let decision: Decision | undefined;
  const outcome = await context.database
    .transaction(async (sql) => {
      const finished = await finishLogin(
        context,
        sql,
        delegationId,
        authorisation?.finishLoginRequest ?? null,
        async (login, sessionKey) => {
          if (authorisation === undefined || login.purpose !== 'delegation') return false;
          if (login.party_id !== device.partyId || login.device_id !== device.deviceId) return false;
          if (login.payment_id === null) return false;
          const message = await lockedMessage(sql, login.payment_id);
          if (message === undefined || message.party_id !== device.partyId) return false;
          if (message.state !== 'sent_to_device') return false;
          const expected = delegationMac(
            sessionKey,
            delegationId,
            authorisation.decision,
            message.forward_hash,
          );
          const presented = Buffer.from(authorisation.authorisation, 'base64url');
          if (authorisation.messageHash !== message.forward_hash) return false;
          if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return false;
          paymentId = login.payment_id;
          decision = authorisation.decision;
          return true;
        },
      );
      if (!finished.ok || paymentId === undefined || decision === undefined) return finished;
      await signDelegate(context, sql, device.partyId, paymentId, decision);
      return finished;
    })
    .catch(async (error: unknown) => {
      // The PIN was right but signing failed (the HSM, the database): the try is given back,
      // so an outage never blocks the customer, and only the code is answered.
      if (paymentId !== undefined) {
        await context.database.query(
          'UPDATE customers SET failed_tries = greatest(failed_tries - 1, 0) WHERE party_id = $1',
          [device.partyId],
        );
      }
      context.log.error({ err: error, partyId: device.partyId }, 'step 6: signing failed after a valid PIN');
      throw isMpayError(error) ? new MpayError(error.code) : error;
    });
  if (!outcome.ok || paymentId === undefined || decision === undefined) {
    context.log.info(
      { partyId: device.partyId, deviceId: device.deviceId },
      'step 6: PIN authorisation refused',
    );
    return refuseFinish(context, outcome.partyId ?? device.partyId);
  }
  context.kickOutbox();
  await deliverNow(context, 'fsp_answer', paymentId, context.limits.fspAnswerWaitMs);
  return answerOf(context, paymentId, decision);
}

async function lockedMessage(sql: Sql, paymentId: string): Promise<MessageRow | undefined> {
  const { rows } = await sql.query<MessageRow>(
    'SELECT party_id, state, ims, forward_hash, created_at FROM messages WHERE payment_id = $1 FOR UPDATE',
    [paymentId],
  );
  return rows[0];
}

function fspEncryptionKey(context: CustodyContext): PublicJwk {
  const key = context.fsp.keys.keys.find((jwk) => jwk.use === 'enc');
  if (key === undefined) throw new MpayError('KEY_UNKNOWN', 'fsp encryption key');
  return key;
}

/**
 * Signs, in the HSM, the customer's consent to exactly this message (or the
 * customer's decline of it): the same signed content and claims a phone with
 * its own key would make, so the FSP and the customer's bank check it
 * unchanged. Custody refuses to sign for an account its key is not bound to.
 */
async function signDelegate(
  context: CustodyContext,
  sql: Sql,
  partyId: string,
  paymentId: string,
  decision: Decision,
): Promise<void> {
  const now = context.clock();
  const message = await lockedMessage(sql, paymentId);
  if (message === undefined) throw new Error('assertion failed: a checked message exists');
  const transition = stepCustodyMessage(
    message.state,
    decision === 'confirm' ? 'delegate_confirmed' : 'delegate_declined',
  );
  const key = await custodyKeyOf(context, sql, partyId);
  const ims: ImsMessage = imsFromJson(JSON.parse(message.ims));
  if (ims.data.accountPayable === undefined || !key.accounts.includes(ims.data.accountPayable)) {
    throw new MpayError('CUSTODY_ACCOUNT_NOT_BOUND');
  }
  const claims = {
    issuer: partyId,
    audience: context.fsp.id,
    transactionId: paymentId,
    expiresInSeconds: context.limits.delegateSignatureLifetimeSeconds,
  };
  const signer = key.signer;
  let jws: string;
  let jwe: string;
  if (decision === 'confirm') {
    jws = await signPayload(customerSignedContent(ims), claims, signer);
    const signed: ImsMessage = {
      ...ims,
      address: { ...ims.address, from: { ...ims.address.from, sign: jws } },
    };
    jwe = await encryptTo(JSON.stringify({ ims: imsToJson(signed) }), fspEncryptionKey(context));
  } else {
    jws = await signPayload(customerDeclineContent(ims), claims, signer);
    jwe = await encryptTo(JSON.stringify({ decline: jws }), fspEncryptionKey(context));
  }
  await sql.query('UPDATE messages SET state = $2, updated_at = $3 WHERE payment_id = $1', [
    paymentId,
    transition.to,
    now.toISOString(),
  ]);
  await sql.query(
    `INSERT INTO delegate_signatures (payment_id, party_id, decision, kid, jws, signed_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [paymentId, partyId, decision, key.kid, jws, now.toISOString()],
  );
  const { observations } = context;
  if (observations !== undefined) {
    const forwardedAt = new Date(message.created_at);
    afterCommit(sql, () => {
      observations.messageEntered(transition.to);
      observations.delegateSigned(decision, forwardedAt, now);
    });
  }
  for (const effect of transition.effects) {
    if (effect === 'send_to_fsp')
      await queueEffect(sql, 'fsp_answer', paymentId, { paymentId, decision, jwe }, now);
    if (effect === 'log_signature') {
      await queueEffect(
        sql,
        'log_entry',
        paymentId,
        { paymentId, partyId, kid: key.kid, decision, jws },
        now,
      );
    }
  }
  context.log.info(
    { paymentId, partyId, kid: key.kid, decision },
    'step 6: PIN checked, delegate signature made in the HSM',
  );
}

async function answerOf(
  context: CustodyContext,
  paymentId: string,
  decision: Decision,
): Promise<DelegationAnswer> {
  const { rows } = await context.database.query<{ state: CustodyMessageState; receipt: string | null }>(
    'SELECT state, receipt FROM messages WHERE payment_id = $1',
    [paymentId],
  );
  const row = rows[0];
  if (row?.state === 'receipted' && row.receipt !== null) {
    return { status: 'completed', paymentId, receipt: row.receipt };
  }
  return { status: decision === 'decline' ? 'declined' : 'authorised', paymentId };
}

/** Everything custody signed in a customer's name, newest first, with the log index of each. */
export async function delegateSignaturesOf(context: CustodyContext, partyId: string, limit: number) {
  const { rows } = await context.database.query<{
    payment_id: string;
    decision: Decision;
    kid: string;
    jws: string;
    log_index: string | number | null;
    signed_at: Date | string;
  }>(
    `SELECT payment_id, decision, kid, jws, log_index, signed_at FROM delegate_signatures
     WHERE party_id = $1 ORDER BY signed_at DESC, payment_id LIMIT $2`,
    [partyId, limit],
  );
  return rows.map((row) => ({
    paymentId: row.payment_id,
    decision: row.decision,
    kid: row.kid,
    signedAt: new Date(row.signed_at).toISOString(),
    jws: row.jws,
    logIndex: row.log_index === null ? null : Number(row.log_index),
  }));
}
