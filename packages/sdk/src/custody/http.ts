import { requestJson } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

/** Identifiers custody hands out (registration, credential, login, delegation ids, cursors). */
export const identifierPattern = /^[A-Za-z0-9._:@-]{1,128}$/;
/** OPAQUE messages and keys on the wire: base64url, bounded (custody refuses more than 2048). */
export const opaqueValuePattern = /^[A-Za-z0-9_-]{1,4096}$/;
/** A compact JWS or JWE: base64url segments separated by dots, bounded like the envelope's default. */
export const compactPattern = /^[A-Za-z0-9_.-]{1,65536}$/;

export const custodyTimeoutMsDefault = 30_000;
/** Largest answer custody may give one call (an inbox page included). */
export const custodyAnswerBytesMax = 1024 * 1024;

export interface CustodyCallOptions {
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

/**
 * One call to custody: JSON in (or a compact JWE with `contentType`), JSON out.
 * Its `{error:{code}}` answers become that MpayError (PIN_REFUSED, PIN_BLOCKED …);
 * the body's shape is checked by the caller with `answerString` and friends.
 */
export async function callCustody(
  url: string,
  request: { body?: string; contentType?: string } & CustodyCallOptions = {},
): Promise<Record<string, unknown>> {
  const { body } = await requestJson<unknown>(url, {
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
    ...(request.headers === undefined ? {} : { headers: request.headers }),
    timeoutMs: request.timeoutMs ?? custodyTimeoutMsDefault,
    responseBytesMax: custodyAnswerBytesMax,
  });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw malformed('body');
  return body as Record<string, unknown>;
}

/** POSTs a JSON body to custody. */
export async function postToCustody(
  url: string,
  body: unknown,
  options: CustodyCallOptions = {},
): Promise<Record<string, unknown>> {
  return callCustody(url, { body: JSON.stringify(body), contentType: 'application/json', ...options });
}

/** Custody answered, but not as the contract says: nothing in it is used. */
export function malformed(name: string): MpayError {
  return new MpayError('SERVICE_UNAVAILABLE', `custody answer: ${name}`);
}

/** A string member of custody's answer matching `pattern`, else SERVICE_UNAVAILABLE. */
export function answerString(body: Record<string, unknown>, name: string, pattern: RegExp): string {
  const value = body[name];
  if (typeof value !== 'string' || !pattern.test(value)) throw malformed(name);
  return value;
}

/** The Authorization header of a device-authenticated call. */
export function deviceAuthorization(deviceToken: string): Record<string, string> {
  return { authorization: `Bearer ${deviceToken}` };
}
