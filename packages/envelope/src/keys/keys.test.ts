import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { expectMpayError } from '../test-support/fixtures.ts';
import { generateEncryptionKeyPair, generateSigningKeyPair } from './generate.ts';
import { importPrivateKey, importPublicKey, jwkThumbprint } from './import.ts';
import { keyResolverFromJwkSet, publicJwkSet } from './key-set.ts';

async function exported(alg: string, options: { crv?: string; modulusLength?: number } = {}) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
  return { publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

/**
 * `text` with its last two characters changed, whatever they were: a y that ended in "AA" already
 * (one key in 1,024) once made a test here fail on CI, the "changed" key being its own valid self.
 */
function changedTail(text: string): string {
  return `${text.slice(0, -2)}${text.endsWith('AA') ? 'AE' : 'AA'}`;
}

describe('generate', () => {
  it.each([
    ['ES256', 'EC', 'P-256'],
    ['EdDSA', 'OKP', 'Ed25519'],
  ] as const)('%s signing key pairs carry kid (RFC 7638 thumbprint), alg and use', async (alg, kty, crv) => {
    const pair = await generateSigningKeyPair(alg);
    expect(pair.publicJwk).toMatchObject({ kty, crv, alg, use: 'sig', kid: pair.kid });
    expect(pair.privateJwk).toMatchObject({ kty, crv, alg, use: 'sig', kid: pair.kid });
    expect(pair.publicJwk).not.toHaveProperty('d');
    expect(pair.kid).toBe(await calculateJwkThumbprint({ ...pair.publicJwk }, 'sha256'));
    expect(Object.isFrozen(pair.privateJwk)).toBe(true);
  });

  it('defaults to ES256, and encryption keys are P-256 for ECDH-ES', async () => {
    expect((await generateSigningKeyPair()).publicJwk.alg).toBe('ES256');
    const pair = await generateEncryptionKeyPair();
    expect(pair.publicJwk).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      alg: 'ECDH-ES',
      use: 'enc',
      kid: pair.kid,
    });
    expect((await generateEncryptionKeyPair('ECDH-ES+A256KW')).publicJwk.alg).toBe('ECDH-ES+A256KW');
  });
});

describe('importPublicKey / importPrivateKey', () => {
  it('imports what it generates, with the thumbprint as kid when the JWK has none', async () => {
    const pair = await generateSigningKeyPair();
    const { kid: _kid, ...withoutKid } = pair.publicJwk;
    expect((await importPublicKey(withoutKid)).kid).toBe(pair.kid);
    const imported = await importPrivateKey(pair.privateJwk);
    expect(imported.cryptoKey.extractable).toBe(false);
    expect(imported).toMatchObject({ use: 'sig', alg: 'ES256', kid: pair.kid });
  });

  it('rejects RSA at every size, HMAC and AES keys, and curves outside the allow-list', async () => {
    const rsa = await exported('RS256', { modulusLength: 2048 });
    const refused = [
      { ...rsa.publicJwk, alg: 'RS256' },
      { kty: 'RSA', n: `w${'A'.repeat(682)}`, e: 'AQAB', alg: 'PS256' },
      { kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' },
      { ...(await exported('ES384')).publicJwk, alg: 'ES384' },
      { ...(await exported('ES384')).publicJwk, alg: 'ES256' },
      { ...(await exported('ES512')).publicJwk, alg: 'ES256' },
      { ...(await exported('ECDH-ES', { crv: 'X25519' })).publicJwk, alg: 'ECDH-ES' },
      { kty: 'EC', crv: 'secp256k1', x: 'A'.repeat(43), y: 'A'.repeat(43), alg: 'ES256K' },
      { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43), alg: 'ECDH-ES+A128KW' },
      { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43), alg: 'none' },
    ];
    for (const jwk of refused) await expectMpayError(importPublicKey(jwk), 'CRYPTO_ALGORITHM_REJECTED');
  });

  it('rejects malformed keys: no alg, private members in a public key, invalid points, wrong use', async () => {
    const { publicJwk, privateJwk } = await generateSigningKeyPair();
    await expectMpayError(importPublicKey({ ...publicJwk, alg: undefined }), 'CRYPTO_ALGORITHM_REJECTED');
    const invalid = [
      privateJwk,
      { ...publicJwk, p: 'AQAB' },
      { ...publicJwk, y: changedTail(publicJwk.y!) },
      { ...publicJwk, x: publicJwk.x.slice(1) },
      { ...publicJwk, x: `${publicJwk.x}=` },
      { ...publicJwk, use: 'enc' },
      { ...publicJwk, key_ops: ['encrypt'] },
      { ...publicJwk, kid: '' },
      'not a key',
      null,
    ];
    for (const jwk of invalid) await expectMpayError(importPublicKey(jwk), 'CRYPTO_KEY_INVALID');
    await expectMpayError(importPrivateKey(publicJwk), 'CRYPTO_KEY_INVALID');
    await expectMpayError(
      importPrivateKey({ ...privateJwk, d: privateJwk.d.slice(2) }),
      'CRYPTO_KEY_INVALID',
    );
  });

  it('rejects the all-zero P-256 point', async () => {
    const zero = 'A'.repeat(43);
    await expectMpayError(
      importPublicKey({ kty: 'EC', crv: 'P-256', x: zero, y: zero, alg: 'ES256' }),
      'CRYPTO_KEY_INVALID',
    );
  });
});

