import { isMpayError } from '@mpay/protocol';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url } from '../encoding.ts';
import { cryptoEngine, selectCryptoEngine } from '../engine.ts';
import { generateEncryptionKeyPair } from '../keys/generate.ts';
import { importPrivateKey, importPublicKey } from '../keys/import.ts';
import { answerKeyOf, encryptToWithAnswerKey } from './answer-key.ts';
import { decryptCompact, decryptDirect } from './decrypt.ts';
import { encryptDirect, encryptTo } from './encrypt.ts';

const text = 'the customer signs this exact debit';
const decoder = new TextDecoder();

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A compact JWE with one segment changed by `change`. */
function withSegment(jwe: string, index: number, change: (bytes: Uint8Array) => Uint8Array): string {
  const segments = jwe.split('.');
  segments[index] = encodeBase64url(change(decodeBase64url(segments[index]!)!));
  return segments.join('.');
}

describe('JWE ECDH-ES and dir computed by the envelope under node:crypto (./compact.ts)', () => {
  afterEach(() => selectCryptoEngine('node:crypto'));

  it('its tokens are jose’s: each reads what the other sealed, ECDH-ES and dir', async () => {
    expect(cryptoEngine().jwe).toBeDefined();
    const pair = await generateEncryptionKeyPair();
    const publicKey = (await importPublicKey(pair.publicJwk)).cryptoKey;
    const privateKey = (await importPrivateKey(pair.privateJwk)).cryptoKey;
    // Ours, read by jose.
    const ours = await encryptTo(text, pair.publicJwk, { contentType: 'mpay+jws' });
    const opened = await compactDecrypt(ours, privateKey, { keyManagementAlgorithms: ['ECDH-ES'] });
    expect(decoder.decode(opened.plaintext)).toBe(text);
    expect(opened.protectedHeader.cty).toBe('mpay+jws');
    // jose's, read by ours.
    const josesToken = await new CompactEncrypt(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
      .encrypt(publicKey);
    expect(decoder.decode(await decryptCompact(josesToken, pair.privateJwk))).toBe(text);
    // dir both ways.
    const key = crypto.getRandomValues(new Uint8Array(32));
    const direct = await encryptDirect(text, key, { kid: 's1' });
    expect(decoder.decode((await compactDecrypt(direct, key)).plaintext)).toBe(text);
    const josesDirect = await new CompactEncrypt(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 's1' })
      .encrypt(key);
    expect(decoder.decode(await decryptDirect(josesDirect, key, { kid: 's1' }))).toBe(text);
  });

  it('the answer key is the same whichever engine made the request and whichever derives it', async () => {
    const pair = await generateEncryptionKeyPair();
    for (const [sender, recipient] of [
      ['webcrypto', 'node:crypto'],
      ['node:crypto', 'webcrypto'],
      ['node:crypto', 'node:crypto'],
    ] as const) {
      selectCryptoEngine(sender);
      const request = await encryptToWithAnswerKey(text, pair.publicJwk);
      selectCryptoEngine(recipient);
      expect(await answerKeyOf(request.jwe, pair.privateJwk)).toEqual(request.answerKey);
      expect(decoder.decode(await decryptCompact(request.jwe, pair.privateJwk))).toBe(text);
    }
  });

  it('a changed header, IV, ciphertext or tag, an encrypted key where none belongs, or a point off the curve: CRYPTO_DECRYPTION_FAILED', async () => {
    const pair = await generateEncryptionKeyPair();
    const jwe = await encryptTo(text, pair.publicJwk);
    const header = JSON.parse(decoder.decode(decodeBase64url(jwe.split('.')[0]!)!)) as {
      epk: { x: string; y: string };
    };
    const offCurve = { ...header, epk: { ...header.epk, y: header.epk.x } };
    const flip = (bytes: Uint8Array) => {
      const changed = bytes.slice();
      changed[0] = changed[0]! ^ 1;
      return changed;
    };
    const tampered = [
      withSegment(jwe, 2, flip),
      withSegment(jwe, 3, flip),
      withSegment(jwe, 4, flip),
      withSegment(jwe, 1, () => new Uint8Array(40)),
      withSegment(jwe, 2, () => new Uint8Array(16)),
      withSegment(jwe, 4, (tag) => tag.subarray(0, 12)),
      withSegment(jwe, 0, () => new TextEncoder().encode(JSON.stringify(offCurve))),
      // The header is the AAD: the same members in another order fail the tag.
      withSegment(jwe, 0, () => new TextEncoder().encode(JSON.stringify({ enc: 'A256GCM', ...header }))),
    ];
    for (const token of tampered) {
      const error = await failure(() => decryptCompact(token, pair.privateJwk));
      expect(isMpayError(error, 'CRYPTO_DECRYPTION_FAILED'), token).toBe(true);
    }
    expect(decoder.decode(await decryptCompact(jwe, pair.privateJwk))).toBe(text);
  });

  it('dir under another key, or a key of another length, fails', async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const jwe = await encryptDirect(text, key);
    const other = crypto.getRandomValues(new Uint8Array(32));
    expect(isMpayError(await failure(() => decryptDirect(jwe, other)), 'CRYPTO_DECRYPTION_FAILED')).toBe(
      true,
    );
    expect(
      isMpayError(await failure(() => decryptDirect(jwe, key.subarray(0, 16))), 'CRYPTO_KEY_INVALID'),
    ).toBe(true);
  });
});
