import { randomUUID } from 'node:crypto';
import { isMacroClientId, type MacroChannelConfirmation, MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { channelKeyText, deriveChannelKey, sealChannelConfirmation } from './channel.ts';
import type { MacroContext } from './context.ts';
import { opaqueMessagePattern } from './mpin.ts';
import {
  blockLogins,
  claimLoginTry,
  findMacroClient,
  insertChannel,
  insertLogin,
  lockLoginTries,
  type MacroClientRecord,
  resetLoginTries,
  takeLogin,
} from './store.ts';

/**
 * The mPIN channel login: the paper's E_SP ("symmetrically encrypted by shared
 * mPIN number between parties A and B", §4.1), hardened as issue 10 §3 asks.
 * A 6-digit mPIN as a key falls to 10^6 offline guesses from one captured
 * message; here the mPIN only ever enters an OPAQUE login that the MPASP
 * counts, and the channel key comes from that login's session key and the
 * device secret of the registration:
 *
 *   POST /macro/sessions {clientId, startLoginRequest} → {loginId, loginResponse}
 *   POST /macro/sessions/:loginId/finish {finishLoginRequest | null} → {sessionId, expiresAt, confirmation}
 *
 * At most `mpinLoginFailuresMax` failed logins in a row per client id, then
 * MACRO_MPIN_BLOCKED; a success resets the count. Ids nobody holds are
 * answered and counted exactly like held ones, so neither the answers nor a
 * block say which ids exist.
 */
export interface StartedMacroLogin {
  readonly loginId: string;
  readonly loginResponse: string;
}

export interface OpenedMacroChannel {
  readonly sessionId: string;
  readonly expiresAt: string;
  /** `MacroChannelConfirmation` sealed with the channel key (dir, A256GCM). */
  readonly confirmation: string;
}

export const loginIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The counted start of an mPIN login, in the caller's transaction (the
 * channel login here, a challenge opening in challenge.ts): one try counted
 * for `clientId` before anything a guess could be tested with is answered,
 * then OPAQUE's KE2. 'blocked' when the id is blocked (the caller commits,
 * then refuses with MACRO_MPIN_BLOCKED).
 */
export async function startCountedLogin(
  sql: Sql,
  macro: MacroContext,
  clientId: string,
  startLoginRequest: string,
  now: Date,
): Promise<
  { readonly kind: 'blocked' } | { readonly kind: 'started'; loginResponse: string; serverLoginState: string }
> {
  if ((await claimLoginTry(sql, clientId, macro.limits.mpinLoginFailuresMax, now)) === 'blocked') {
    return { kind: 'blocked' };
  }
  const client = await findMacroClient(sql, clientId);
  return { kind: 'started', ...macro.mpins.startLogin(clientId, client?.opaqueRecord, startLoginRequest) };
}

export type CountedLoginOutcome =
  | { readonly kind: 'refused' }
  | { readonly kind: 'blocked' }
  | { readonly kind: 'proved'; readonly sessionKey: string; readonly client: MacroClientRecord };

/**
 * The counted finish of a started mPIN login, in the caller's transaction:
 * the OPAQUE session key when the client proved the mPIN (the count reset),
 * else a refusal, or a block when this failure reached the limit (or the id
 * was blocked since the start). `finishLoginRequest` null: the device found
 * the mPIN wrong itself.
 */
export async function finishCountedLogin(
  sql: Sql,
  macro: MacroContext,
  clientId: string,
  serverLoginState: string,
  finishLoginRequest: string | null,
  now: Date,
): Promise<CountedLoginOutcome> {
  const tries = await lockLoginTries(sql, clientId);
  if (tries === undefined) throw new Error('assertion failed: a started login was counted');
  // A login started before the id was blocked opens nothing after it.
  if (tries.blocked) return { kind: 'blocked' };
  const client = await findMacroClient(sql, clientId);
  // Run for unknown ids too (it fails for them), so that they take as long as a wrong mPIN.
  const sessionKey =
    finishLoginRequest === null
      ? undefined
      : macro.mpins.finishLogin(clientId, serverLoginState, finishLoginRequest);
  if (sessionKey === undefined || client === undefined) {
    if (tries.failedTries < macro.limits.mpinLoginFailuresMax) return { kind: 'refused' };
    await blockLogins(sql, clientId, now);
    macro.gateway.log.warn({ clientId }, 'mPIN blocked after too many failed logins');
    return { kind: 'blocked' };
  }
  await resetLoginTries(sql, clientId);
  return { kind: 'proved', sessionKey, client };
}