describe('imported public keys', () => {
  it('are imported once and shared; another kid or another point is another key', async () => {
    const { publicJwk } = await generateSigningKeyPair();
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    try {
      const first = await importPublicKey(publicJwk);
      const again = await importPublicKey({ ...publicJwk });
      expect(again.cryptoKey).toBe(first.cryptoKey);
      expect(importKey).toHaveBeenCalledTimes(1);
      const renamed = await importPublicKey({ ...publicJwk, kid: 'another' });
      expect(renamed.kid).toBe('another');
      expect(renamed.cryptoKey).not.toBe(first.cryptoKey);
      const other = (await generateSigningKeyPair()).publicJwk;
      expect((await importPublicKey(other)).cryptoKey).not.toBe(first.cryptoKey);
      expect(importKey).toHaveBeenCalledTimes(3);
    } finally {
      importKey.mockRestore();
    }
  });

  it('are not remembered when they fail to import: a point off the curve fails every time', async () => {
    const { publicJwk } = await generateSigningKeyPair();
    const offCurve = { ...publicJwk, y: changedTail(publicJwk.y!) };
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    try {
      await expectMpayError(importPublicKey(offCurve), 'CRYPTO_KEY_INVALID');
      await expectMpayError(importPublicKey(offCurve), 'CRYPTO_KEY_INVALID');
      expect(importKey).toHaveBeenCalledTimes(2);
    } finally {
      importKey.mockRestore();
    }
  });
});

describe('imported private keys', () => {
  it('are imported once per JWK object, and again when the object holds other members', async () => {
    const pair = await generateSigningKeyPair();
    const other = await generateSigningKeyPair();
    const holder: Record<string, unknown> = { ...pair.privateJwk };
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    try {
      const first = await importPrivateKey(holder);
      expect((await importPrivateKey(holder)).cryptoKey).toBe(first.cryptoKey);
      expect(importKey).toHaveBeenCalledTimes(1);
      // Another object with the same members is imported afresh: nothing is kept by the key's value.
      expect((await importPrivateKey({ ...pair.privateJwk })).cryptoKey).not.toBe(first.cryptoKey);
      expect(importKey).toHaveBeenCalledTimes(2);
      // The same object, now holding another key: that key, not the one imported before.
      Object.assign(holder, other.privateJwk);
      const changed = await importPrivateKey(holder);
      expect(changed.kid).toBe(other.kid);
      const message = new TextEncoder().encode('which key signed this');
      const signature = await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        changed.cryptoKey,
        message,
      );
      const otherPublic = await importPublicKey(other.publicJwk);
      const firstPublic = await importPublicKey(pair.publicJwk);
      const ecdsa = { name: 'ECDSA', hash: 'SHA-256' };
      expect(await crypto.subtle.verify(ecdsa, otherPublic.cryptoKey, signature, message)).toBe(true);
      expect(await crypto.subtle.verify(ecdsa, firstPublic.cryptoKey, signature, message)).toBe(false);
    } finally {
      importKey.mockRestore();
    }
  });
});

describe('jwkThumbprint', () => {
  // The P-256 key of RFC 7517 appendix A.1 (RFC 7638's own example is an RSA key, which mpay
  // refuses), checked against jose's RFC 7638 implementation, before and after it is remembered.
  it('gives the RFC 7638 thumbprint, the same when asked again', async () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      x: 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4',
      y: '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM',
      alg: 'ES256',
      use: 'sig',
    } as const;
    const expected = await calculateJwkThumbprint(
      { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
      'sha256',
    );
    expect(await jwkThumbprint(jwk)).toBe(expected);
    expect(await jwkThumbprint(jwk)).toBe(expected);
    const moved = { ...jwk, x: 'NKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4' };
    expect(await jwkThumbprint(moved)).not.toBe(expected);
    expect(await jwkThumbprint(moved)).toBe(
      await calculateJwkThumbprint({ kty: moved.kty, crv: moved.crv, x: moved.x, y: moved.y }, 'sha256'),
    );
  });
});

describe('JWK sets', () => {
  it('publishes public keys with distinct kids and resolves by kid', async () => {
    const a = await generateSigningKeyPair();
    const b = await generateEncryptionKeyPair();
    const set = publicJwkSet([a.publicJwk, b.publicJwk]);
    expect(set.keys.map((key) => key.kid)).toEqual([a.kid, b.kid]);
    const resolve = keyResolverFromJwkSet(JSON.parse(JSON.stringify(set)));
    expect(await resolve(a.kid)).toEqual(a.publicJwk);
    expect(await resolve('unknown')).toBeUndefined();
  });

  it('refuses a set with a private key, a duplicate kid, a key without kid or a foreign key type', async () => {
    const a = await generateSigningKeyPair();
    const { kid: _kid, ...withoutKid } = a.publicJwk;
    expect(() => publicJwkSet([a.privateJwk])).toThrow();
    expect(() => publicJwkSet([a.publicJwk, { ...a.publicJwk }])).toThrow();
    expect(() => publicJwkSet([withoutKid])).toThrow();
    expect(() =>
      keyResolverFromJwkSet({ keys: [a.publicJwk, { kty: 'oct', k: 'AA', alg: 'HS256', kid: 'h' }] }),
    ).toThrow();
    expect(() => keyResolverFromJwkSet({ keys: 'nope' })).toThrow();
  });
});
