import { createHash, createHmac, randomUUID } from 'node:crypto';
import { encodeBase64url } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';

/**
 * The bank's OPAQUE server (RFC 9807, `@serenity-kit/opaque` 1.1.0) for the
 * customers' banking passwords (SA2pMP §4.2 "something you know"): the bank
 * keeps a registration record, never the password nor anything a guess can
 * be tested against without the server setup. No custom identities (the
 * client and server identities are OPAQUE's defaults, the public keys), as
 * the device's side does it.
 *
 * OPAQUE's credential identifier (serenity's `userIdentifier`), from which
 * the server's per-user OPRF key derives, is never the bare user id:
 * - a registration draws a fresh one, `<userId>:<UUID v4>`, kept with the
 *   record (banking_customers.opaque_credential_id), so OPRF evaluations an
 *   attacker collected before the customer registered (or before a reset)
 *   are useless against the record;
 * - a start answered without the customer's record (an unknown user id, no
 *   password, no valid device statement) is answered from OPAQUE's fake
 *   record under a decoy identifier, `decoy:` + base64url(HMAC-SHA-256(key,
 *   userId)) with key = SHA-256('mpay banking decoy v1' ‖ server setup):
 *   stable per user id (repeated probes look alike), secret (it needs the
 *   server setup), and never a real one (a real one has no `decoy:` prefix).
 */

/** The credential identifier of a new registration: the user id and a fresh UUID v4. */
export function freshCredentialId(userId: string): string {
  return `${userId}:${randomUUID()}`;
}

const decoyKeys = new Map<string, Buffer>();

/** The decoy credential identifier of a user id, under this server setup. */
export function decoyCredentialId(serverSetup: string, userId: string): string {
  let key = decoyKeys.get(serverSetup);
  if (key === undefined) {
    key = createHash('sha256').update('mpay banking decoy v1', 'utf8').update(serverSetup, 'utf8').digest();
    // One bank runs one server setup; tests run a few.
    if (decoyKeys.size >= 16) decoyKeys.clear();
    decoyKeys.set(serverSetup, key);
  }
  const mac = createHmac('sha256', key).update(userId, 'utf8').digest();
  return `decoy:${encodeBase64url(new Uint8Array(mac))}`;
}

/** OPAQUE messages on the wire: base64url, bounded. */
export const opaqueMessagePattern = /^[A-Za-z0-9_-]{16,2048}$/;
/** A registration record as banking_customers keeps it. */
export const opaqueRecordPattern = /^[A-Za-z0-9_-]{16,1024}$/;

/** The registration response to a device's registration request, or undefined for a malformed request. */
export async function createRegistrationResponse(
  serverSetup: string,
  credentialId: string,
  registrationRequest: string,
): Promise<string | undefined> {
  await opaque.ready;
  try {
    return opaque.server.createRegistrationResponse({
      serverSetup,
      userIdentifier: credentialId,
      registrationRequest,
    }).registrationResponse;
  } catch {
    return undefined;
  }
}

/**
 * The login's first answer (KE2): from the customer's record under its
 * credential identifier, or (`record` undefined) from OPAQUE's fake record
 * under the user id's decoy identifier, as long and as random as a real
 * answer, so it says nothing about which ids exist; its finish always fails.
 * A malformed KE1 is REQUEST_INVALID, for every user id.
 */
export async function startOpaqueLogin(
  serverSetup: string,
  userId: string,
  record: { readonly registrationRecord: string; readonly credentialId: string } | undefined,
  startLoginRequest: string,
): Promise<{ loginResponse: string; serverLoginState: string }> {
  await opaque.ready;
  try {
    return opaque.server.startLogin({
      serverSetup,
      userIdentifier: record?.credentialId ?? decoyCredentialId(serverSetup, userId),
      registrationRecord: record?.registrationRecord ?? null,
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
