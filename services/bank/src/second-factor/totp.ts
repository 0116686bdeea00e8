import { Secret, TOTP } from 'otpauth';

/** The HMAC of a one-time code (RFC 6238 §1.2 allows SHA-1, SHA-256, SHA-512). */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/** What generates one party's codes; kept with its secret, and written into the authenticator's otpauth URI. */
export interface TotpParameters {
  readonly algorithm: TotpAlgorithm;
  /** Digits of a code: 6 to 8 (RFC 4226 §5.3). */
  readonly digits: number;
  /** Length of a time step (RFC 6238 X). */
  readonly periodSeconds: number;
}

/**
 * What the bank provisions: what every authenticator app reads (SHA-1, 6
 * digits, 30 s: the otpauth URI's defaults). SHA-1 is sound here: HOTP rests
 * on HMAC-SHA-1, whose security does not depend on SHA-1's collision
 * resistance (RFC 4226 Appendix A.4).
 */
export const totpParametersDefault: TotpParameters = Object.freeze({
  algorithm: 'SHA1',
  digits: 6,
  periodSeconds: 30,
});

/** Random bytes of a new secret: 160 bits, the length RFC 4226 §4 (R6) recommends. */
const secretBytes = 20;
const base32Pattern = /^[A-Z2-7]{32}$/;

/** A new secret, base32 (RFC 4648, no padding): 32 characters for 160 bits. */
export function newTotpSecret(): string {
  const secret = new Secret({ size: secretBytes }).base32;
  if (!base32Pattern.test(secret)) throw new Error('assertion failed: 160 bits make 32 base32 characters');
  return secret;
}

/** The time step of an instant (RFC 6238 T = floor((now - T0) / X), T0 = 0). */
export function totpStepOf(now: Date, parameters: TotpParameters): number {
  return TOTP.counter({ period: parameters.periodSeconds, timestamp: now.getTime() });
}

/**
 * The time step whose code `code` is, among the steps from `windowSteps`
 * before now to `windowSteps` after (clocks differ, and a code typed at the
 * end of a step arrives in the next one), or undefined. A code of the wrong
 * shape matches nothing. otpauth compares in constant time.
 */
export function matchTotpStep(
  secretBase32: string,
  code: string,
  now: Date,
  windowSteps: number,
  parameters: TotpParameters = totpParametersDefault,
): number | undefined {
  if (!Number.isSafeInteger(windowSteps) || windowSteps < 0) {
    throw new Error('assertion failed: a window of whole steps');
  }
  if (!new RegExp(`^[0-9]{${parameters.digits}}$`).test(code)) return undefined;
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secretBase32),
    algorithm: parameters.algorithm,
    digits: parameters.digits,
    period: parameters.periodSeconds,
    timestamp: now.getTime(),
    window: windowSteps,
  });
  return delta === null ? undefined : totpStepOf(now, parameters) + delta;
}

/**
 * The Key URI an authenticator app reads (otpauth://totp/ISSUER:LABEL?secret=…):
 * the bank as issuer, the party as label.
 */
export function totpUri(
  issuer: string,
  partyId: string,
  secretBase32: string,
  parameters: TotpParameters = totpParametersDefault,
): string {
  return new TOTP({
    issuer,
    label: partyId,
    secret: Secret.fromBase32(secretBase32),
    algorithm: parameters.algorithm,
    digits: parameters.digits,
    period: parameters.periodSeconds,
  }).toString();
}
