import { certifiableKey, issueKeyBinding, type PublicJwk, verifyPayload } from '@mpay/envelope';
import { canonicalize, isMpayError, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { insertRevocation, selectKeyBindingByKid } from '../../key-depository/store.ts';
import type { BoundKey } from '../../macro/device.ts';
import { isUniqueViolation } from '../../store/create-transfer.ts';
import {
  closeSessionsOfSerial,
  lockSessionBinding,
  type OpenedBankingRequest,
  recordOutcomeWithEffect,
} from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import { recordBankingTransaction } from '../transaction-log-server-client/record.ts';
import {
  completeRenewalNotice,
  insertRenewedBankingDevice,
  insertRenewedKeyBinding,
  type RenewalNoticeRecord,
  selectBankingDevice,
  selectRenewalNotice,
} from './store.ts';

type RenewKeyRequest = Extract<OpenedBankingRequest['request'], { kind: 'renew_key' }>;

/** Why a renewal was refused: for the log only; the device is answered BANKING_RENEWAL_INVALID. */
class RenewalRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RenewalRefused';
  }
}

/** The members of a renewal's proof of possession: `renewal` and the envelope's claims, no others. */
const proofMembers = ['aud', 'exp', 'iat', 'iss', 'nonce', 'renewal', 'txn'].join();

function reasonOf(error: unknown): string {
  return isMpayError(error) ? error.code : 'error';
}

/** The notice answers this session's binding and is still open; anything else refuses the renewal. */
function checkNotice(
  notice: RenewalNoticeRecord | undefined,
  opened: OpenedBankingRequest,
): RenewalNoticeRecord {
  if (notice === undefined) throw new RenewalRefused('notice unknown');
  // The notice names the binding to renew; only that binding's key (the session's) may answer it.
  if (notice.serial !== opened.serial) throw new RenewalRefused(`notice of binding ${notice.serial}`);
  if (notice.state !== 'sent') throw new RenewalRefused('notice completed');
  return notice;
}

/**
 * Checks the new keys and the proof that the device holds the new signing
 * key, before any lock is taken (no row waits on cryptography): both keys
 * certifiable (allow-listed, valid, kid their thumbprint), the signing key
 * not the old one, and the proof a JWS by the new key, iss the party, aud
 * the bank, txn the notice, over exactly `{renewal: {noticeId, partyId, bank}}`.
 */
async function checkNewKeys(
  context: BankingContext,
  opened: OpenedBankingRequest,
  request: RenewKeyRequest,
  now: Date,
): Promise<{ signingJwk: PublicJwk; encryptionJwk: PublicJwk }> {
  let signingJwk: PublicJwk;
  let encryptionJwk: PublicJwk;
  try {
    signingJwk = await certifiableKey(request.signingJwk, 'sig');
    encryptionJwk = await certifiableKey(request.encryptionJwk, 'enc');
  } catch (error) {
    throw new RenewalRefused(`keys: ${reasonOf(error)}`);
  }
  if (signingJwk.kid === opened.binding.signingJwk.kid) throw new RenewalRefused('the old signing key again');
  try {
    const verified = await verifyPayload(
      request.proof,
      (kid) => (kid === signingJwk.kid ? signingJwk : undefined),
      { audience: context.bank.id, issuer: opened.partyId, transactionId: request.noticeId },
      { maxAgeSeconds: context.limits.enrolmentProofLifetimeSecondsMax, now: () => now.getTime() },
    );
    const expected = { noticeId: request.noticeId, partyId: opened.partyId, bank: context.bank.id };
    if (
      Object.keys(verified.payload).sort().join() !== proofMembers ||
      canonicalize(verified.payload.renewal) !== canonicalize(expected)
    ) {
      throw new RenewalRefused('proof: content');
    }
  } catch (error) {
    if (error instanceof RenewalRefused) throw error;
    throw new RenewalRefused(`proof: ${reasonOf(error)}`);
  }
  return { signingJwk, encryptionJwk };
}

interface Renewed {
  readonly serial: string;
  readonly binding: string;
  readonly sessionsClosed: number;
}

/**
 * Issues and stores the binding of the new keys: the old binding's party,
 * device and accounts, valid from now for `keyBindingValidityDays` (as an
 * enrolment's), `renews` the old binding. Its serial is the notice's id: a
 * device whose renew_key answer was lost (its old key is revoked by then)
 * finds its new binding at the public GET /key-bindings/:serial by the
 * notice it answered, and checks it names the keys it made.
 */
