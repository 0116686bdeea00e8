import { describe, expect, it } from 'vitest';
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
