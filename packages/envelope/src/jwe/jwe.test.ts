import { describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url, encodeUtf8, parseJsonObject } from '../encoding.ts';
import { generateEncryptionKeyPair, generateSigningKeyPair } from '../keys/generate.ts';
import { importPrivateKey } from '../keys/import.ts';
import { base64urlJson, expectMpayError, withSegment } from '../test-support/fixtures.ts';
import { decryptCompact, decryptDirect, decryptWith } from './decrypt.ts';
import { encryptDirect, encryptTo } from './encrypt.ts';

const message = encodeUtf8('{"amount":"1250","currency":"EUR"}');

function headerOf(jwe: string): Record<string, unknown> {
  return parseJsonObject(decodeBase64url(jwe.split('.')[0]!)!)!;
}

describe('encryptTo / decryptWith (ECDH-ES, A256GCM)', () => {
  it.each(['ECDH-ES', 'ECDH-ES+A256KW'] as const)(
    'round-trips with %s and names the recipient key',
    async (alg) => {
      const recipient = await generateEncryptionKeyPair(alg);
      const other = await generateEncryptionKeyPair();
      const jwe = await encryptTo(message, recipient.publicJwk, { contentType: 'mpay+jws' });
      expect(headerOf(jwe)).toMatchObject({ alg, enc: 'A256GCM', kid: recipient.kid, cty: 'mpay+jws' });
      expect(await decryptWith(jwe, [other.privateJwk, recipient.privateJwk])).toEqual(message);
      const imported = await importPrivateKey(recipient.privateJwk);
      if (imported.use !== 'enc') throw new Error('expected an encryption key');
      expect(await decryptWith(jwe, [imported])).toEqual(message);
    },
  );

  it('encrypts strings as UTF-8 and refuses to encrypt to a signing key', async () => {
    const recipient = await generateEncryptionKeyPair();
    const jwe = await encryptTo('€', recipient.publicJwk);
    expect(await decryptWith(jwe, [recipient.privateJwk])).toEqual(encodeUtf8('€'));
    await expectMpayError(
      encryptTo(message, (await generateSigningKeyPair()).publicJwk),
      'CRYPTO_KEY_INVALID',
    );
  });

  it('fails generically for the wrong recipient, even under a copied kid', async () => {
    const recipient = await generateEncryptionKeyPair();
    const stranger = await generateEncryptionKeyPair();
    const jwe = await encryptTo(message, recipient.publicJwk);
    await expectMpayError(decryptWith(jwe, [stranger.privateJwk]), 'CRYPTO_DECRYPTION_FAILED');
    await expectMpayError(
      decryptWith(jwe, [{ ...stranger.privateJwk, kid: recipient.kid }]),
      'CRYPTO_DECRYPTION_FAILED',
    );
    await expectMpayError(decryptWith(jwe, []), 'CRYPTO_DECRYPTION_FAILED');
    await expectMpayError(decryptCompact(jwe, stranger.privateJwk), 'CRYPTO_DECRYPTION_FAILED');
  });

  it('fails for any tampered segment, a bit flip in the tag, or a JWE without kid', async () => {
    const recipient = await generateEncryptionKeyPair();
    const jwe = await encryptTo(message, recipient.publicJwk);
    const segments = jwe.split('.');
    for (const index of [2, 3, 4]) {
      const bytes = decodeBase64url(segments[index]!)!;
      bytes[0]! ^= 1;
      await expectMpayError(
        decryptWith(withSegment(jwe, index, encodeBase64url(bytes)), [recipient.privateJwk]),
        'CRYPTO_DECRYPTION_FAILED',
      );
    }
    const { kid: _kid, ...withoutKid } = headerOf(jwe);
    const unnamed = withSegment(jwe, 0, base64urlJson(withoutKid));
    await expectMpayError(decryptWith(unnamed, [recipient.privateJwk]), 'CRYPTO_DECRYPTION_FAILED');
    await expectMpayError(
      decryptWith(withSegment(jwe, 0, base64urlJson({ ...headerOf(jwe), cty: 'x' })), [recipient.privateJwk]),
      'CRYPTO_DECRYPTION_FAILED',
    );
  });

  it('rejects forbidden algorithms and header parameters before decrypting', async () => {
    const recipient = await generateEncryptionKeyPair();
    const jwe = await encryptTo(message, recipient.publicJwk);
    const header = headerOf(jwe);
    const forbidden = [
      { ...header, alg: 'RSA1_5' },
      { ...header, alg: 'ECDH-ES+A128KW' },
      { ...header, alg: 'dir' },
      { ...header, enc: 'A128GCM' },
      { ...header, enc: 'A256CBC-HS512' },
      { ...header, zip: 'DEF' },
      { ...header, crit: ['exp'] },
      { ...header, jku: 'https://attacker.example' },
      { ...header, epk: { ...(header.epk as object), crv: 'P-384' } },
    ];
    for (const bad of forbidden) {
      await expectMpayError(
        decryptWith(withSegment(jwe, 0, base64urlJson(bad)), [recipient.privateJwk]),
        'CRYPTO_ALGORITHM_REJECTED',
      );
    }
  });

  it('refuses a key bound to another algorithm, oversize and malformed input', async () => {
    const recipient = await generateEncryptionKeyPair('ECDH-ES');
    const jwe = await encryptTo(message, recipient.publicJwk);
    const rebound = { ...recipient.privateJwk, alg: 'ECDH-ES+A256KW' as const };
    await expectMpayError(decryptWith(jwe, [rebound]), 'CRYPTO_DECRYPTION_FAILED');
    await expectMpayError(
      decryptWith(jwe, [recipient.privateJwk], { compactLengthMax: jwe.length - 1 }),
      'CRYPTO_DECRYPTION_FAILED',
    );
    for (const malformed of ['', '....', `${jwe}.`, `${jwe}=`, jwe.replace('.', '.A.'), 7]) {
      await expectMpayError(decryptWith(malformed, [recipient.privateJwk]), 'CRYPTO_DECRYPTION_FAILED');
    }
  });
});

describe('encryptDirect / decryptDirect (dir, A256GCM)', () => {
  const sessionKey = crypto.getRandomValues(new Uint8Array(32));

  it('round-trips and checks the session kid', async () => {
    const jwe = await encryptDirect(message, sessionKey, { kid: 'session-1' });
    expect(headerOf(jwe)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: 'session-1' });
    expect(await decryptDirect(jwe, sessionKey, { kid: 'session-1' })).toEqual(message);
    await expectMpayError(decryptDirect(jwe, sessionKey, { kid: 'session-2' }), 'CRYPTO_DECRYPTION_FAILED');
  });

  it('fails with another key, refuses keys that are not 32 bytes, and refuses key agreement tokens', async () => {
    const jwe = await encryptDirect(message, sessionKey);
    await expectMpayError(
      decryptDirect(jwe, crypto.getRandomValues(new Uint8Array(32))),
      'CRYPTO_DECRYPTION_FAILED',
    );
    await expectMpayError(encryptDirect(message, new Uint8Array(16)), 'CRYPTO_KEY_INVALID');
    await expectMpayError(decryptDirect(jwe, new Uint8Array(31)), 'CRYPTO_KEY_INVALID');
    const recipient = await generateEncryptionKeyPair();
    await expectMpayError(
      decryptDirect(await encryptTo(message, recipient.publicJwk), sessionKey),
      'CRYPTO_ALGORITHM_REJECTED',
    );
    await expectMpayError(decryptWith(jwe, [recipient.privateJwk]), 'CRYPTO_ALGORITHM_REJECTED');
  });
});
