import { describe, expect, it } from 'vitest';
import { thrownCodeOf } from '../../../../test/support/code-of.ts';
import { attachPayload, consentPayload, detachPayload, parseDetachedConsent } from './consent.ts';

const header = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJtcGF5K2p3cyJ9';
const signature = 'c2lnbmF0dXJl';
const valid = {
  sign: `${header}..${signature}`,
  iat: 1_700_000_000,
  exp: 1_700_000_300,
  nonce: 'A'.repeat(22),
};
const sealed = 'aGVhZGVy..aXY.Y2lwaGVy.dGFn';

describe('the detached consent (consent/v1)', () => {
  it('reads a well-formed consent, with or without the sealed second factor', () => {
    expect(parseDetachedConsent(valid)).toEqual(valid);
    expect(parseDetachedConsent({ ...valid, secondFactor: sealed }).secondFactor).toBe(sealed);
  });

  it('refuses as MESSAGE_INVALID anything else: members, types, an attached payload, bounds', () => {
    const hostile: unknown[] = [
      null,
      [],
      'consent',
      { ...valid, extra: 1 },
      { ...valid, ims: {} },
      { sign: valid.sign, iat: valid.iat, exp: valid.exp },
      { ...valid, sign: `${header}.cGF5bG9hZA.${signature}` },
      { ...valid, sign: `${header}..` },
      { ...valid, sign: `..${signature}` },
      { ...valid, sign: `${'A'.repeat(1025)}..${signature}` },
      { ...valid, iat: '1700000000' },
      { ...valid, iat: 1.5 },
      { ...valid, iat: -1 },
      { ...valid, exp: valid.iat - 1 },
      { ...valid, exp: Number.MAX_SAFE_INTEGER },
      { ...valid, nonce: 'short' },
      { ...valid, nonce: `${'A'.repeat(21)}=` },
      { ...valid, secondFactor: 'not-a-jwe' },
      { ...valid, secondFactor: 42 },
      JSON.parse(`{"sign":"${valid.sign}","iat":1,"exp":2,"nonce":"${valid.nonce}","__proto__":{}}`),
    ];
    for (const value of hostile)
      expect(
        thrownCodeOf(() => parseDetachedConsent(value)),
        JSON.stringify(value),
      ).toBe('MESSAGE_INVALID');
  });

  it('puts back exactly the payload cut out, and names the claims the FSP knows itself', () => {
    const compact = `${header}.cGF5bG9hZA.${signature}`;
    const detached = detachPayload(compact);
    expect(detached).toBe(`${header}..${signature}`);
    expect(attachPayload(parseDetachedConsent({ ...valid, sign: detached }), 'cGF5bG9hZA')).toBe(compact);
    const payload = consentPayload({ signer: 'customer' }, { iss: 'a', aud: 'b', txn: 'c' }, valid);
    expect(payload).toEqual({
      signer: 'customer',
      iss: 'a',
      aud: 'b',
      txn: 'c',
      iat: valid.iat,
      exp: valid.exp,
      nonce: valid.nonce,
    });
    // A content that carries a claim of its own is not a signed content.
    expect(() => consentPayload({ nonce: 'x' }, { iss: 'a', aud: 'b', txn: 'c' }, valid)).toThrow();
  });
});
