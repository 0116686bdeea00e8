import { certifiableKey, issueKeyBinding, type PublicJwk, verifyPayload } from '@mpay/envelope';
import { canonicalize, isMpayError, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { provisionSecondFactor, reprovisionedAuthenticator } from '../second-factor/provision.ts';
import { retryOnUniqueViolation } from '../store/create-transfer.ts';
import type { DepositoryContext } from './context.ts';
import { enrolmentCodeMatches } from './enrolment-code.ts';
import { customerPartyId } from './issue-code.ts';
import {
  countFailedAttempt,
  type EnrolmentCodeRecord,
  insertKeyBinding,
  lockNewestEnrolmentCode,
  markEnrolmentCodeUsed,
  selectKeyBindingByKid,
  selectKeyBindingOfCode,
} from './store.ts';

/** What a customer's device sends to enrol (SA2pMP: the key generated on the device, registered at the bank). */
export interface EnrolmentRequest {
  readonly partyId: string;
  readonly code: string;
  readonly deviceId: string;
  readonly signingJwk: unknown;
  readonly encryptionJwk: unknown;
  /**
   * Proof of possession of the new signing key: signPayload({ enrolment:
   * { partyId, deviceId, bank } }, { issuer: partyId, audience: bank,
   * transactionId: deviceId, expiresInSeconds ≤ the limit }, newKey).
   */
  readonly proof: string;
}

export interface Enrolment {
  readonly serial: string;
  /** The issued key binding (compact JWS by the bank's key). */
  readonly binding: string;
  /** false when the same device retried an enrolment that had succeeded (same code, same key). */
  readonly created: boolean;
  /**
   * The party's second factor, to the enrolment that created it only (and to
   * its retries): a compact JWE to the device's encryption key (cty
   * mpay-authenticator+json) of `{ partyId, uri }`, an otpauth Key URI.
   */
  readonly sealedAuthenticator?: string | undefined;
}

/** The members of a proof of possession: `enrolment` and the envelope's claims, no others. */
const proofMembers = ['aud', 'enrolment', 'exp', 'iat', 'iss', 'nonce', 'txn'].join();

/** The keys of a request, checked before any code is looked at; `problem` says why not. */
type Candidate =
  | { readonly signingJwk: PublicJwk; readonly encryptionJwk: PublicJwk; readonly problem?: undefined }
  | { readonly problem: string; readonly signingJwk?: PublicJwk | undefined };

type Decision =
  | { readonly kind: 'enrolled'; readonly enrolment: Enrolment }
  | { readonly kind: 'failed' | 'blocked'; readonly reason: string; readonly counted?: number | undefined };

function reasonOf(error: unknown): string {
  return isMpayError(error)
    ? `${error.code}${error.detail === undefined ? '' : ` ${error.detail}`}`
    : 'error';
}

/**
 * Checks the presented keys and the proof that the device holds the signing
 * key, outside any transaction (no row lock waits on cryptography). The
 * outcome is decided, and a failure counted, under the code's lock.
 */
async function checkCandidate(
  context: DepositoryContext,
  request: EnrolmentRequest,
  now: Date,
): Promise<Candidate> {
  let signingJwk: PublicJwk;
  let encryptionJwk: PublicJwk;
  try {
    signingJwk = await certifiableKey(request.signingJwk, 'sig');
    encryptionJwk = await certifiableKey(request.encryptionJwk, 'enc');
  } catch (error) {
    return { problem: `keys: ${reasonOf(error)}` };
  }
  try {
    const verified = await verifyPayload(
      request.proof,
      (kid) => (kid === signingJwk.kid ? signingJwk : undefined),
      { audience: context.bank.id, issuer: request.partyId, transactionId: request.deviceId },
      { maxAgeSeconds: context.limits.enrolmentProofLifetimeSecondsMax, now: () => now.getTime() },
    );
    const expected = { partyId: request.partyId, deviceId: request.deviceId, bank: context.bank.id };
    const members = Object.keys(verified.payload).sort().join();
    if (members !== proofMembers || canonicalize(verified.payload.enrolment) !== canonicalize(expected)) {
      return { problem: 'proof: content', signingJwk };
    }
  } catch (error) {
    return { problem: `proof: ${reasonOf(error)}`, signingJwk };
  }
  return { signingJwk, encryptionJwk };
}

/**
 * The device retried an enrolment that succeeded (its answer was lost): the
 * same code, the same key, the same device get the same binding, and nothing
 * is counted. Anything else against a used code fails.
 */
async function retriedEnrolment(
  context: DepositoryContext,
  sql: Sql,
  code: EnrolmentCodeRecord,
  request: EnrolmentRequest,
  candidate: Candidate,
): Promise<Decision> {
  const existing = await selectKeyBindingOfCode(sql, code.id);
  const same =
    existing !== undefined &&
    candidate.problem === undefined &&
    enrolmentCodeMatches(request.code, code.codeHash) &&
    existing.signingKid === candidate.signingJwk.kid &&
    existing.deviceId === request.deviceId;
  if (!same) return { kind: 'failed', reason: 'code already used' };
  const sealedAuthenticator = await reprovisionedAuthenticator(context, sql, existing);
  return {
    kind: 'enrolled',
    enrolment: { serial: existing.serial, binding: existing.binding, created: false, sealedAuthenticator },
  };
}

async function bind(
  context: DepositoryContext,
  sql: Sql,
  code: EnrolmentCodeRecord,
  request: EnrolmentRequest,
  keys: { signingJwk: PublicJwk; encryptionJwk: PublicJwk },
  now: Date,
): Promise<Enrolment> {
  const serial = context.newId();
  const notBefore = Math.floor(now.getTime() / 1000);
  const notAfter = notBefore + context.limits.keyBindingValidityDays * 86_400;
  const binding = await issueKeyBinding(
    {
      issuer: context.bank.id,
      subject: code.partyId,
      deviceId: request.deviceId,
      accounts: code.accountIds,
      signingJwk: keys.signingJwk,
      encryptionJwk: keys.encryptionJwk,
      notBefore,
      notAfter,
      serialNumber: serial,
      now: () => now.getTime(),
    },
    context.bank.signingKey,
  );
  await markEnrolmentCodeUsed(sql, code.id, now);
  await insertKeyBinding(
    sql,
    {
      serial,
      partyId: code.partyId,
      deviceId: request.deviceId,
      signingKid: keys.signingJwk.kid!,
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      binding,
      enrolmentCodeId: code.id,
    },
    now,
  );
  const sealedAuthenticator = await provisionSecondFactor(
    context,
    sql,
    { partyId: code.partyId, serial, deviceEncryptionJwk: keys.encryptionJwk },
    now,
  );
  return { serial, binding, created: true, sealedAuthenticator };
}

/**
 * Under the lock of the party's newest code: a blocked code refuses at once;
 * against an issued code every failure (wrong or expired code, bad keys or
 * proof, a key already bound) is counted, and the attempt that reaches the
 * limit blocks the code; a success uses the code and stores the binding.
 */
async function decide(
  context: DepositoryContext,
  sql: Sql,
  request: EnrolmentRequest,
  candidate: Candidate,
  now: Date,
): Promise<Decision> {
  const code = await lockNewestEnrolmentCode(sql, request.partyId);
  if (code === undefined || code.state === 'replaced') return { kind: 'failed', reason: 'no code issued' };
  if (code.state === 'blocked') return { kind: 'blocked', reason: 'code blocked' };
  if (code.state === 'used') return retriedEnrolment(context, sql, code, request, candidate);
  const reason = await failureOf(sql, code, request, candidate, now);
  if (reason !== undefined) {
    const counted = await countFailedAttempt(sql, code.id, context.limits.enrolmentAttemptsMax, now);
    const kind = counted.state === 'blocked' ? 'blocked' : 'failed';
    return { kind, reason, counted: counted.failedAttempts };
  }
  if (candidate.problem !== undefined) throw new Error('assertion failed: a failed check has a reason');
  return { kind: 'enrolled', enrolment: await bind(context, sql, code, request, candidate, now) };
}

/** Why an attempt against an issued code fails, or undefined when it succeeds. */
async function failureOf(
  sql: Sql,
  code: EnrolmentCodeRecord,
  request: EnrolmentRequest,
  candidate: Candidate,
  now: Date,
): Promise<string | undefined> {
  if (!enrolmentCodeMatches(request.code, code.codeHash)) return 'code does not match';
  if (now.getTime() >= code.expiresAt.getTime()) return 'code expired';
  if (candidate.problem !== undefined) return candidate.problem;
  const bound = await selectKeyBindingByKid(sql, candidate.signingJwk.kid!);
  return bound === undefined ? undefined : `signing key already bound (${bound.serial})`;
}

/**
 * Enrols a device key (SA2pMP §4.3): the one-time code the operator issued,
 * then the proof that the device holds the new signing key; in one
 * transaction the code is used and the binding stored and answered. Every
 * failure answers ENROLMENT_FAILED, whatever was wrong (PSD2 RTS Art. 4: no
 * answer says which factor failed), and the precise reason goes to the log.
 * Failed attempts are counted per party, across devices; at
 * `enrolmentAttemptsMax` the code is blocked (ENROLMENT_BLOCKED, an alert in
 * the log) until the operator issues another.
 */
export async function enrol(context: DepositoryContext, request: EnrolmentRequest): Promise<Enrolment> {
  const now = context.clock();
  try {
    customerPartyId(request.partyId, 'partyId');
  } catch {
    throw new MpayError('ENROLMENT_FAILED');
  }
  const candidate = await checkCandidate(context, request, now);
  const decision = await retryOnUniqueViolation(() =>
    context.database.transaction((sql) => decide(context, sql, request, candidate, now)),
  );
  if (decision.kind === 'enrolled') return decision.enrolment;
  const event = { partyId: request.partyId, deviceId: request.deviceId, reason: decision.reason };
  if (decision.kind === 'blocked' && decision.counted !== undefined) {
    context.log.warn(
      { ...event, failedAttempts: decision.counted },
      'enrolment blocked after too many failures',
    );
  } else {
    context.log.info({ ...event, failedAttempts: decision.counted }, 'enrolment failed');
  }
  throw new MpayError(decision.kind === 'blocked' ? 'ENROLMENT_BLOCKED' : 'ENROLMENT_FAILED');
}
