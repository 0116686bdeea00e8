import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { type CryptoEngine, nodeCryptoEngine, nodeCryptoModule, webCryptoEngine } from './engine.ts';
import type { PublicJwk } from './keys/jwk.ts';
import { verifyRawSignature } from './signature.ts';
import {
  bytesToBase64url,
  hexToBytes,
  loadWycheproof,
  outcomeOf,
  Tally,
  type WycheproofGroup,
} from './test-support/wycheproof.ts';

interface EcPublicKey {
  readonly uncompressed: string;
}

/** The group's JWK, or one built from the uncompressed point when the group has none. */
function groupJwk(group: WycheproofGroup, crv: string, alg: string): PublicJwk {
  const given = group.publicKeyJwk as Record<string, unknown> | undefined;
  if (given !== undefined) return { ...given, alg } as unknown as PublicJwk;
  const point = hexToBytes((group.publicKey as EcPublicKey).uncompressed);
  const size = (point.length - 1) / 2;
  const x = bytesToBase64url(point.subarray(1, 1 + size));
  const y = bytesToBase64url(point.subarray(1 + size));
  return { kty: 'EC', crv, x, y, alg } as unknown as PublicJwk;
}

async function runFile(
  name: string,
  alg: 'ES256' | 'EdDSA',
  crv: string,
  engine: CryptoEngine,
): Promise<Tally> {
  const file = loadWycheproof(name);
  const tally = new Tally();
  for (const group of file.testGroups) {
    const jwk = groupJwk(group, crv, alg);
    for (const test of group.tests) {
      const outcome = await outcomeOf(() =>
        verifyRawSignature(alg, jwk, hexToBytes(test.msg as string), hexToBytes(test.sig as string), engine),
      );
      tally.record(test, outcome);
    }
  }
  expect(tally.counts.valid + tally.counts.invalid + tally.counts.acceptable).toBe(file.numberOfTests);
  return tally;
}

const nodeModule = nodeCryptoModule();
if (nodeModule === undefined) throw new Error('these tests run on Node ≥ 20.16, which has node:crypto');
const engines: readonly CryptoEngine[] = [webCryptoEngine, nodeCryptoEngine(nodeModule)];

describe.each(engines)('Wycheproof signatures through verifyRawSignature, engine $name', (engine) => {
  it('ECDSA P-256 SHA-256 (IEEE P1363): every case', async () => {
    const tally = await runFile('ecdsa_secp256r1_sha256_p1363_test.json', 'ES256', 'P-256', engine);
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 173, invalid: 89, acceptable: 0, acceptableAccepted: 0 });
  });

  it('Ed25519: every case', async () => {
    const tally = await runFile('ed25519_test.json', 'EdDSA', 'Ed25519', engine);
    expect(tally.mismatches).toEqual([]);
    expect(tally.counts).toEqual({ valid: 88, invalid: 63, acceptable: 0, acceptableAccepted: 0 });
  });
});

describe('Wycheproof keys refused by policy', () => {
  it('ECDSA P-192: every key is refused by policy before any verification', async () => {
    const file = loadWycheproof('ecdsa_secp192r1_sha256_test.json');
    let refused = 0;
    for (const group of file.testGroups) {
      const jwk = groupJwk(group, 'P-192', 'ES256');
      for (const test of group.tests) {
        const error = await verifyRawSignature(
          'ES256',
          jwk,
          hexToBytes(test.msg as string),
          new Uint8Array(64),
        ).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(
          isMpayError(error, 'CRYPTO_ALGORITHM_REJECTED') || isMpayError(error, 'CRYPTO_KEY_INVALID'),
        ).toBe(true);
        refused++;
      }
    }
    expect(refused).toBe(454);
  });
});
