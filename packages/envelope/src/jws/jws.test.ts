import { canonicalBytes } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url, encodeUtf8 } from '../encoding.ts';
import { type GeneratedKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { importPrivateKey, importPublicKey } from '../keys/import.ts';
import {
  base64urlJson,
  clockAt,
  expectMpayError,
  resolverFor,
  T0_SECONDS,
  withSegment,
} from '../test-support/fixtures.ts';
import { signPayload } from './sign.ts';
import { decodeUnverified, verifyPayload } from './verify.ts';

const claims = {
  issuer: 'merkur.trade@merchant.xbank',
  audience: 'gateway',
  transactionId: 'txn-1',
  expiresInSeconds: 120,
  now: clockAt(T0_SECONDS),
};
const expectations = { audience: 'gateway', issuer: claims.issuer, transactionId: 'txn-1' };
const options = { now: clockAt(T0_SECONDS + 10) };
const payment = { amount: '1250', currency: 'EUR', payee: 'merkur.trade@merchant.xbank' };

let es256: GeneratedKeyPair;
let ed25519: GeneratedKeyPair;
let token: string;

/** A compact JWS over `payload` with an arbitrary header, signed by hand with WebCrypto (no jose checks). */
async function signRaw(header: Record<string, unknown>, payload: Uint8Array, key = es256): Promise<string> {
  const privateKey = await importPrivateKey(key.privateJwk);
  const signingInput = `${base64urlJson({ alg: 'ES256', ...header })}.${encodeBase64url(payload)}`;
  const parameters = { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await crypto.subtle.sign(parameters, privateKey.cryptoKey, encodeUtf8(signingInput));
  return `${signingInput}.${encodeBase64url(new Uint8Array(signature))}`;
}

beforeAll(async () => {
  es256 = await generateSigningKeyPair();
  ed25519 = await generateSigningKeyPair('EdDSA');
  token = await signPayload(payment, claims, es256.privateJwk);
});

describe('signPayload / verifyPayload', () => {
  it.each(['ES256', 'EdDSA'] as const)('round-trips with %s', async (alg) => {
    const keyPair = alg === 'ES256' ? es256 : ed25519;
    const jws = await signPayload(payment, claims, keyPair.privateJwk);
    const verified = await verifyPayload(jws, resolverFor(keyPair.publicJwk), expectations, options);
    expect(verified.header).toEqual({ alg, kid: keyPair.kid, typ: 'mpay+jws' });
    expect(verified.kid).toBe(keyPair.kid);
    expect(verified.payload).toMatchObject(payment);
    expect(verified.claims).toMatchObject({ iss: claims.issuer, aud: 'gateway', txn: 'txn-1' });
    expect(verified.claims.exp - verified.claims.iat).toBe(120);
  });

  it('signs exactly the canonical bytes of payload plus claims', async () => {
    const [, payloadSegment] = token.split('.');
    const bytes = decodeBase64url(payloadSegment!)!;
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    expect(bytes).toEqual(canonicalBytes(parsed));
    expect(Object.keys(parsed).sort()).toEqual([
      'amount',
      'aud',
      'currency',
      'exp',
      'iat',
      'iss',
      'nonce',
      'payee',
      'txn',
    ]);
    expect(parsed.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('uses a fresh nonce per signature', async () => {
    const again = await signPayload(payment, claims, es256.privateJwk);
    expect(decodeUnverified(again)?.payload).not.toEqual(decodeUnverified(token)?.payload);
  });

  it('refuses a payload that already uses a claim name', async () => {
    for (const name of ['iss', 'aud', 'txn', 'iat', 'exp', 'nonce']) {
      await expectMpayError(
        signPayload({ ...payment, [name]: 'x' }, claims, es256.privateJwk),
        'CLAIMS_INVALID',
      );
    }
  });

  it('signs with an imported non-extractable CryptoKey and verifies with a CryptoKey', async () => {
    const signingKey = await importPrivateKey(es256.privateJwk);
    if (signingKey.use !== 'sig') throw new Error('expected a signing key');
    const jws = await signPayload(payment, claims, signingKey);
    const { cryptoKey } = await importPublicKey(es256.publicJwk);
    await expect(verifyPayload(jws, () => cryptoKey, expectations, options)).resolves.toBeDefined();
  });

  it('separates message types: a token with another typ is not a message', async () => {
    const other = await signPayload(payment, claims, es256.privateJwk, { typ: 'mpay-other+jws' });
    await expectMpayError(
      verifyPayload(other, resolverFor(es256.publicJwk), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    await expect(
      verifyPayload(other, resolverFor(es256.publicJwk), expectations, { ...options, typ: 'mpay-other+jws' }),
    ).resolves.toBeDefined();
  });

  it('runs the claim checks after the signature', async () => {
    const resolve = resolverFor(es256.publicJwk);
    await expectMpayError(verifyPayload(token, resolve, { audience: 'xbank' }, options), 'CLAIMS_INVALID');
    await expectMpayError(
      verifyPayload(token, resolve, { ...expectations, issuer: 'x' }, options),
      'CLAIMS_INVALID',
    );
    await expectMpayError(
      verifyPayload(token, resolve, { ...expectations, transactionId: 'txn-2' }, options),
      'CLAIMS_INVALID',
    );
    await expectMpayError(
      verifyPayload(token, resolve, expectations, { now: clockAt(T0_SECONDS + 500) }),
      'MESSAGE_EXPIRED',
    );
    await expectMpayError(
      verifyPayload(token, resolve, expectations, { now: clockAt(T0_SECONDS - 100) }),
      'CLAIMS_INVALID',
    );
  });
});

describe('verifyPayload rejects', () => {
  const resolve = () => resolverFor(es256.publicJwk);
  const verify = (jws: unknown) => verifyPayload(jws, resolve(), expectations, options);

  it('a tampered payload byte, signature bit or header', async () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const payloadBytes = decodeBase64url(payload)!;
    payloadBytes[5]! ^= 1;
    await expectMpayError(
      verify(withSegment(token, 1, encodeBase64url(payloadBytes))),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const signatureBytes = decodeBase64url(signature)!;
    signatureBytes[63]! ^= 0x80;
    await expectMpayError(
      verify(withSegment(token, 2, encodeBase64url(signatureBytes))),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const otherKid = base64urlJson({ alg: 'ES256', kid: ed25519.kid, typ: 'mpay+jws' });
    await expectMpayError(verify(`${otherKid}.${payload}.${signature}`), 'CRYPTO_VERIFICATION_FAILED');
    expect(header).toBe(base64urlJson({ alg: 'ES256', kid: es256.kid, typ: 'mpay+jws' }));
  });

  it('alg none, with or without a signature', async () => {
    const [, payload] = token.split('.');
    const none = base64urlJson({ alg: 'none', kid: es256.kid, typ: 'mpay+jws' });
    await expectMpayError(verify(`${none}.${payload}.`), 'CRYPTO_ALGORITHM_REJECTED');
    await expectMpayError(verify(`${none}.${payload}.AAAA`), 'CRYPTO_ALGORITHM_REJECTED');
  });

  it('HS256 keyed with the public key bytes (algorithm confusion)', async () => {
    const [, payload] = token.split('.');
    const header = base64urlJson({ alg: 'HS256', kid: es256.kid, typ: 'mpay+jws' });
    const signingInput = encodeUtf8(`${header}.${payload}`);
    for (const secret of [JSON.stringify(es256.publicJwk), es256.publicJwk.x]) {
      const hmacKey = await crypto.subtle.importKey(
        'raw',
        encodeUtf8(secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      );
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, signingInput));
      await expectMpayError(
        verify(`${header}.${payload}.${encodeBase64url(mac)}`),
        'CRYPTO_ALGORITHM_REJECTED',
      );
    }
  });

  it('a key embedded in the header, crit, b64:false, zip, jku, x5u', async () => {
    const attacker = await generateSigningKeyPair();
    const payload = decodeBase64url(token.split('.')[1]!)!;
    const forbidden: Record<string, unknown>[] = [
      { jwk: attacker.publicJwk },
      { crit: ['exp'], exp: 1 },
      { b64: false, crit: ['b64'] },
      { zip: 'DEF' },
      { jku: 'https://attacker.example/jwks' },
      { x5u: 'https://attacker.example/cert' },
    ];
    for (const extra of forbidden) {
      const jws = await signRaw({ ...extra, kid: es256.kid, typ: 'mpay+jws' }, payload, es256);
      await expectMpayError(verify(jws), 'CRYPTO_ALGORITHM_REJECTED');
    }
  });

  it('a header that is not canonical JSON (duplicate names, whitespace, order)', async () => {
    const [, payload, signature] = token.split('.');
    const spellings = [
      `{"alg":"ES256","kid":"${es256.kid}","typ":"mpay+jws","alg":"ES256"}`,
      `{"alg":"ES256", "kid":"${es256.kid}","typ":"mpay+jws"}`,
      `{"kid":"${es256.kid}","alg":"ES256","typ":"mpay+jws"}`,
    ];
    for (const spelling of spellings) {
      await expectMpayError(
        verify(`${encodeBase64url(encodeUtf8(spelling))}.${payload}.${signature}`),
        'CRYPTO_VERIFICATION_FAILED',
      );
    }
  });

  it('a validly signed payload that is not canonical', async () => {
    const parsed = decodeUnverified(token)?.payload as Record<string, unknown>;
    const header = { kid: es256.kid, typ: 'mpay+jws' };
    const reordered = encodeUtf8(JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse())));
    await expectMpayError(verify(await signRaw(header, reordered)), 'CRYPTO_VERIFICATION_FAILED');
    const spaced = encodeUtf8(JSON.stringify(parsed, null, 1));
    await expectMpayError(verify(await signRaw(header, spaced)), 'CRYPTO_VERIFICATION_FAILED');
    await expectMpayError(verify(await signRaw(header, encodeUtf8('"text"'))), 'CRYPTO_VERIFICATION_FAILED');
    await expect(verify(await signRaw(header, canonicalBytes(parsed)))).resolves.toBeDefined();
  });

  it('a missing kid, an unknown kid, and a key bound to another algorithm', async () => {
    const payload = decodeBase64url(token.split('.')[1]!)!;
    await expectMpayError(verify(await signRaw({ typ: 'mpay+jws' }, payload)), 'CRYPTO_VERIFICATION_FAILED');
    await expectMpayError(
      verifyPayload(token, resolverFor(), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const ed25519UnderEs256Kid = { ...ed25519.publicJwk, kid: es256.kid };
    await expectMpayError(
      verifyPayload(token, resolverFor(ed25519UnderEs256Kid), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
    const other = await generateSigningKeyPair();
    await expectMpayError(
      verifyPayload(token, () => ({ ...other.publicJwk }), expectations, options),
      'CRYPTO_VERIFICATION_FAILED',
    );
  });

  it('lets an MpayError from the resolver through and hides any other error', async () => {
    const unknown = () => Promise.reject(new (class extends Error {})('db down'));
    await expectMpayError(verifyPayload(token, unknown, expectations, options), 'CRYPTO_VERIFICATION_FAILED');
    const { MpayError } = await import('@mpay/protocol');
    const keyUnknown = () => Promise.reject(new MpayError('KEY_UNKNOWN'));
    await expectMpayError(verifyPayload(token, keyUnknown, expectations, options), 'KEY_UNKNOWN');
  });

  it('tokens over the length limit, malformed tokens and non-strings', async () => {
    await expectMpayError(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: token.length - 1 }),
      'CRYPTO_VERIFICATION_FAILED',
    );
    await expect(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: token.length }),
    ).resolves.toBeDefined();
    for (const malformed of [
      '',
      '..',
      `${token}.`,
      token.replace('.', ''),
      `${token}=`,
      ` ${token}`,
      42,
      null,
    ]) {
      await expectMpayError(verify(malformed), 'CRYPTO_VERIFICATION_FAILED');
    }
    await expect(
      verifyPayload(token, resolve(), expectations, { ...options, compactLengthMax: 0 }),
    ).rejects.toThrow(RangeError);
  });
});
