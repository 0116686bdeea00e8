import { createHash } from 'node:crypto';
import { encryptTo, signPayload, verifyPayload } from '@mpay/envelope';
import { accountAvailable } from '@mpay/ledger';
import {
  amountOfMacroAmount,
  type ClientBankRequestContent,
  canonicalize,
  type FailureMsg2,
  isMpayError,
  MpayError,
  type PAppReqContent,
  parseClientBankRequestContent,
  parseFailureMsg2,
  parsePAppReqContent,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { selectAccount } from '../store/accounts.ts';
import {
  insertMacroApproval,
  type MacroApprovalRecord,
  selectActiveBindingSerial,
  selectMacroApproval,
} from './approvals-store.ts';
import { type MacroContext, macroBankLimits } from './context.ts';
import { BindingRejected, type BoundKey, boundKeyOfSerial } from './device.ts';
import { selectMacroClient } from './store.ts';

/**
 * Step 6 of seed 002 §4.2 at the client bank:
 *
 *   MPASP → CB: E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}_{MPASP-CB}
 *   If ABal_C is sufficient then CB → C: E_SP{SID_T, AmtInfo_c, PApp_Req}_{C-CB}
 *   else CB → MPASP: send_failure_msg2
 *
 * The MPASP's E_SP is its signature (a JWS under the key this bank trusts for
 * that caller, audience this bank) over the core's ClientBankRequestContent,
 * on top of the authenticated request. "The CB identifies the client using
 * client Id" (§3): ID_C → the customer (macro_clients) → the customer's
 * active binding, whose first account is debited (as at a sealing level: the
 * bank's choice, never the MPASP's) and whose device receives PApp_Req,
 * signed by the bank and sealed to the device's encryption key: the MPASP
 * relays nothing and reads nothing of it.
 */

/** sha256 of bytes, for the core's h(TransactionData) checks. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** The claims signPayload adds next to a content; the content is what remains. */
const claimNames: ReadonlySet<string> = new Set(['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']);

export function contentOf(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).filter(([name]) => !claimNames.has(name)));
}

/**
 * The MPASP's signed request, verified: under the caller's own key, issued by
 * the caller, addressed to this bank, for SID_T, fresh; the content parsed
 * strictly by the core (MESSAGE_INVALID, PARTY_ID_INVALID,
 * PAYMENT_MESSAGE_MISMATCH with the field) and naming the caller as sender
 * and this bank as receiver. Which signature check failed is not said
 * (CRYPTO_VERIFICATION_FAILED).
 */
