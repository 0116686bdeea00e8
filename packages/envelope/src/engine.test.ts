import { isMpayError } from '@mpay/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CryptoEngine,
  chooseCryptoEngineBy,
  cryptoEngine,
  instrumentNodeCalls,
  nodeCryptoCalls,
  nodeCryptoEngine,
  nodeCryptoModule,
  selectCryptoEngine,
  sha256,
  uncompressedP256Point,
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

  it('the node:crypto engine’s own checks stand even under a table that would accept any signature', async () => {
    // The engine's checks come before node:crypto: with a verify that always says yes, only they can refuse.
    const yes = nodeCryptoEngine(nodeModule, { ...nodeCryptoCalls(nodeModule), verify: () => true });
    const pair = await ecdsaPair();
    const ed25519 = await ed25519Pair();
    const signature = await nodeEngine.sign('ES256', pair.privateKey, data);
    expect(await yes.verify('ES256', pair.publicKey, signature, data)).toBe(true);
    for (const wrong of [signature.subarray(0, 63), new Uint8Array([...signature, 0]), new Uint8Array(0)])
      expect(await yes.verify('ES256', pair.publicKey, wrong, data)).toBe(false);
    expect(await yes.verify('ES256', pair.privateKey, signature, data)).toBe(false);
    expect(await yes.verify('ES256', ed25519.publicKey, signature, data)).toBe(false);
    expect(await yes.verify('EdDSA', pair.publicKey, signature, data)).toBe(false);
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

describe('choosing the engine call by call, and the bench’s instrumented table', () => {
  it('chooseCryptoEngineBy names the engine of each call until it is undone', () => {
    let phone = true;
    const undo = chooseCryptoEngineBy(() => (phone ? 'webcrypto' : 'node:crypto'));
    try {
      expect(cryptoEngine()).toBe(webCryptoEngine);
      phone = false;
      expect(cryptoEngine().name).toBe('node:crypto');
    } finally {
      undo();
    }
    phone = true;
    expect(cryptoEngine().name).toBe('node:crypto');
  });

  it('instrumentNodeCalls sees every node:crypto operation until restored; the plain table is frozen', async () => {
    const seen: string[] = [];
    const restore = instrumentNodeCalls((plain) => {
      expect(Object.isFrozen(plain)).toBe(true);
      return {
        ...plain,
        sha256: (bytes) => {
          seen.push('sha256');
          return plain.sha256(bytes);
        },
      };
    });
    expect(restore).toBeDefined();
    await sha256(data);
    restore?.();
    await sha256(data);
    expect(seen).toEqual(['sha256']);
  });
});

describe('the JWE key agreement refuses a key of another kind, as jose does', () => {
  it('an ECDSA private key, or a public key, given as the decryption key: CRYPTO_DECRYPTION_FAILED', async () => {
    const { generateEncryptionKeyPair } = await import('./keys/generate.ts');
    const { encryptTo } = await import('./jwe/encrypt.ts');
    const { decryptCompact } = await import('./jwe/decrypt.ts');
    const { answerKeyOf } = await import('./jwe/answer-key.ts');
    const pair = await generateEncryptionKeyPair();
    const jwe = await encryptTo('text', pair.publicJwk);
    const ecdsa = await ecdsaPair();
    const ecdhPublic = (await (await import('./keys/import.ts')).importPublicKey(pair.publicJwk)).cryptoKey;
    for (const engine of ['webcrypto', 'node:crypto'] as const) {
      selectCryptoEngine(engine);
      for (const cryptoKey of [ecdsa.privateKey, ecdhPublic]) {
        const key = { cryptoKey, kid: pair.publicJwk.kid ?? 'k', alg: 'ECDH-ES' as const };
        const decrypted = await rejection(() => decryptCompact(jwe, { ...key, kid: key.kid }));
        const answered = await rejection(() => answerKeyOf(jwe, key));
        // A public key is refused before any cryptography (CRYPTO_KEY_INVALID); an ECDSA key fails to decrypt.
        for (const error of [decrypted, answered])
          expect(
            isMpayError(error, 'CRYPTO_DECRYPTION_FAILED') || isMpayError(error, 'CRYPTO_KEY_INVALID'),
            `${engine} ${cryptoKey.type}`,
          ).toBe(true);
        if (cryptoKey.type === 'private') {
          expect(isMpayError(decrypted, 'CRYPTO_DECRYPTION_FAILED'), engine).toBe(true);
          expect(isMpayError(answered, 'CRYPTO_DECRYPTION_FAILED'), engine).toBe(true);
        }
      }
    }
    selectCryptoEngine('node:crypto');
  });
});

describe('the node:crypto engine agrees with raw points, as WebCrypto does with keys', () => {
  it('agrees on Z with WebCrypto both ways (a non-extractable private key), and refuses coordinates of the wrong length', async () => {
    const jwe = nodeEngine.jwe;
    if (jwe === undefined) throw new Error('the node:crypto engine computes JWE');
    const recipient = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
    // The sender's side: a fresh ephemeral key and Z with the recipient's public key.
    const { epk, z } = jwe.ephemeralAgreement(recipient.publicKey);
    const epkKey = await subtle.importKey('jwk', epk, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const expected = new Uint8Array(
      await subtle.deriveBits({ name: 'ECDH', public: epkKey }, recipient.privateKey, 256),
    );
    expect(z).toEqual(expected);
    // The recipient's side, through the engine: the same Z, again from its kept ECDH object.
    expect(jwe.agreement(recipient.privateKey, epk)).toEqual(expected);
    expect(jwe.agreement(recipient.privateKey, epk)).toEqual(expected);
    // 31 or 33 bytes, or text that is not base64url: refused before any agreement.
    const short = epk.x.slice(0, 42);
    const long = `${epk.x}AA`;
    for (const [x, y] of [
      [short, epk.y],
      [epk.x, long],
      [`${epk.x.slice(0, 42)}=`, epk.y],
    ] as const)
      expect(() => jwe.agreement(recipient.privateKey, { ...epk, x, y })).toThrow(
        expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }),
      );
    // A point off the curve (y changed), and an x equal to the field's prime p: node:crypto refuses both.
    const y = uncompressedP256Point(epk.x, epk.y).slice(33);
    y[31] = (y[31] ?? 0) ^ 1;
    const fieldPrime = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');
    for (const members of [
      { ...epk, y: Buffer.from(y).toString('base64url') },
      { ...epk, x: fieldPrime.toString('base64url') },
    ])
      expect(() => jwe.agreement(recipient.privateKey, members)).toThrow(
        expect.objectContaining({ code: 'ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY' }),
      );
    // Members that are not text at all (a hostile header): refused as a key, before any agreement.
    expect(() => jwe.agreement(recipient.privateKey, { ...epk, x: 7 as unknown as string })).toThrow(
      expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }),
    );
  });
});
