import { createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { decodeBase64url, encodeBase64url } from '@mpay/envelope';
import { bankingSessionInfo, isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { drawLoginCode, loginCodeHash, loginCodeMatches, loginCodeText } from './code.ts';
import { deriveBankingSessionKey, generateBankingEcdhKeyPair } from './session-key.ts';
import { UnknownUserLogins } from './unknown-logins.ts';

const ids = {
  bankId: 'xbank',
  partyId: 'ann@person.xbank',
  sessionId: '0b6f1c1e-6a4e-4c39-9d0b-2f4b1c8e7a11',
};

/** A P-256 public key from node's ECDH (an implementation apart from WebCrypto's JWK path) as a JWK. */
function jwkOfUncompressed(point: Buffer) {
  return {
    kty: 'EC' as const,
    crv: 'P-256' as const,
    x: encodeBase64url(point.subarray(1, 33)),
    y: encodeBase64url(point.subarray(33, 65)),
  };
}

describe('deriveBankingSessionKey', () => {
  it('is HKDF-SHA-256(ECDH x, salt = OPAQUE key, info = bankingSessionInfo), as node:crypto computes it', async () => {
    const bank = await generateBankingEcdhKeyPair();
    const device = createECDH('prime256v1');
    device.generateKeys();
    const opaqueSessionKey = encodeBase64url(randomBytes(64));
    const key = await deriveBankingSessionKey({
      ecdhPrivate: bank.privateKey,
      peerPublicJwk: jwkOfUncompressed(device.getPublicKey()),
      opaqueSessionKey,
      ...ids,
    });
    const bankPoint = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(decodeBase64url(bank.publicJwk.x) ?? []),
      Buffer.from(decodeBase64url(bank.publicJwk.y) ?? []),
    ]);
    const shared = device.computeSecret(bankPoint);
    const expected = hkdfSync(
      'sha256',
      shared,
      Buffer.from(decodeBase64url(opaqueSessionKey) ?? []),
      Buffer.from(bankingSessionInfo(ids.bankId, ids.partyId, ids.sessionId), 'utf8'),
      32,
    );
    expect(key).toHaveLength(32);
    expect(Buffer.from(key).equals(Buffer.from(expected))).toBe(true);
    // Another session id, another key.
    const other = await deriveBankingSessionKey({
      ecdhPrivate: bank.privateKey,
      peerPublicJwk: jwkOfUncompressed(device.getPublicKey()),
      opaqueSessionKey,
      ...ids,
      sessionId: '1b6f1c1e-6a4e-4c39-9d0b-2f4b1c8e7a11',
    });
    expect(Buffer.from(other).equals(Buffer.from(key))).toBe(false);
  });

  it('refuses a point off the curve and an OPAQUE key of the wrong size', async () => {
    const bank = await generateBankingEcdhKeyPair();
    const device = createECDH('prime256v1');
    device.generateKeys();
    const good = jwkOfUncompressed(device.getPublicKey());
    const y = decodeBase64url(good.y) ?? new Uint8Array();
    y[31] = (y[31] ?? 0) ^ 1;
    const offCurve = { ...good, y: encodeBase64url(y) };
    const attempts = [
      { peerPublicJwk: offCurve, opaqueSessionKey: encodeBase64url(randomBytes(64)) },
      { peerPublicJwk: good, opaqueSessionKey: encodeBase64url(randomBytes(32)) },
    ];
    for (const attempt of attempts) {
      const refused = await deriveBankingSessionKey({
        ecdhPrivate: bank.privateKey,
        ...attempt,
        ...ids,
      }).catch((error: unknown) => error);
      expect(isMpayError(refused, 'CRYPTO_KEY_INVALID')).toBe(true);
    }
  });
});

describe('the login code', () => {
  it('has the digits asked for, leading zeros kept, and is kept as SHA-256 of loginId:code', () => {
    expect(drawLoginCode(6, () => 42)).toBe('000042');
    expect(drawLoginCode(9, () => 999_999_999)).toBe('999999999');
    expect(() => drawLoginCode(6, () => 1_000_000)).toThrow(/assertion failed/);
    expect(() => drawLoginCode(5)).toThrow(/assertion failed/);
    expect(drawLoginCode(6)).toMatch(/^[0-9]{6}$/);
    const hash = loginCodeHash(ids.sessionId, '123456');
    // `printf '%s' '<loginId>:123456' | sha256sum`
    expect(hash).toBe('8004df3408b7d9c5673a63a746e286e4339429230490e60a2bee9e12a2d0d135');
    expect(loginCodeMatches(ids.sessionId, '123456', hash)).toBe(true);
    expect(loginCodeMatches(ids.sessionId, '123457', hash)).toBe(false);
    expect(loginCodeMatches('another', '123456', hash)).toBe(false);
  });

  it('is sent with the spec’s text', () => {
    expect(loginCodeText('xbank', '123456', 300)).toBe(
      'xbank: your mobile banking login code is 123456. It expires in 5 minutes. Never share it.',
    );
    expect(loginCodeText('xbank', '123456', 60)).toContain('It expires in 1 minute.');
  });
});

describe('UnknownUserLogins', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);

  it('gives a state back once, never after its expiry', () => {
    const logins = new UnknownUserLogins(10);
    logins.remember('a', 'state-a', later(300), now);
    logins.remember('b', 'state-b', later(300), now);
    expect(logins.take('a', later(299))).toBe('state-a');
    expect(logins.take('a', later(299))).toBeUndefined();
    expect(logins.take('b', later(300))).toBeUndefined();
    expect(logins.size).toBe(0);
  });

  it('stays within its bound, forgetting the expired first, then the oldest', () => {
    const logins = new UnknownUserLogins(3);
    logins.remember('old', 's', later(10), now);
    logins.remember('a', 's', later(300), now);
    logins.remember('b', 's', later(300), now);
    logins.remember('c', 's', later(320), later(20));
    expect(logins.size).toBe(3);
    expect(logins.take('old', later(20))).toBeUndefined();
    logins.remember('d', 's', later(330), later(30));
    logins.remember('e', 's', later(330), later(30));
    expect(logins.size).toBe(3);
    expect(logins.take('a', later(30))).toBeUndefined();
    expect(logins.take('e', later(30))).toBe('s');
  });
});
