import { MpayError } from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';

/**
 * The bank's OPAQUE server (RFC 9807, `@serenity-kit/opaque` 1.1.0) for the
 * customers' banking passwords (SA2pMP §4.2 "something you know"): the bank
 * keeps a registration record, never the password nor anything a guess can
 * be tested against without the server setup. The OPAQUE user identifier is
 * the banking user id; no custom identifiers (the client and server
 * identities are OPAQUE's defaults, the public keys), as the device's side
 * does it.
 */

/** OPAQUE messages on the wire: base64url, bounded. */
export const opaqueMessagePattern = /^[A-Za-z0-9_-]{16,2048}$/;
/** A registration record as banking_customers keeps it. */
export const opaqueRecordPattern = /^[A-Za-z0-9_-]{16,1024}$/;

/** The registration response to a device's registration request, or undefined for a malformed request. */
export async function createRegistrationResponse(
  serverSetup: string,
  userId: string,
  registrationRequest: string,
): Promise<string | undefined> {
  await opaque.ready;
  try {
    return opaque.server.createRegistrationResponse({
      serverSetup,
      userIdentifier: userId,
      registrationRequest,
    }).registrationResponse;
  } catch {
    return undefined;
  }
}

/**
 * The login's first answer (KE2). A user id without a record (unknown, or no
 * password yet) is answered from OPAQUE's fake record, as long and as random
 * as a real answer, so the answer says nothing about which ids exist; its
 * finish always fails. A malformed KE1 is REQUEST_INVALID, for every user id.
 */
export async function startOpaqueLogin(
  serverSetup: string,
  userId: string,
  registrationRecord: string | undefined,
  startLoginRequest: string,
): Promise<{ loginResponse: string; serverLoginState: string }> {
  await opaque.ready;
  try {
    return opaque.server.startLogin({
      serverSetup,
      userIdentifier: userId,
      registrationRecord: registrationRecord ?? null,
      startLoginRequest,
    });
  } catch {
    throw new MpayError('REQUEST_INVALID', 'startLoginRequest');
  }
}

/** The OPAQUE session key (base64url) when the client proved the password, else undefined. */
export async function finishOpaqueLogin(
  serverLoginState: string,
  finishLoginRequest: string,
): Promise<string | undefined> {
  await opaque.ready;
  try {
    return opaque.server.finishLogin({ serverLoginState, finishLoginRequest }).sessionKey;
  } catch {
    return undefined;
  }
}
