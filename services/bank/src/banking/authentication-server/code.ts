import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * The one-time login code of SA2pMP's "something you have: … a mobile phone
 * number" factor: drawn from the CSPRNG, sent by SMS to the registered
 * MSISDN, kept only as SHA-256 of `loginId:code` (hex), compared in constant
 * time.
 */

/** `digits` decimal digits, uniform, leading zeros kept. */
export function drawLoginCode(digits: number, draw: (max: number) => number = randomInt): string {
  if (!Number.isSafeInteger(digits) || digits < 6 || digits > 9) {
    throw new Error('assertion failed: a code has 6..9 digits');
  }
  const value = draw(10 ** digits);
  if (!Number.isSafeInteger(value) || value < 0 || value >= 10 ** digits) {
    throw new Error('assertion failed: a code is drawn below 10^digits');
  }
  return value.toString().padStart(digits, '0');
}

export function loginCodeHash(loginId: string, code: string): string {
  return createHash('sha256').update(`${loginId}:${code}`, 'utf8').digest('hex');
}

/** Whether `code` is the one whose hash the login keeps, in time independent of where they differ. */
export function loginCodeMatches(loginId: string, code: string, storedHash: string): boolean {
  const computed = Buffer.from(loginCodeHash(loginId, code), 'utf8');
  const stored = Buffer.from(storedHash, 'utf8');
  return computed.length === stored.length && timingSafeEqual(computed, stored);
}

/**
 * The SMS: "<bank>: your mobile banking login code is 123456. It expires in 5
 * minutes. Never share it." (minutes rounded up).
 */
export function loginCodeText(bankId: string, code: string, lifetimeSeconds: number): string {
  const minutes = Math.ceil(lifetimeSeconds / 60);
  const expiry = minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `${bankId}: your mobile banking login code is ${code}. It expires in ${expiry}. Never share it.`;
}
