import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { generateEncryptionKeyPair } from '../keys/generate.ts';
import {
  answerKeyLabel,
  answerKeyOf,
  decryptAnswer,
  encryptAnswer,
  encryptToWithAnswerKey,
} from './answer-key.ts';
import { decryptWith } from './decrypt.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** The protected header of a compact JWE, decoded. */
function headerOf(jwe: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('the answer key of a request encrypted with ECDH-ES (as Oblivious HTTP derives its response key)', () => {
  it('is the same at both ends, and the recipient opens the request as any JWE to its key', async () => {
    const fsp = await generateEncryptionKeyPair();
    const { jwe, answerKey } = await encryptToWithAnswerKey('{"consent":"…"}', fsp.publicJwk);
    expect(text(await decryptWith(jwe, [fsp.privateJwk]))).toBe('{"consent":"…"}');
    expect(answerKey).toHaveLength(32);
    expect(await answerKeyOf(jwe, fsp.privateJwk)).toEqual(answerKey);
    const answer = await encryptAnswer('{"receipt":"…"}', answerKey);
    expect(headerOf(answer)).toEqual({ alg: 'dir', enc: 'A256GCM' });
    expect(text(await decryptAnswer(answer, answerKey))).toBe('{"receipt":"…"}');
  });

  it('is HKDF-SHA-256 over the ECDH of the header’s ephemeral key, computed here with node:crypto alone', async () => {
    const fsp = await generateEncryptionKeyPair();
    const { jwe, answerKey } = await encryptToWithAnswerKey('x', fsp.publicJwk);
    const { epk } = headerOf(jwe) as { epk: Record<string, string> };
    const shared = diffieHellman({
      privateKey: createPrivateKey({
        key: { ...fsp.privateJwk, alg: undefined, use: undefined, kid: undefined },
        format: 'jwk',
      }),
      publicKey: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: epk.x!, y: epk.y! }, format: 'jwk' }),
    });
    const expected = hkdfSync(
      'sha256',
      shared,
      Buffer.alloc(0),
      Buffer.from(answerKeyLabel + jwe.split('.')[0], 'utf8'),
      32,
    );
    expect(Buffer.from(answerKey).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });

  it('differs for every request: an answer to one is not opened with another’s key', async () => {
    const fsp = await generateEncryptionKeyPair();
    const first = await encryptToWithAnswerKey('same text', fsp.publicJwk);
    const second = await encryptToWithAnswerKey('same text', fsp.publicJwk);
    expect(first.answerKey).not.toEqual(second.answerKey);
    const answer = await encryptAnswer('receipt', first.answerKey);
    expect(await rejectedCodeOf(decryptAnswer(answer, second.answerKey))).toBe('CRYPTO_DECRYPTION_FAILED');
    // Nor as a JWE to the recipient's long-term key: `dir` is refused where key agreement is expected.
    expect(await rejectedCodeOf(decryptWith(answer, [fsp.privateJwk]))).toBe('CRYPTO_ALGORITHM_REJECTED');
  });

  it('is refused for a request addressed to another key, or one whose header was changed', async () => {
    const fsp = await generateEncryptionKeyPair();
    const other = await generateEncryptionKeyPair();
    const { jwe, answerKey } = await encryptToWithAnswerKey('x', fsp.publicJwk);
    expect(await rejectedCodeOf(answerKeyOf(jwe, other.privateJwk))).toBe('CRYPTO_DECRYPTION_FAILED');
    // Another ephemeral point (a valid one, of another request) in the same header: another key, never this one.
    const foreign = headerOf((await encryptToWithAnswerKey('y', fsp.publicJwk)).jwe).epk;
    const swapped = `${Buffer.from(JSON.stringify({ ...headerOf(jwe), epk: foreign })).toString('base64url')}.${jwe.split('.').slice(1).join('.')}`;
    expect(await answerKeyOf(swapped, fsp.privateJwk)).not.toEqual(answerKey);
    // A point not on the curve.
    const offCurve = { ...(foreign as Record<string, string>), y: Buffer.alloc(32, 1).toString('base64url') };
    const broken = `${Buffer.from(JSON.stringify({ ...headerOf(jwe), epk: offCurve })).toString('base64url')}.${jwe.split('.').slice(1).join('.')}`;
    expect(await rejectedCodeOf(answerKeyOf(broken, fsp.privateJwk))).toBe('CRYPTO_DECRYPTION_FAILED');
    expect(await rejectedCodeOf(answerKeyOf('not.a.jwe', fsp.privateJwk))).toBe('CRYPTO_DECRYPTION_FAILED');
  });

  it('saves the ephemeral key’s characters: the answer is shorter than the same text encrypted to a key', async () => {
    const device = await generateEncryptionKeyPair();
    const fsp = await generateEncryptionKeyPair();
    const { answerKey } = await encryptToWithAnswerKey('x', fsp.publicJwk);
    const { encryptTo } = await import('./encrypt.ts');
    const receipt = 'r'.repeat(800);
    const toKey = await encryptTo(receipt, device.publicJwk);
    const answer = await encryptAnswer(receipt, answerKey);
    expect(toKey.length - answer.length).toBeGreaterThan(200);
  });
});
