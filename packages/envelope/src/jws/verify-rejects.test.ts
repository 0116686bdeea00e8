import { canonicalBytes } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url, encodeUtf8 } from '../encoding.ts';
import type { GeneratedKeyPair } from '../keys/generate.ts';
import { generateSigningKeyPair } from '../keys/generate.ts';
import {
  base64urlJson,
  expectMpayError,
  resolverFor,
  signRawEs256,
  withSegment,
} from '../test-support/fixtures.ts';
import { expectations, options, signedMessageFixture } from '../test-support/signed-message.ts';
import { decodeUnverified, verifyPayload } from './verify.ts';

let es256: GeneratedKeyPair;
let ed25519: GeneratedKeyPair;
let token: string;

beforeAll(async () => {
  ({ es256, ed25519, token } = await signedMessageFixture());
});

/** Signs `payload` under an ES256 header {alg, ...header}, serialized by JSON.stringify. */
function signRaw(header: Record<string, unknown>, payload: Uint8Array): Promise<string> {
  return signRawEs256(JSON.stringify({ alg: 'ES256', ...header }), payload, es256.privateJwk);
}

describe('verifyPayload rejects, before or at the signature', () => {
  const verify = (jws: unknown) => verifyPayload(jws, resolverFor(es256.publicJwk), expectations, options);

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
      const jws = await signRaw({ ...extra, kid: es256.kid, typ: 'mpay+jws' }, payload);
      await expectMpayError(verify(jws), 'CRYPTO_ALGORITHM_REJECTED');
    }
  });

  it('a validly signed header that is not canonical JSON (duplicate names, whitespace, order)', async () => {
    const payload = decodeBase64url(token.split('.')[1]!)!;
    const spellings = [
      `{"alg":"ES256","kid":"${es256.kid}","typ":"mpay+jws","alg":"ES256"}`,
      `{"alg":"ES256", "kid":"${es256.kid}","typ":"mpay+jws"}`,
      `{"kid":"${es256.kid}","alg":"ES256","typ":"mpay+jws"}`,
    ];
    for (const spelling of spellings) {
      await expectMpayError(
        verify(await signRawEs256(spelling, payload, es256.privateJwk)),
        'CRYPTO_VERIFICATION_FAILED',
      );
    }
    const canonical = `{"alg":"ES256","kid":"${es256.kid}","typ":"mpay+jws"}`;
    await expect(verify(await signRawEs256(canonical, payload, es256.privateJwk))).resolves.toBeDefined();
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
});
