import { isIPv4 } from 'node:net';

/*
 * The HTTP SMS-gateway API, as SMS providers offer it and as the embedded
 * gateway answers it:
 *
 *   POST {url}/messages
 *   Authorization: Bearer <token>
 *   Content-Type: application/json
 *   {"from": "mpay", "to": "+38970123456", "text": "..."}
 *
 *   202 {"id": "<message id>"}           accepted (stored, or handed to the network)
 *   400 / 413 {"error": {...}}           refused for good (a field, the body size)
 *   401 {"error": {...}}                 a wrong or missing token
 *   429 {"error": {...}} + Retry-After   not now (a full inbox or store)
 *   5xx                                  not now (the gateway cannot store or is busy)
 */

/** Where messages are posted, below the gateway's base URL. */
export const messagesPath = '/messages';

/** Shortest and longest bearer token: 16 characters is 96 bits of base64url. */
export const smsTokenLengthMin = 16;
export const smsTokenLengthMax = 512;

/** RFC 6750 §2.1 b64token: the characters a bearer token may have in an Authorization header. */
const b64tokenPattern = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Whether `value` can be the gateway's bearer token: a b64token of 16..512 characters. */
export function isSmsToken(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= smsTokenLengthMin &&
    value.length <= smsTokenLengthMax &&
    b64tokenPattern.test(value)
  );
}

/** Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, `[::1]`). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/**
 * Why `url` cannot be a gateway's base URL, or undefined when it can: it is
 * http(s), names no credentials, query or fragment, and is https unless the
 * gateway is on this machine (the bearer token would cross a network in clear).
 */
export function smsGatewayUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an http(s) URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http(s) URL';
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    return 'must carry no credentials, query or fragment';
  }
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
    return 'must be https unless the gateway is on loopback (the token would travel in clear)';
  }
  return undefined;
}

/** The URL messages are posted to: the base URL without its trailing slashes, then `/messages`. */
export function messagesUrlOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}${messagesPath}`;
}