export async function startMacroLogin(
  macro: MacroContext,
  clientId: string,
  startLoginRequest: string,
): Promise<StartedMacroLogin> {
  // The id's format is public: a malformed one is a malformed request, not an unknown client.
  if (!isMacroClientId(clientId)) throw new MpayError('REQUEST_INVALID', 'clientId');
  if (!opaqueMessagePattern.test(startLoginRequest))
    throw new MpayError('REQUEST_INVALID', 'startLoginRequest');
  const { gateway, limits } = macro;
  const now = gateway.clock();
  const loginId = randomUUID();
  const started = await gateway.database.transaction(async (sql) => {
    const counted = await startCountedLogin(sql, macro, clientId, startLoginRequest, now);
    if (counted.kind === 'blocked') return undefined;
    const { loginResponse, serverLoginState } = counted;
    const expiresAt = new Date(now.getTime() + limits.mpinLoginLifetimeSeconds * 1000);
    await insertLogin(sql, loginId, { clientId, serverLoginState }, expiresAt, now);
    return { loginId, loginResponse };
  });
  // The block (if this start made it) is committed before the refusal is answered.
  if (started === undefined) throw new MpayError('MACRO_MPIN_BLOCKED');
  return started;
}

type FinishOutcome =
  | { readonly kind: 'refused' }
  | { readonly kind: 'blocked' }
  | ({ readonly kind: 'opened' } & OpenedMacroChannel);

/**
 * Finishes a started login. `finishLoginRequest` null: the device found the
 * mPIN wrong itself (OPAQUE tells the client first) and says so, so that the
 * failure that reaches the limit blocks now. The login is used up whatever
 * the outcome; the refusal says nothing about why.
 */
export async function finishMacroLogin(
  macro: MacroContext,
  loginId: string,
  finishLoginRequest: string | null,
): Promise<OpenedMacroChannel> {
  if (!loginIdPattern.test(loginId)) throw new MpayError('MACRO_MPIN_REFUSED');
  if (finishLoginRequest !== null && !opaqueMessagePattern.test(finishLoginRequest)) {
    throw new MpayError('REQUEST_INVALID', 'finishLoginRequest');
  }
  const { gateway, limits } = macro;
  const now = gateway.clock();
  const outcome = await gateway.database.transaction(async (sql): Promise<FinishOutcome> => {
    const login = await takeLogin(sql, loginId, now);
    if (login === undefined) return { kind: 'refused' };
    const { clientId } = login;
    const proved = await finishCountedLogin(
      sql,
      macro,
      clientId,
      login.serverLoginState,
      finishLoginRequest,
      now,
    );
    if (proved.kind !== 'proved') return proved;
    const { sessionKey, client } = proved;
    const sessionId = randomUUID();
    const expiresAt = new Date(now.getTime() + limits.channelLifetimeSeconds * 1000);
    const channelKey = await deriveChannelKey({
      sessionKey,
      deviceSecret: client.deviceSecret,
      clientId,
      sessionId,
    });
    await insertChannel(sql, { sessionId, clientId, channelKey: channelKeyText(channelKey), expiresAt }, now);
    const confirmation: MacroChannelConfirmation = {
      kind: 'macro_channel_confirmation',
      from: gateway.fsp.id,
      to: clientId,
      sessionId,
      expiresAt: expiresAt.toISOString(),
    };
    return {
      kind: 'opened',
      sessionId,
      expiresAt: confirmation.expiresAt,
      confirmation: await sealChannelConfirmation(channelKey, confirmation),
    };
  });
  if (outcome.kind === 'blocked') throw new MpayError('MACRO_MPIN_BLOCKED');
  if (outcome.kind === 'refused') throw new MpayError('MACRO_MPIN_REFUSED');
  return { sessionId: outcome.sessionId, expiresAt: outcome.expiresAt, confirmation: outcome.confirmation };
}
