import { randomUUID } from 'node:crypto';
import { isMacroClientId, type MacroChannelConfirmation, MpayError } from '@mpay/protocol';
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

const loginIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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
    if ((await claimLoginTry(sql, clientId, limits.mpinLoginFailuresMax, now)) === 'blocked')
      return undefined;
    const client = await findMacroClient(sql, clientId);
    const { loginResponse, serverLoginState } = macro.mpins.startLogin(
      clientId,
      client?.opaqueRecord,
      startLoginRequest,
    );
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
    const tries = await lockLoginTries(sql, clientId);
    if (tries === undefined) throw new Error('assertion failed: a started login was counted');
    // A login started before the id was blocked opens nothing after it.
    if (tries.blocked) return { kind: 'blocked' };
    const client = await findMacroClient(sql, clientId);
    // Run for unknown ids too (it fails for them), so that they take as long as a wrong mPIN.
    const sessionKey =
      finishLoginRequest === null
        ? undefined
        : macro.mpins.finishLogin(clientId, login.serverLoginState, finishLoginRequest);
    if (sessionKey === undefined || client === undefined) {
      if (tries.failedTries < limits.mpinLoginFailuresMax) return { kind: 'refused' };
      await blockLogins(sql, clientId, now);
      gateway.log.warn({ clientId }, 'mPIN blocked after too many failed logins');
      return { kind: 'blocked' };
    }
    await resetLoginTries(sql, clientId);
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
