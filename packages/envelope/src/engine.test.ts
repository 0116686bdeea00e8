import { isMpayError } from '@mpay/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CryptoEngine,
  cryptoEngine,
  nodeCryptoEngine,
  nodeCryptoModule,
  selectCryptoEngine,
  webCryptoEngine,
} from './engine.ts';
import { hexToBytes } from './test-support/wycheproof.ts';

const nodeModule = nodeCryptoModule();
if (nodeModule === undefined) throw new Error('these tests run on Node ≥ 20.16, which has node:crypto');
const nodeEngine = nodeCryptoEngine(nodeModule);
const engines: readonly CryptoEngine[] = [webCryptoEngine, nodeEngine];
const subtle = globalThis.crypto.subtle;
const data = new TextEncoder().encode('eyJhbGciOiJFUzI1NiJ9.eyJhbW91bnQiOjF9');

async function ecdsaPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

async function ed25519Pair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
}

async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('crypto engines', () => {
  afterEach(() => selectCryptoEngine('node:crypto'));

  it('on Node, node:crypto is the engine unless a process chooses WebCrypto', () => {
    expect(cryptoEngine().name).toBe('node:crypto');
    selectCryptoEngine('webcrypto');
    expect(cryptoEngine()).toBe(webCryptoEngine);
    selectCryptoEngine('node:crypto');
    expect(cryptoEngine().name).toBe('node:crypto');
  });

  it('each engine verifies what the other signed, ES256 and EdDSA, and refuses a changed byte', async () => {
    const pairs = { ES256: await ecdsaPair(), EdDSA: await ed25519Pair() } as const;
    for (const [alg, pair] of Object.entries(pairs) as ['ES256' | 'EdDSA', CryptoKeyPair][]) {
      for (const signer of engines) {
        const signature = await signer.sign(alg, pair.privateKey, data);
        expect(signature.length).toBe(64);
        for (const verifier of engines) {
          expect(await verifier.verify(alg, pair.publicKey, signature, data)).toBe(true);
          const changed = data.slice();
          changed[3] = changed[3]! ^ 1;
          expect(await verifier.verify(alg, pair.publicKey, signature, changed)).toBe(false);
        }
      }
    }
  });

  it('a key that does not fit the algorithm signs nothing and verifies nothing', async () => {
    const ecdsa = await ecdsaPair();
    const ed25519 = await ed25519Pair();
    const verifyOnly = await subtle.importKey(
      'jwk',
      await subtle.exportKey(
        'jwk',
        (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']))
          .publicKey,
      ),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      [],
    );
    for (const engine of engines) {
      const signature = await engine.sign('ES256', ecdsa.privateKey, data);
      // A public key cannot sign; an Ed25519 key is not an ES256 key.
      for (const [alg, key] of [
        ['ES256', ecdsa.publicKey],
        ['ES256', ed25519.privateKey],
        ['EdDSA', ecdsa.privateKey],
      ] as const) {
        expect(isMpayError(await rejection(() => engine.sign(alg, key, data)), 'CRYPTO_KEY_INVALID')).toBe(
          true,
        );
      }
      expect(await engine.verify('EdDSA', ecdsa.publicKey, signature, data)).toBe(false);
      expect(await engine.verify('ES256', ecdsa.privateKey, signature, data)).toBe(false);
      // A key imported without the verify usage.
      expect(await engine.verify('ES256', verifyOnly, signature, data)).toBe(false);
    }
  });

  it('a signature of any other length than 64 bytes is false, never an exception', async () => {
    const pair = await ecdsaPair();
    for (const engine of engines) {
      const signature = await engine.sign('ES256', pair.privateKey, data);
      for (const wrong of [signature.subarray(0, 63), new Uint8Array([...signature, 0]), new Uint8Array(0)]) {
        expect(await engine.verify('ES256', pair.publicKey, wrong, data)).toBe(false);
      }
      expect(await engine.verify('ES256', pair.publicKey, new Uint8Array(64), data)).toBe(false);
    }
  });

  it('SHA-256: the FIPS 180-2 vectors, through both engines, into buffers of their own', async () => {
    const vectors = [
      ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [
        'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      ],
    ] as const;
    for (const engine of engines) {
      for (const [text, hex] of vectors) {
        const digest = await engine.sha256(new TextEncoder().encode(text));
        expect(digest).toEqual(hexToBytes(hex));
        expect(digest.byteOffset).toBe(0);
        expect(digest.buffer.byteLength).toBe(32);
      }
    }
  });
});
