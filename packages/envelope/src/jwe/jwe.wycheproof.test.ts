import { expect, it } from 'vitest';
import { isKeyAgreementAlgorithm } from '../algorithms.ts';
import { decodeBase64url, parseJsonObject } from '../encoding.ts';
import type { PrivateJwk } from '../keys/jwk.ts';
import { describeEachEngine } from '../test-support/engines.ts';
import { hexToBytes, loadWycheproof, outcomeOf, Tally } from '../test-support/wycheproof.ts';
import { decryptCompact } from './decrypt.ts';

type Jwk = Record<string, unknown>;

/** A case our policy allows: P-256 key for ECDH-ES(+A256KW), the token uses the key's alg and A256GCM. */
function withinPolicy(key: Jwk, jwe: unknown): boolean {
  if (
    typeof jwe !== 'string' ||
    key.kty !== 'EC' ||
    key.crv !== 'P-256' ||
    !isKeyAgreementAlgorithm(key.alg)
  ) {
    return false;
  }
  const header = parseJsonObject(decodeBase64url(jwe.split('.')[0] ?? '') ?? new Uint8Array());
  return header?.alg === key.alg && header.enc === 'A256GCM';
}

describeEachEngine('Wycheproof json_web_encryption_test.json through decryptCompact', () => {
  it('decrypts the valid tokens our policy allows to the right plaintext and rejects everything else', async () => {
    // jose under WebCrypto; the envelope's own ECDH-ES and dir (./compact.ts) under node:crypto.
    const file = loadWycheproof('json_web_encryption_test.json');
    const tally = new Tally();
    let validWithinPolicy = 0;
    for (const group of file.testGroups) {
      const key = group.private as Jwk;
      for (const test of group.tests) {
        const allowed = test.result === 'valid' && withinPolicy(key, test.jwe);
        if (allowed) validWithinPolicy++;
        const outcome = await outcomeOf(async () => {
          const plaintext = await decryptCompact(test.jwe, key as unknown as PrivateJwk);
          expect(plaintext).toEqual(hexToBytes(test.pt as string));
          return true;
        });
        tally.record(test, outcome, allowed ? 'accepted' : 'rejected');
      }
    }
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 65, invalid: 74, acceptable: 0, acceptableAccepted: 0 });
    // ECDH-ES + A256GCM (tcId 78) and ECDH-ES+A256KW + A256GCM (tcId 66); the other 63 valid
    // tokens use RSA, AES key wrap, A128/A192, CBC-HS or P-384, outside mpay's allow-list.
    expect(validWithinPolicy).toBe(2);
  });
});
