import { Secret, TOTP, URI } from 'otpauth';
import { describe, expect, it } from 'vitest';
import vectors from './rfc4226-rfc6238.vectors.json' with { type: 'json' };
import { matchTotpStep, newTotpSecret, type TotpAlgorithm, totpParametersDefault, totpUri } from './totp.ts';

// The bank's check of one-time codes against the known answers of RFC 4226
// (HOTP) and RFC 6238 (TOTP), which nobody here wrote.

const base32 = (ascii: string) => Secret.fromLatin1(ascii).base32;
const at = (seconds: number) => new Date(seconds * 1000);

describe('RFC 4226 Appendix D: HOTP, SHA-1, 6 digits', () => {
  const { hotp } = vectors;
  const secret = base32(hotp.secret_ascii);
  const parameters = { algorithm: 'SHA1', digits: hotp.digits, periodSeconds: 30 } as const;

  it.each(hotp.values)('counter $counter is $otp', ({ counter, otp }) => {
    // TOTP is HOTP of the time step: the code of counter C is the code of the step at C × 30 s.
    expect(matchTotpStep(secret, otp, at(counter * 30), 0, parameters)).toBe(counter);
    // One step late (a code typed at the end of its step): found in a window of one.
    expect(matchTotpStep(secret, otp, at((counter + 1) * 30 + 29), 1, parameters)).toBe(counter);
    expect(matchTotpStep(secret, otp, at((counter + 1) * 30), 0, parameters)).toBeUndefined();
  });

  it('refuses every code with one digit changed, and codes of the wrong shape', () => {
    for (const { counter, otp } of hotp.values) {
      for (let index = 0; index < otp.length; index++) {
        const digit = (Number(otp[index]) + 1) % 10;
        const changed = `${otp.slice(0, index)}${digit}${otp.slice(index + 1)}`;
        expect(matchTotpStep(secret, changed, at(counter * 30), 1, parameters), changed).toBeUndefined();
      }
    }
    for (const malformed of ['75522', '7552240', '75522a', ' 755224', '७५५२२४', '']) {
      expect(matchTotpStep(secret, malformed, at(0), 1, parameters), malformed).toBeUndefined();
    }
  });
});

describe('RFC 6238 Appendix B: TOTP, 30 s steps, 8 digits', () => {
  const { totp } = vectors;
  const secrets = totp.secrets_ascii as Record<TotpAlgorithm, string>;

  it.each(totp.values)('$algorithm at $unix_time is $otp', ({ unix_time, algorithm, otp }) => {
    const parameters = { algorithm: algorithm as TotpAlgorithm, digits: totp.digits, periodSeconds: 30 };
    const secret = base32(secrets[algorithm as TotpAlgorithm]);
    const step = Math.floor(unix_time / totp.step_seconds);
    expect(matchTotpStep(secret, otp, at(unix_time), 0, parameters)).toBe(step);
    // Two steps away is outside a window of one, in either direction.
    expect(matchTotpStep(secret, otp, at(unix_time + 60), 1, parameters)).toBeUndefined();
    expect(matchTotpStep(secret, otp, at(unix_time - 60), 1, parameters)).toBeUndefined();
    // The code of another algorithm's secret is not this one's.
    const other = algorithm === 'SHA1' ? 'SHA256' : 'SHA1';
    expect(
      matchTotpStep(base32(secrets[other]), otp, at(unix_time), 1, { ...parameters, algorithm: other }),
    ).toBeUndefined();
  });
});

describe('the secrets the bank provisions', () => {
  it('are 160 random bits, and the Key URI an authenticator reads gives the codes the bank accepts', () => {
    const secrets = new Set(Array.from({ length: 20 }, newTotpSecret));
    expect(secrets.size).toBe(20);
    const secret = [...secrets][0]!;
    expect(Secret.fromBase32(secret).bytes).toHaveLength(20);
    const uri = totpUri('xbank', 'john.bernard@person.xbank', secret);
    expect(uri).toMatch(/^otpauth:\/\/totp\/xbank:john\.bernard%40person\.xbank\?/);
    const authenticator = URI.parse(uri);
    expect(authenticator).toBeInstanceOf(TOTP);
    expect(authenticator).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, issuer: 'xbank' });
    const now = new Date();
    const code = authenticator.generate({ timestamp: now.getTime() });
    const step = Math.floor(now.getTime() / 30_000);
    expect(matchTotpStep(secret, code, now, 1, totpParametersDefault)).toBe(step);
  });
});
