import { describe, expect, it } from 'vitest';
import { issueClaims, type MessageClaims, verifyClaims } from './claims.ts';
import { clockAt, T0_SECONDS } from './test-support/fixtures.ts';

const input = {
  issuer: 'john.bernard@person.xbank',
  audience: 'gateway',
  transactionId: 'txn-7',
  expiresInSeconds: 300,
};
const claims: MessageClaims = { ...issueClaims({ ...input, now: clockAt(T0_SECONDS) }) };
const expectations = { audience: 'gateway', issuer: input.issuer, transactionId: 'txn-7' };

function verifyAt(seconds: number, value: unknown = claims, options = {}) {
  return () => verifyClaims(value, expectations, { now: clockAt(seconds), ...options });
}

function expectCode(run: () => unknown, code: string, detail?: string) {
  expect(run).toThrow(expect.objectContaining({ code, ...(detail === undefined ? {} : { detail }) }));
}

describe('issueClaims', () => {
  it('sets iat from the clock, exp from the lifetime, and a 128-bit nonce', () => {
    expect(claims).toMatchObject({
      iss: input.issuer,
      aud: 'gateway',
      txn: 'txn-7',
      iat: T0_SECONDS,
      exp: T0_SECONDS + 300,
    });
    expect(claims.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses a lifetime outside [1, 86400] seconds', () => {
    expect(() => issueClaims({ ...input, expiresInSeconds: 0 })).toThrow(RangeError);
    expect(() => issueClaims({ ...input, expiresInSeconds: 86_401 })).toThrow(RangeError);
    expect(() => issueClaims({ ...input, expiresInSeconds: 1.5 })).toThrow(RangeError);
  });
});

describe('verifyClaims', () => {
  it('accepts claims within the window, at both edges of the skew', () => {
    expect(verifyAt(T0_SECONDS)()).toEqual(claims);
    expect(verifyAt(T0_SECONDS - 60)()).toEqual(claims);
    expect(verifyAt(T0_SECONDS + 300 + 59)()).toEqual(claims);
  });

  it('rejects an iat in the future beyond the skew', () => {
    expectCode(verifyAt(T0_SECONDS - 61), 'CLAIMS_INVALID', 'iat');
  });

  it('rejects an expired message (exp <= now - skew)', () => {
    expectCode(verifyAt(T0_SECONDS + 300 + 60), 'MESSAGE_EXPIRED');
  });

  it('rejects a lifetime longer than maxAge and exp not after iat', () => {
    expectCode(verifyAt(T0_SECONDS, { ...claims, exp: claims.iat + 301 }), 'CLAIMS_INVALID', 'exp');
    expectCode(verifyAt(T0_SECONDS, { ...claims, exp: claims.iat }), 'CLAIMS_INVALID', 'exp');
    expectCode(verifyAt(T0_SECONDS, claims, { maxAgeSeconds: 299 }), 'CLAIMS_INVALID', 'exp');
  });

  it('rejects a message older than maxAge plus skew (through its bounded lifetime)', () => {
    const old = { ...claims, exp: claims.iat + 100 };
    const limits = { maxAgeSeconds: 100, clockSkewSeconds: 10 };
    expect(verifyAt(T0_SECONDS + 109, old, limits)()).toEqual(old);
    expectCode(verifyAt(T0_SECONDS + 110, old, limits), 'MESSAGE_EXPIRED');
    expectCode(
      verifyAt(T0_SECONDS + 86_400, { ...claims, exp: claims.iat + 86_400 }, limits),
      'CLAIMS_INVALID',
      'exp',
    );
  });

  it('rejects the wrong audience, issuer or transaction', () => {
    expectCode(
      () => verifyClaims(claims, { ...expectations, audience: 'xbank' }, { now: clockAt(T0_SECONDS) }),
      'CLAIMS_INVALID',
      'aud',
    );
    expectCode(
      () => verifyClaims(claims, { ...expectations, issuer: 'mallory' }, { now: clockAt(T0_SECONDS) }),
      'CLAIMS_INVALID',
      'iss',
    );
    expectCode(
      () => verifyClaims(claims, { ...expectations, transactionId: 'txn-8' }, { now: clockAt(T0_SECONDS) }),
      'CLAIMS_INVALID',
      'txn',
    );
    expect(verifyClaims(claims, { audience: 'gateway' }, { now: clockAt(T0_SECONDS) })).toEqual(claims);
  });

  it.each([
    ['iss', undefined],
    ['aud', ''],
    ['txn', 7],
    ['iat', '1'],
    ['iat', 1.5],
    ['exp', -1],
    ['nonce', undefined],
    ['nonce', 'short'],
    ['nonce', `${'A'.repeat(21)}=`],
    ['nonce', 'A'.repeat(87)],
  ])('rejects a malformed %s (%s)', (name, value) => {
    expectCode(verifyAt(T0_SECONDS, { ...claims, [name]: value }), 'CLAIMS_INVALID', name);
  });

  it('rejects non-objects and validates its limits', () => {
    expectCode(verifyAt(T0_SECONDS, null), 'CLAIMS_INVALID');
    expectCode(verifyAt(T0_SECONDS, [claims]), 'CLAIMS_INVALID');
    expect(verifyAt(T0_SECONDS, claims, { clockSkewSeconds: 301 })).toThrow(RangeError);
    expect(verifyAt(T0_SECONDS, claims, { maxAgeSeconds: 86_401 })).toThrow(RangeError);
    expect(verifyAt(T0_SECONDS, claims, { maxAgeSeconds: 0 })).toThrow(RangeError);
    expect(() => verifyClaims(claims, { audience: '' })).toThrow();
  });
});
