import { decodeBase64url, encodeBase64url } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';

/**
 * The two values that tie a PIN authorisation to what the customer saw
 * (iMS §5 step 4): the hash of the custody-signed forward the phone verified
 * and showed, and an HMAC under the OPAQUE session key of this login over the
 * delegation, the decision and that hash. Custody signs in the customer's
 * name only when both check out.
 */

export const delegationAuthorisationDomain = 'mpay-custody-delegation/v1';
export type DelegationDecision = 'confirm' | 'decline';

const textEncoder = new TextEncoder();
/** The OPAQUE session key is 64 bytes; anything under 32 is not one. */
const sessionKeyLengthBytesMin = 32;

/** base64url(SHA-256(UTF-8 of the forward JWS exactly as received)). */
export async function forwardMessageHash(forward: string): Promise<string> {
  return encodeBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', textEncoder.encode(forward))));
}

/**
 * base64url(HMAC-SHA-256(key = the session key's bytes, message = UTF-8 of
 * `mpay-custody-delegation/v1\n${delegationId}\n${decision}\n${messageHash}`)).
 */
export async function delegationAuthorisation(
  sessionKey: string,
  delegationId: string,
  decision: DelegationDecision,
  messageHash: string,
): Promise<string> {
  const keyBytes = decodeBase64url(sessionKey);
  if (keyBytes === undefined || keyBytes.length < sessionKeyLengthBytesMin)
    throw new MpayError('CRYPTO_KEY_INVALID', 'sessionKey');
  for (const part of [delegationId, decision, messageHash])
    if (part.includes('\n')) throw new MpayError('REQUEST_INVALID', 'delegation field');
  const key = await crypto.subtle.importKey(
    'raw',
    Uint8Array.from(keyBytes),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const message = `${delegationAuthorisationDomain}\n${delegationId}\n${decision}\n${messageHash}`;
  return encodeBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, textEncoder.encode(message))));
}