async function bindNewKeys(
  context: BankingContext,
  sql: Sql,
  old: BoundKey,
  keys: { signingJwk: PublicJwk; encryptionJwk: PublicJwk },
  noticeId: string,
  now: Date,
): Promise<{ serial: string; binding: string }> {
  const serial = noticeId;
  const notBefore = Math.floor(now.getTime() / 1000);
  const notAfter = notBefore + context.limits.keyBindingValidityDays * 86_400;
  const binding = await issueKeyBinding(
    {
      issuer: context.bank.id,
      subject: old.binding.subject,
      deviceId: old.binding.deviceId,
      accounts: old.binding.accounts,
      signingJwk: keys.signingJwk,
      encryptionJwk: keys.encryptionJwk,
      notBefore,
      notAfter,
      serialNumber: serial,
      now: () => now.getTime(),
    },
    context.bank.signingKey,
  );
  await insertRenewedKeyBinding(
    sql,
    {
      serial,
      partyId: old.binding.subject,
      deviceId: old.binding.deviceId,
      signingKid: keys.signingJwk.kid!,
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      binding,
      renews: old.serial,
    },
    now,
  );
  return { serial, binding };
}

/** Under the old binding's lock and the notice's: the new binding, the device carried over, the old revoked. */
async function renewUnderLock(
  context: BankingContext,
  sql: Sql,
  opened: OpenedBankingRequest,
  request: RenewKeyRequest,
  keys: { signingJwk: PublicJwk; encryptionJwk: PublicJwk },
  now: Date,
): Promise<Renewed> {
  const old: BoundKey = await lockSessionBinding(sql, context, opened, now);
  const notice = checkNotice(await selectRenewalNotice(sql, request.noticeId, true), opened);
  const bound = await selectKeyBindingByKid(sql, keys.signingJwk.kid!);
  if (bound !== undefined) throw new RenewalRefused(`signing key already bound (${bound.serial})`);
  const device = await selectBankingDevice(sql, old.serial);
  if (device === undefined || device.partyId !== opened.partyId)
    throw new RenewalRefused('no banking device');
  const { serial, binding } = await bindNewKeys(context, sql, old, keys, notice.id, now);
  await insertRenewedBankingDevice(sql, device, serial, now);
  const revoked = await insertRevocation(sql, old.serial, 'renewed', opened.partyId, now);
  if (!revoked) throw new Error('assertion failed: the locked, active old binding is revoked once');
  await completeRenewalNotice(sql, notice.id, serial, now);
  const sessionsClosed = await closeSessionsOfSerial(sql, old.serial, 'key renewed', now);
  await recordOutcomeWithEffect(sql, opened, { serial, binding, renewedFrom: old.serial });
  await recordBankingTransaction(
    sql,
    context,
    opened,
    {
      kind: 'renew_key',
      facts: { noticeId: notice.id, renewedFrom: old.serial, serial, signingKid: keys.signingJwk.kid! },
    },
    now,
  );
  return { serial, binding, sessionsClosed };
}

/**
 * The `renew_key` request (SA2pMP §4.3, the device's answer to the bank's
 * notice), `{noticeId, signingJwk, encryptionJwk, proof}` → `{serial,
 * binding, renewedFrom}`. The request is signed by the OLD key (the
 * session's binding, which the notice must name) and carries the proof of
 * possession of the NEW signing key. In one transaction, under the old
 * binding's lock and the notice's: a new binding (same party, device and
 * accounts, the bank's usual validity from now, no enrolment code, `renews`
 * the old), the device's banking registration carried over (`renewed_from`),
 * the old binding revoked ('renewed', by the party), the notice completed,
 * the old key's sessions closed, the banking transaction recorded for the
 * third-party log, the request's outcome with them (recordOutcomeWithEffect;
 * the session closed with the old key, a retry finds no session to answer
 * in: the device learns of the new binding by logging in with it). Any failure of the renewal itself is
 * BANKING_RENEWAL_INVALID (the reason to the log only); a session binding
 * revoked or expired in flight is refused by `lockSessionBinding`.
 *
 * The party's second factor (TOTP, second-factor/) is not carried over: it
 * belongs to the party, not to a binding (`second_factors` is keyed by party;
 * `provisioned_to` only says which enrolment received the secret, for that
 * enrolment's retries), and the secret lives in the customer's
 * authenticator app, which the new key does not change.
 */
export async function renewKey(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  const request = opened.request;
  if (request.kind !== 'renew_key') throw new Error('assertion failed: a renew_key request');
  let renewed: Renewed;
  try {
    checkNotice(await selectRenewalNotice(context.database, request.noticeId), opened);
    const keys = await checkNewKeys(context, opened, request, now);
    renewed = await context.database.transaction((sql) =>
      renewUnderLock(context, sql, opened, request, keys, now),
    );
  } catch (error) {
    const reason =
      error instanceof RenewalRefused
        ? error.message
        : isUniqueViolation(error)
          ? 'signing key bound concurrently'
          : undefined;
    if (reason === undefined) throw error;
    context.log.info(
      { partyId: opened.partyId, serial: opened.serial, noticeId: request.noticeId, reason },
      'key renewal refused',
    );
    throw new MpayError('BANKING_RENEWAL_INVALID');
  }
  context.log.info(
    {
      partyId: opened.partyId,
      renewedFrom: opened.serial,
      serial: renewed.serial,
      noticeId: request.noticeId,
      sessionsClosed: renewed.sessionsClosed,
    },
    'device key renewed',
  );
  return { serial: renewed.serial, binding: renewed.binding, renewedFrom: opened.serial };
}
