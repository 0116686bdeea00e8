import { describe, expect, it } from 'vitest';
import { isSigningAlgorithm } from '../algorithms.ts';
import type { PublicJwk } from '../keys/jwk.ts';
import { describeEachEngine } from '../test-support/engines.ts';
import { loadWycheproof, outcomeOf, Tally, type WycheproofGroup } from '../test-support/wycheproof.ts';
import type { VerificationKeyResolver } from './verify-compact.ts';
import { verifyCompactSignature } from './verify-compact.ts';

type Jwk = Record<string, unknown>;

/** The key our registry would hold for the group: its public key, or the (symmetric) private one. */
function registryKey(group: WycheproofGroup): Jwk {
  return (group.public ?? group.private) as Jwk;
}

function resolverFor(key: Jwk): VerificationKeyResolver {
  return (kid) => (key.kid === kid ? (key as unknown as PublicJwk) : undefined);
}

/** A group whose key is one our policy allows: ES256 on P-256 or EdDSA on Ed25519, for signing. */
function withinPolicy(key: Jwk): boolean {
  return isSigningAlgorithm(key.alg) && key.use === 'sig' && key.key_ops === undefined;
}

describeEachEngine('Wycheproof json_web_signature_test.json through verifyCompactSignature', () => {
  it('accepts the valid tokens our policy allows and rejects everything else', async () => {
    const file = loadWycheproof('json_web_signature_test.json');
    const tally = new Tally();
    let validRefusedByPolicy = 0;
    for (const group of file.testGroups) {
      const key = registryKey(group);
      const allowed = withinPolicy(key);
      for (const test of group.tests) {
        const outcome = await outcomeOf(() =>
          verifyCompactSignature(test.jws, resolverFor(key), { typ: undefined }),
        );
        if (test.result === 'valid' && !allowed) validRefusedByPolicy++;
        tally.record(test, outcome, allowed ? 'accepted' : 'rejected');
      }
    }
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 46, invalid: 355, acceptable: 0, acceptableAccepted: 0 });
    // HS*, RS*, PS* and ES512 tokens that are valid JOSE but outside mpay's allow-list.
    expect(validRefusedByPolicy).toBe(44);
  });
});

describe('Wycheproof json_web_key_test.json through keyResolverFromJwkSet', () => {
  it('refuses every key set or token: all valid cases are HMAC or RSA, outside the allow-list', async () => {
    const { keyResolverFromJwkSet } = await import('../keys/key-set.ts');
    const file = loadWycheproof('json_web_key_test.json');
    const tally = new Tally();
    for (const group of file.testGroups) {
      for (const test of group.tests) {
        const outcome = await outcomeOf(async () => {
          const resolveKey = keyResolverFromJwkSet(group.public ?? group.private);
          return verifyCompactSignature(test.jws, resolveKey, { typ: undefined });
        });
        tally.record(test, outcome, 'rejected');
      }
    }
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 5, invalid: 21, acceptable: 0, acceptableAccepted: 0 });
  });
});
