import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so that a code read aloud or typed again has one spelling. */
const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Random bytes per code: 80 bits, 16 characters of 5 bits. */
const codeBytes = 10;
export const enrolmentCodeLength = 16;
const codePattern = /^[0-9A-HJKMNP-TV-Z]{16}$/;

/** A fresh one-time enrolment code: 16 Crockford base32 characters (80 random bits). */
export function newEnrolmentCode(): string {
  let text = '';
  let value = 0;
  let bits = 0;
  for (const byte of randomBytes(codeBytes)) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += alphabet[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  if (text.length !== enrolmentCodeLength) throw new Error('assertion failed: 80 bits make 16 characters');
  return text;
}

/** People type codes: case, hyphens and spaces do not matter; O reads as 0, I and L as 1 (Crockford). */
function normalise(text: string): string | undefined {
  const normalised = text.toUpperCase().replace(/[-\s]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return codePattern.test(normalised) ? normalised : undefined;
}

/** SHA-256 (hex) of a code: the only form the bank stores. */
export function enrolmentCodeHash(code: string): string {
  const normalised = normalise(code);
  if (normalised === undefined) throw new Error('assertion failed: a well-formed enrolment code');
  return createHash('sha256').update(normalised).digest('hex');
}

/**
 * Compares a presented code with a stored hash in constant time (hash against
 * hash, so neither the length nor a prefix of the code leaks through timing);
 * a malformed code is compared too, as an empty one, and never matches.
 */
export function enrolmentCodeMatches(presented: string, storedHash: string): boolean {
  const normalised = normalise(presented);
  const presentedDigest = createHash('sha256')
    .update(normalised ?? '')
    .digest();
  const storedDigest = Buffer.from(storedHash, 'hex');
  if (storedDigest.length !== presentedDigest.length) throw new Error('assertion failed: a SHA-256 hash');
  return timingSafeEqual(presentedDigest, storedDigest) && normalised !== undefined;
}
