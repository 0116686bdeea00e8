import { describe, expect, it, vi } from 'vitest';
import { enochVerifierKey, peterSignerKey, peterVerifierKey } from './go-note-vectors.test-helper.ts';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from './note-key.ts';

async function rejected(parse: () => Promise<unknown>): Promise<boolean> {
  try {
    await parse();
    return false;
  } catch (error) {
    expect(error).toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
    return true;
  }
}

/** Every proper substring and every one-byte change of a key, as in Go's TestNewVerifier / TestNewSigner. */
function manglings(key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= key.length; i++) {
    for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) out.push(key.slice(i, j));
  }
  for (let i = 0; i < key.length; i++) {
    out.push(key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1));
  }
  return out;
}

describe('note keys (golang.org/x/mod/sumdb/note encoding)', () => {
  it('parses the Go example keys and agrees on name and key hash', async () => {
    const verifier = await parseVerifierKey(peterVerifierKey);
    const signer = await parseSignerKey(peterSignerKey);
    expect([verifier.name, verifier.keyHash]).toEqual(['PeterNeumann', 0xc74f20a3]);
    expect([signer.name, signer.keyHash]).toEqual(['PeterNeumann', 0xc74f20a3]);
    expect((await parseVerifierKey(enochVerifierKey)).keyHash).toBe(0xaf0cfe78);
    const message = new TextEncoder().encode('hi');
    const signature = await signer.sign(message);
    expect(await verifier.verify(message, signature)).toBe(true);
    signature[0]! ^= 1;
    expect(await verifier.verify(message, signature)).toBe(false);
  });

  it('parses a verifier key once: the same text gives the same verifier', async () => {
    const { verifierKey } = await generateNoteKey('once.example');
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    try {
      const first = await parseVerifierKey(verifierKey);
      expect(await parseVerifierKey(verifierKey)).toBe(first);
      expect(importKey).toHaveBeenCalledTimes(1);
    } finally {
      importKey.mockRestore();
    }
  });

  it('rejects every mangling of the verifier key', async () => {
    for (const key of manglings(peterVerifierKey))
      expect(await rejected(() => parseVerifierKey(key))).toBe(true);
  });

  it('rejects every mangling of the signer key', async () => {
    for (const key of manglings(peterSignerKey)) expect(await rejected(() => parseSignerKey(key))).toBe(true);
  });

  it('rejects a wrong-length key and an unknown algorithm even with a matching key hash (Go vectors)', async () => {
    const wrongLength = 'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==';
    const unknownAlgorithm = 'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
    expect(await rejected(() => parseVerifierKey(wrongLength))).toBe(true);
    expect(await rejected(() => parseVerifierKey(unknownAlgorithm))).toBe(true);
    expect(await rejected(() => parseVerifierKey(peterVerifierKey.replace('c74f20a3', 'C74F20A3')))).toBe(
      true,
    );
    expect(await rejected(() => parseSignerKey(peterVerifierKey))).toBe(true);
    expect(await rejected(() => parseVerifierKey(peterSignerKey))).toBe(true);
  });

  it('generates key pairs whose halves match and parse', async () => {
    const { signerKey, verifierKey } = await generateNoteKey('log.mpay.example/transactions');
    expect(signerKey).toMatch(
      /^PRIVATE\+KEY\+log\.mpay\.example\/transactions\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/,
    );
    const signer = await parseSignerKey(signerKey);
    const verifier = await parseVerifierKey(verifierKey);
    expect(signer.keyHash).toBe(verifier.keyHash);
    expect(verifierKey.split('+')[1]).toBe(signerKey.split('+')[3]);
    const message = new TextEncoder().encode('checkpoint\n');
    expect(await verifier.verify(message, await signer.sign(message))).toBe(true);
  });

  it('refuses names with spaces, plus signs, control characters, or nothing', async () => {
    for (const name of [
      '',
      'a b',
      'a+b',
      'a\u00a0b',
      'a\u2028b',
      'tab\tname',
      'bell\u0007',
      'x'.repeat(257),
    ]) {
      expect(await rejected(() => generateNoteKey(name))).toBe(true);
    }
    await expect(generateNoteKey('\u00e9l\u00e8ve/\u65e5\u672c')).resolves.toBeDefined();
  });
});
