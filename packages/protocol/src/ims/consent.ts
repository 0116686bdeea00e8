/**
 * The customer's consent as the device sends it (wire format `consent/v1`):
 * the customer's JWS over `customerSignedContent` with its payload detached
 * (RFC 7515 appendix F), the three claims the FSP cannot know (issued,
 * expires, nonce), and the sealed second factor when the level asks for one.
 * The FSP holds the rest: the message it sent (the content) and the claims
 * it can name itself (issuer: the payer, audience: itself, transaction: the
 * payment). It re-attaches the payload byte for byte (RFC 8785 canonical
 * JSON, as every mpay signature is made) and verifies the whole JWS, which
 * then travels to the customer's bank unchanged: the bank receives and
 * verifies the full signed consent as before.
 *
 * Pure: no I/O, no crypto. Everything here is read as hostile input.
 */
import { MpayError } from '../errors/index.ts';
import { parseSealed } from './json.ts';
import { readObject, readOptional } from './json-object.ts';

/** The detached consent as sent, validated. */
export interface DetachedConsent {
  /** `<protected header>..<signature>`: a compact JWS with an empty payload part. */
  readonly sign: string;
  readonly iat: number;
  readonly exp: number;
  readonly nonce: string;
  /** The one-time code sealed to the customer's bank (covered by the signature, inside the content). */
  readonly secondFactor?: string;
}

/** The claims the FSP names itself when it re-attaches the payload. */
export interface ConsentClaimsKnown {
  readonly iss: string;
  readonly aud: string;
  readonly txn: string;
}

/** A protected header of up to 1 KiB (ES256/EdDSA, a 43-character kid, a media type), then a signature of up to 1 KiB. */
const detachedSignPattern = /^[A-Za-z0-9_-]{1,1024}\.\.[A-Za-z0-9_-]{1,1024}$/;
/** A nonce as `@mpay/envelope` issues it: 16 to 64 bytes in base64url. */
const noncePattern = /^[A-Za-z0-9_-]{22,86}$/;
/** Seconds since the epoch, up to the year 9999. */
const secondsMax = 253_402_300_799;

function readSeconds(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > secondsMax)
    throw new MpayError('MESSAGE_INVALID', path);
  return value;
}

/** The issued, expires and nonce of a detached signature, from an object already checked for its members. */
function readClaimMembers(object: Readonly<Record<string, unknown>>, path: string): SignatureClaims {
  const { nonce } = object;
  if (typeof nonce !== 'string' || !noncePattern.test(nonce))
    throw new MpayError('MESSAGE_INVALID', `${path}.nonce`);
  const iat = readSeconds(object.iat, `${path}.iat`);
  const exp = readSeconds(object.exp, `${path}.exp`);
  if (exp < iat) throw new MpayError('MESSAGE_INVALID', `${path}.exp`);
  return { iat, exp, nonce };
}

/** Reads `{iat, exp, nonce}` as sent beside another party's detached signature (./push.ts): MESSAGE_INVALID otherwise. */
export function readSignatureClaims(value: unknown, path: string): SignatureClaims {
  return Object.freeze(readClaimMembers(readObject(value, path, ['iat', 'exp', 'nonce']), path));
}

/** True for `<protected header>..<signature>`: a compact JWS with its payload cut out. */
export function isDetachedSign(sign: string): boolean {
  return detachedSignPattern.test(sign);
}

/** Reads `{sign, iat, exp, nonce, secondFactor?}` as sent: MESSAGE_INVALID (with the member) for anything else. */
export function parseDetachedConsent(value: unknown): DetachedConsent {
  const path = 'consent';
  const object = readObject(value, path, ['sign', 'iat', 'exp', 'nonce'], ['secondFactor']);
  const { sign } = object;
  if (typeof sign !== 'string' || !isDetachedSign(sign))
    throw new MpayError('MESSAGE_INVALID', 'consent.sign');
  const claims = readClaimMembers(object, path);
  const secondFactor = readOptional(object, 'secondFactor', path, (sealed, at) => parseSealed(sealed, at));
  return Object.freeze({ sign, ...claims, ...(secondFactor === undefined ? {} : { secondFactor }) });
}

/** The claims of a detached JWS that its verifier cannot name itself. */
export interface SignatureClaims {
  readonly iat: number;
  readonly exp: number;
  readonly nonce: string;
}

/**
 * The payload object a detached signature was made over, rebuilt by its
 * verifier: the content it holds and the claims, its own three and the sent
 * three. Its canonical bytes are the JWS payload; a content or claim not the
 * one signed fails the signature.
 */
export function signedPayloadOf(
  content: Readonly<Record<string, unknown>>,
  known: ConsentClaimsKnown,
  claims: SignatureClaims,
): Record<string, unknown> {
  for (const name of ['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']) {
    if (Object.hasOwn(content, name)) throw new MpayError('MESSAGE_INVALID', name);
  }
  return {
    ...content,
    iss: known.iss,
    aud: known.aud,
    txn: known.txn,
    iat: claims.iat,
    exp: claims.exp,
    nonce: claims.nonce,
  };
}

/** The customer's consent payload, rebuilt by the FSP from its own copy of the message (`signedPayloadOf`). */
export function consentPayload(
  content: Readonly<Record<string, unknown>>,
  known: ConsentClaimsKnown,
  consent: DetachedConsent,
): Record<string, unknown> {
  return signedPayloadOf(content, known, consent);
}

/** `<header>..<signature>` with the payload put back. */
export function attachDetached(detached: string, payloadBase64url: string): string {
  const parts = detached.split('.');
  if (parts.length !== 3 || parts[1] !== '') throw new MpayError('MESSAGE_INVALID', 'sign');
  return `${parts[0]}.${payloadBase64url}.${parts[2]}`;
}

/** The compact JWS with its payload put back: `<header>.<payload>.<signature>`. */
export function attachPayload(consent: DetachedConsent, payloadBase64url: string): string {
  return attachDetached(consent.sign, payloadBase64url);
}

/** The device's side: a compact JWS with its payload cut out (`<header>..<signature>`). */
export function detachPayload(compactJws: string): string {
  const parts = compactJws.split('.');
  if (parts.length !== 3) throw new MpayError('MESSAGE_INVALID', 'sign');
  return `${parts[0]}..${parts[2]}`;
}