export async function verifyClientBankRequest(
  context: MacroContext,
  jws: string,
  caller: string,
): Promise<ClientBankRequestContent> {
  const key = context.callerKeys(caller);
  if (key === undefined) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  let verified: Awaited<ReturnType<typeof verifyPayload>>;
  try {
    // The wall clock, as for every message between services: freshness is about transport.
    verified = await verifyPayload(
      jws,
      (kid) => (kid === key.kid ? key : undefined),
      { audience: context.bank.id, issuer: caller },
      {
        maxAgeSeconds: macroBankLimits.requestAgeSecondsMax,
        clockSkewSeconds: macroBankLimits.requestClockSkewSeconds,
      },
    );
  } catch (error) {
    context.log.warn({ caller, code: isMpayError(error) ? error.code : 'error' }, 'macro request refused');
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  const content = parseClientBankRequestContent(contentOf(verified.payload), sha256);
  if (content.from !== caller || verified.claims.txn !== content.sessionId) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  if (content.to !== context.bank.id) throw new MpayError('MACRO_RECIPIENT_INVALID', 'to');
  return content;
}

function requestHashOf(content: ClientBankRequestContent): string {
  return createHash('sha256').update(canonicalize(content)).digest('hex');
}

/** The same request again gets the stored answer; another content (or caller) under SID_T is refused. */
function sameRequest(existing: MacroApprovalRecord, hash: string, caller: string): MacroApprovalRecord {
  if (existing.requestHash !== hash || existing.requestedBy !== caller) {
    throw new MpayError('MACRO_SESSION_REUSED');
  }
  return existing;
}

/** A lifetime in whole seconds until `until`, within what a signature may have. */
function secondsUntil(until: Date, now: Date): number {
  const seconds = Math.ceil((until.getTime() - now.getTime()) / 1000);
  return Math.min(Math.max(seconds, 1), macroBankLimits.statementLifetimeSeconds);
}

/** PApp_Req: the core's content, signed by the bank for the customer, sealed to the device. */
async function makeApprovalRequest(
  context: MacroContext,
  content: ClientBankRequestContent,
  partyId: string,
  bound: BoundKey,
  now: Date,
): Promise<string> {
  const papp: PAppReqContent = parsePAppReqContent(
    {
      kind: 'macro_papp_req',
      from: context.bank.id,
      to: content.clientId,
      sessionId: content.sessionId,
      transactionId: content.transactionId,
      amount: content.amount,
      transactionDataHash: content.transactionDataHash,
      expiresAt: content.expiresAt,
    },
    sha256,
  );
  const signed = await signPayload(
    papp,
    {
      issuer: context.bank.id,
      audience: partyId,
      transactionId: content.sessionId,
      expiresInSeconds: secondsUntil(new Date(content.expiresAt), now),
    },
    context.bank.signingKey,
  );
  return encryptTo(signed, bound.binding.encryptionJwk, { contentType: 'mpay+jws' });
}

/** send_failure_msg2: the core's content, signed by the bank for the MPASP. It does not say the balance. */
export async function makeFailureMsg2(
  context: MacroContext,
  record: Pick<MacroApprovalRecord, 'sessionId' | 'transactionId' | 'currency' | 'amountText' | 'expiresAt'>,
  mpasp: string,
): Promise<string> {
  const failure: FailureMsg2 = parseFailureMsg2(
    {
      kind: 'macro_failure_msg2',
      from: context.bank.id,
      to: mpasp,
      sessionId: record.sessionId,
      transactionId: record.transactionId,
      amount: { currency: record.currency, value: record.amountText },
      expiresAt: record.expiresAt.toISOString(),
    },
    sha256,
  );
  return signPayload(
    failure,
    {
      issuer: context.bank.id,
      audience: mpasp,
      transactionId: record.sessionId,
      expiresInSeconds: macroBankLimits.statementLifetimeSeconds,
    },
    context.bank.signingKey,
  );
}

/** The binding a client's approval requests go to, verified and locked; MACRO_CLIENT_UNKNOWN when none. */
async function clientBinding(
  context: MacroContext,
  sql: Sql,
  client: { partyId: string; bindingSerial: string },
  now: Date,
): Promise<BoundKey> {
  const serial = await selectActiveBindingSerial(sql, client.partyId, client.bindingSerial, now);
  try {
    if (serial === undefined) throw new BindingRejected('no active binding');
    const bound = await boundKeyOfSerial(sql, context.bank, serial, now, true);
    if (bound.binding.subject !== client.partyId || bound.binding.accounts[0] === undefined) {
      throw new BindingRejected(`binding ${serial} is not the client's`);
    }
    return bound;
  } catch (error) {
    if (!(error instanceof BindingRejected)) throw error;
    // A client whose every device was revoked cannot be asked: for the MPASP, no such client here.
    context.log.warn({ partyId: client.partyId, reason: error.message }, 'macro client has no device');
    throw new MpayError('MACRO_CLIENT_UNKNOWN');
  }
}

async function decide(
  context: MacroContext,
  sql: Sql,
  content: ClientBankRequestContent,
  base: { requestHash: string; requestedBy: string; request: string },
  now: Date,
): Promise<MacroApprovalRecord> {
  const client = await selectMacroClient(sql, content.clientId);
  if (client === undefined) throw new MpayError('MACRO_CLIENT_UNKNOWN');
  const bound = await clientBinding(context, sql, client, now);
  const debitAccountId = bound.binding.accounts[0] as string;
  const account = await selectAccount(sql, debitAccountId);
  const amount = amountOfMacroAmount(content.amount);
  const record = {
    ...base,
    sessionId: content.sessionId,
    transactionId: content.transactionId,
    clientId: client.clientId,
    partyId: client.partyId,
    bindingSerial: bound.serial,
    debitAccountId,
    amount: amount.minor,
    currency: amount.currency,
    amountText: content.amount.value,
    transactionDataHash: content.transactionDataHash,
    expiresAt: new Date(content.expiresAt),
    consent: null,
    consentBindingSerial: null,
    orderId: null,
    createdAt: now,
  };
  // ABal_C: what the customer can still spend, in the account's currency (another currency is not enough).
  const sufficient =
    account !== undefined &&
    !account.closed &&
    account.owner === client.partyId &&
    account.ledger === amount.currency &&
    accountAvailable(account) >= amount.minor;
  if (!sufficient) {
    const code =
      account !== undefined && account.ledger !== amount.currency
        ? 'CURRENCY_MISMATCH'
        : 'INSUFFICIENT_FUNDS';
    const failure = await makeFailureMsg2(context, record, base.requestedBy);
    return {
      ...record,
      state: 'refused',
      refusalCode: code,
      approvalRequest: null,
      failure,
    };
  }
  const approvalRequest = await makeApprovalRequest(context, content, client.partyId, bound, now);
  return { ...record, state: 'approval_requested', refusalCode: null, approvalRequest, failure: null };
}

/**
 * Step 6: verifies the MPASP's request and answers it once per SID_T: an
 * approval request made (state 'approval_requested', PApp_Req stored for the
 * device to fetch) or send_failure_msg2 (state 'refused', code
 * INSUFFICIENT_FUNDS or CURRENCY_MISMATCH, no PApp_Req, nothing that can move
 * money). The same content again is answered from the record; another one
 * under the same SID_T is MACRO_SESSION_REUSED. Refused before anything is
 * recorded: CRYPTO_VERIFICATION_FAILED, the core's parse codes,
 * MACRO_RECIPIENT_INVALID, MESSAGE_EXPIRED (T_EXP passed), REQUEST_INVALID
 * (T_EXP too far), MACRO_CLIENT_UNKNOWN (no such ID_C, or no active device).
 */
export async function requestApproval(
  context: MacroContext,
  jws: string,
  caller: string,
): Promise<MacroApprovalRecord> {
  const content = await verifyClientBankRequest(context, jws, caller);
  const hash = requestHashOf(content);
  const now = context.clock();
  const existing = await selectMacroApproval(context.database, content.sessionId);
  if (existing !== undefined) return sameRequest(existing, hash, caller);
  const expiresAt = Date.parse(content.expiresAt);
  if (expiresAt <= now.getTime()) throw new MpayError('MESSAGE_EXPIRED');
  if (expiresAt - now.getTime() > macroBankLimits.approvalWindowSecondsMax * 1000) {
    throw new MpayError('REQUEST_INVALID', 'expiresAt');
  }
  const record = await context.database.transaction(async (sql) => {
    const fresh = await decide(
      context,
      sql,
      content,
      { requestHash: hash, requestedBy: caller, request: jws },
      now,
    );
    if (await insertMacroApproval(sql, fresh)) return fresh;
    const winner = await selectMacroApproval(sql, content.sessionId);
    if (winner === undefined) throw new Error('assertion failed: a taken session id has its record');
    return sameRequest(winner, hash, caller);
  });
  context.log.info(
    { sessionId: record.sessionId, clientId: record.clientId, state: record.state },
    'macro payment request answered',
  );
  return record;
}
