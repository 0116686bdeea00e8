import { MpayError } from '@mpay/protocol';
import {
  answerString,
  type CustodyCallOptions,
  identifierPattern,
  malformed,
  opaqueValuePattern,
  postToCustody,
} from '../custody/http.ts';

/**
 * The PIN as a secret that needs a server which counts tries: OPAQUE (RFC 9807,
 * `@serenity-kit/opaque`, default configuration), with custody as the OPAQUE
 * server. Custody never sees the PIN, and nothing a device stores can test a
 * guess offline: every guess is a login that custody counts (5 failures block
 * the customer). A login costs about 200 ms of CPU (argon2), so wallets pay it
 * once per session, not per payment.
 */

export const pinPattern = /^[0-9]{4,12}$/;

/** A PIN that is not 4–12 digits is refused before anything is computed or sent (no try is spent). */
export function requirePinFormat(pin: string): void {
  if (typeof pin !== 'string' || !pinPattern.test(pin)) throw new MpayError('WALLET_PIN_INVALID');
}

type Opaque = typeof import('@serenity-kit/opaque');
let opaqueModule: Promise<Opaque> | undefined;

/**
 * The OPAQUE WebAssembly module, loaded on first use: a merchant that only
 * uses the SDK's MerchantClient never loads it.
 */
async function loadOpaque(): Promise<Opaque> {
  opaqueModule ??= import('@serenity-kit/opaque').then(async (module) => {
    await module.ready;
    return module;
  });
  return opaqueModule;
}

export interface PinRegistration {
  /** Custody's id for this registration; custody makes it the credential id. */
  readonly registrationId: string;
  /** What custody stores to check later logins (it tests no guess without custody's OPRF secret). */
  readonly registrationRecord: string;
  /** The OPAQUE export key (base64url, 64 bytes): a secret only the right PIN and custody together give. */
  readonly exportKey: string;
}

/**
 * OPAQUE registration of a PIN at custody (`POST /pin-registrations`). The
 * record is handed to custody by the call that binds it to a customer
 * (`/wallet-pins` or `/enrolments`).
 */
export async function registerPin(
  custodyUrl: string,
  pin: string,
  options: CustodyCallOptions = {},
): Promise<PinRegistration> {
  requirePinFormat(pin);
  const opaque = await loadOpaque();
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: pin });
  const body = await postToCustody(`${custodyUrl}/pin-registrations`, { registrationRequest }, options);
  const registrationId = answerString(body, 'registrationId', identifierPattern);
  const registrationResponse = answerString(body, 'registrationResponse', opaqueValuePattern);
  let finished: { registrationRecord: string; exportKey: string };
  try {
    finished = opaque.client.finishRegistration({
      clientRegistrationState,
      registrationResponse,
      password: pin,
    });
  } catch {
    throw malformed('registrationResponse');
  }
  return Object.freeze({
    registrationId,
    registrationRecord: finished.registrationRecord,
    exportKey: finished.exportKey,
  });
}

/** The device's half of a started login. `clientLoginState` is secret: keep it in memory only. */
export interface PinLoginStart {
  readonly clientLoginState: string;
  readonly startLoginRequest: string;
}

export interface PinLoginFinish {
  /** Sent to custody: proves the PIN without revealing it. */
  readonly finishLoginRequest: string;
  /** Shared with custody once it accepts `finishLoginRequest` (base64url, 64 bytes). */
  readonly sessionKey: string;
  /** The same export key as at registration (base64url, 64 bytes). */
  readonly exportKey: string;
}

/** Starts an OPAQUE login with the PIN (local only; custody counts the try when it answers). */
export async function startPinLogin(pin: string): Promise<PinLoginStart> {
  requirePinFormat(pin);
  const opaque = await loadOpaque();
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: pin });
  return Object.freeze({ clientLoginState, startLoginRequest });
}

/**
 * Finishes the login locally with custody's answer. A wrong PIN, or an answer
 * that is not custody's for this credential, is PIN_REFUSED (one generic
 * answer): custody has already counted the try, and nothing more is sent.
 */
export async function finishPinLogin(
  start: PinLoginStart,
  loginResponse: string,
  pin: string,
): Promise<PinLoginFinish> {
  requirePinFormat(pin);
  const opaque = await loadOpaque();
  let finished: ReturnType<Opaque['client']['finishLogin']>;
  try {
    finished = opaque.client.finishLogin({
      clientLoginState: start.clientLoginState,
      loginResponse,
      password: pin,
    });
  } catch (cause) {
    throw new MpayError('PIN_REFUSED', undefined, { cause });
  }
  if (finished === undefined) throw new MpayError('PIN_REFUSED');
  return Object.freeze({
    finishLoginRequest: finished.finishLoginRequest,
    sessionKey: finished.sessionKey,
    exportKey: finished.exportKey,
  });
}

/**
 * A whole PIN login at custody (`POST /pin-logins`, then `/pin-logins/{id}/finish`).
 * Custody counts every try: a wrong PIN is PIN_REFUSED, a blocked customer
 * PIN_BLOCKED. On success the export key unwraps the device's keystore.
 */
export async function pinLogin(
  custodyUrl: string,
  credentialId: string,
  pin: string,
  options: CustodyCallOptions = {},
): Promise<{ exportKey: string; sessionKey: string }> {
  const start = await startPinLogin(pin);
  const body = await postToCustody(
    `${custodyUrl}/pin-logins`,
    { credentialId, startLoginRequest: start.startLoginRequest },
    options,
  );
  const loginId = answerString(body, 'loginId', identifierPattern);
  const loginResponse = answerString(body, 'loginResponse', opaqueValuePattern);
  let finished: PinLoginFinish;
  try {
    finished = await finishPinLogin(start, loginResponse, pin);
  } catch (error) {
    // The PIN was wrong: say so, so that custody blocks at the limit now rather than at the next try.
    await reportFailedLogin(custodyUrl, loginId, options);
    throw error;
  }
  const answer = await postToCustody(
    `${custodyUrl}/pin-logins/${encodeURIComponent(loginId)}/finish`,
    { finishLoginRequest: finished.finishLoginRequest },
    options,
  );
  if (answer.status !== 'ok') throw malformed('status');
  return Object.freeze({ exportKey: finished.exportKey, sessionKey: finished.sessionKey });
}

/**
 * Tells custody that a started login failed on the device (the PIN was wrong):
 * the try was counted when custody answered; this makes the try that reaches
 * the limit block at once and alert the customer. Its answer is the refusal
 * (PIN_REFUSED, or PIN_BLOCKED when this was the last try), which wins.
 */
async function reportFailedLogin(custodyUrl: string, loginId: string, options: CustodyCallOptions) {
  await postToCustody(
    `${custodyUrl}/pin-logins/${encodeURIComponent(loginId)}/finish`,
    { finishLoginRequest: null },
    options,
  ).catch((error: unknown) => {
    if (error instanceof MpayError && error.code === 'PIN_BLOCKED') throw error;
  });
}
