import { MpayError } from '../errors/index.ts';

/** Field limits of the iMS message (lengths in UTF-16 code units; all but the description are ASCII). */
export const imsSignatureLengthMax = 16_384;
export const imsDescriptionLengthMax = 256;

/**
 * Account numbers as the FSP writes them into <accountPayable>/<accountReceivable>:
 * 4 to 36 ASCII letters, digits and hyphens: an IBAN (at most 34), the
 * paper's '1234-5678-9abc', or a bank ledger's account id (a UUID, 36). Case is
 * kept: the format belongs to each bank.
 * The gateway's party registry must accept no more than this, or it could
 * register an account that no message can carry.
 */
export const accountNumberPattern = /^[A-Za-z0-9-]{4,36}$/;

/** RFC 9562 UUID, versions 1–8, RFC variant, lower-case hex only. */
const transactionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timestampPattern = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$/;
/** Compact JWS: three base64url segments; the payload may be empty (detached content, RFC 7515 appendix F). */
const signaturePattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

function invalid(path: string): never {
  throw new MpayError('MESSAGE_INVALID', path);
}

export function readString(value: unknown, path: string): string {
  return typeof value === 'string' ? value : invalid(path);
}

export function readOneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  return allowed.find((candidate) => candidate === value) ?? invalid(path);
}

export function parseTransactionId(value: unknown, path: string): string {
  const text = readString(value, path);
  return transactionIdPattern.test(text) ? text : invalid(path);
}

/**
 * A real instant in UTC. Date.parse is only trusted after the strict pattern,
 * and the round trip through toISOString rejects 2002-02-30 and 24:00:00.
 */
export function parseTimestamp(value: unknown, path: string): string {
  const text = readString(value, path);
  const match = timestampPattern.exec(text);
  if (match === null) invalid(path);
  const milliseconds = Date.parse(text);
  if (Number.isNaN(milliseconds)) invalid(path);
  const expected = match[1] === undefined ? text.replace('Z', '.000Z') : text;
  return new Date(milliseconds).toISOString() === expected ? text : invalid(path);
}

export function parseSignature(value: unknown, path: string): string {
  const text = readString(value, path);
  return text.length <= imsSignatureLengthMax && signaturePattern.test(text) ? text : invalid(path);
}

export function parseAccountNumber(value: unknown, path: string): string {
  const text = readString(value, path);
  return accountNumberPattern.test(text) ? text : invalid(path);
}

/**
 * Code points a description may not contain: controls (C0, DEL, C1 — also keeps
 * XML line-end normalisation from changing the text), bidirectional overrides
 * and isolates (they can make the text the customer confirms read differently),
 * lone surrogates and the XML non-characters U+FFFE/U+FFFF.
 */
function isForbiddenInDescription(codePoint: number): boolean {
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069) ||
    (codePoint >= 0xd800 && codePoint <= 0xdfff) ||
    codePoint === 0xfffe ||
    codePoint === 0xffff
  );
}

export function parseDescription(value: unknown, path: string): string {
  const text = readString(value, path);
  if (text.length === 0 || text.length > imsDescriptionLengthMax) invalid(path);
  for (const character of text) {
    if (isForbiddenInDescription(character.codePointAt(0) ?? 0)) invalid(path);
  }
  return text;
}
