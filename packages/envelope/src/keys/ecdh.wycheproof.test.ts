import { describe, expect, it } from 'vitest';
import { nodeCryptoEngine, nodeCryptoModule, type P256PublicMembers } from '../engine.ts';
import { hexToBytes, loadWycheproof, outcomeOf, Tally } from '../test-support/wycheproof.ts';
import { importPrivateKey, importPublicKey } from './import.ts';

describe('Wycheproof ecdh_secp256r1_webcrypto_test.json through importPublicKey / importPrivateKey', () => {
  it('derives the expected secret for every valid case and refuses every invalid public key', async () => {
    const file = loadWycheproof('ecdh_secp256r1_webcrypto_test.json');
    const tally = new Tally();
    for (const group of file.testGroups) {
      for (const test of group.tests) {
        const outcome = await outcomeOf(async () => {
          const publicKey = await importPublicKey({ ...(test.public as object), alg: 'ECDH-ES' });
          const privateKey = await importPrivateKey({ ...(test.private as object), alg: 'ECDH-ES' });
          const bits = await crypto.subtle.deriveBits(
            { name: 'ECDH', public: publicKey.cryptoKey },
            privateKey.cryptoKey,
            256,
          );
          expect(new Uint8Array(bits)).toEqual(hexToBytes(test.shared as string));
          return true;
        });
        tally.record(test, outcome);
      }
    }
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 330, invalid: 23, acceptable: 0, acceptableAccepted: 0 });
  });
});

describe('Wycheproof ecdh_secp256r1_webcrypto_test.json through the node:crypto engine (JWE ECDH-ES)', () => {
  it('agrees on Z for every valid case and refuses every invalid public key when it imports it', async () => {
    const module = nodeCryptoModule();
    if (module === undefined) throw new Error('these tests run on Node ≥ 20.16, which has node:crypto');
    const jwe = nodeCryptoEngine(module).jwe;
    if (jwe === undefined) throw new Error('the node:crypto engine computes JWE');
    const file = loadWycheproof('ecdh_secp256r1_webcrypto_test.json');
    const tally = new Tally();
    for (const group of file.testGroups) {
      for (const test of group.tests) {
        const privateKey = await importPrivateKey({ ...(test.private as object), alg: 'ECDH-ES' });
        const peer = test.public as P256PublicMembers;
        // The sender's ephemeral key as a JWE header carries it: its members only, imported (and checked) by the engine.
        const outcome = await outcomeOf(async () => {
          let z: Uint8Array;
          try {
            z = jwe.agreement(privateKey.cryptoKey, { kty: peer.kty, crv: peer.crv, x: peer.x, y: peer.y });
          } catch {
            return false; // refused: node:crypto would not import the point
          }
          expect(z).toEqual(hexToBytes(test.shared as string));
          return true;
        });
        tally.record(test, outcome);
      }
    }
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 330, invalid: 23, acceptable: 0, acceptableAccepted: 0 });
  });
});
