import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../../test/vectors/path.ts';
import { deriveChannelKey, hkdfSha256 } from './channel.ts';

interface HkdfVector {
  readonly tcId: number;
  readonly ikm: string;
  readonly salt: string;
  readonly info: string;
  readonly size: number;
  readonly okm: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

const hkdfVectors = (
  JSON.parse(readFileSync(vectorPath('wycheproof/hkdf_sha256_test.json'), 'utf8')) as {
    testGroups: { tests: HkdfVector[] }[];
  }
).testGroups.flatMap((group) => group.tests);

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

describe('HKDF-SHA-256 of the channel keys (Wycheproof hkdf_sha256_test.json, RFC 5869)', () => {
  it('gives the expected bytes for every valid vector and refuses every invalid one', async () => {
    const tally = { valid: 0, invalid: 0 };
    for (const vector of hkdfVectors) {
      const derived = hkdfSha256(bytes(vector.ikm), bytes(vector.salt), bytes(vector.info), vector.size);
      if (vector.result === 'valid') {
        expect({ tcId: vector.tcId, okm: Buffer.from(await derived).toString('hex') }).toEqual({
          tcId: vector.tcId,
          okm: vector.okm,
        });
        tally.valid += 1;
      } else if (vector.result === 'invalid') {
        await expect(derived, `tcId ${vector.tcId}`).rejects.toThrow(RangeError);
        tally.invalid += 1;
      } else {
        throw new Error(`unknown result ${vector.result}`);
      }
    }
    expect(tally).toEqual({ valid: 83, invalid: 3 });
  });
});

describe('deriveChannelKey', () => {
  const sessionKey = Buffer.alloc(64, 1).toString('base64url');
  const deviceSecret = Buffer.alloc(32, 2).toString('base64url');
  const clientId = 'C000000000042.xbank';

  it('names the client and the session: another of either is another key', async () => {
    const sessionId = randomUUID();
    const key = await deriveChannelKey({ sessionKey, deviceSecret, clientId, sessionId });
    expect(key).toHaveLength(32);
    expect(await deriveChannelKey({ sessionKey, deviceSecret, clientId, sessionId })).toEqual(key);
    expect(
      await deriveChannelKey({ sessionKey, deviceSecret, clientId, sessionId: randomUUID() }),
    ).not.toEqual(key);
    expect(
      await deriveChannelKey({ sessionKey, deviceSecret, clientId: 'C000000000043.xbank', sessionId }),
    ).not.toEqual(key);
    expect(
      await deriveChannelKey({
        sessionKey,
        deviceSecret: Buffer.alloc(32, 3).toString('base64url'),
        clientId,
        sessionId,
      }),
    ).not.toEqual(key);
    // The same as RFC 5869 computed by hand from the documented inputs.
    const info = new TextEncoder().encode(`mpay macro E_SP v1\u0000${clientId}\u0000${sessionId}`);
    expect(key).toEqual(await hkdfSha256(Buffer.alloc(64, 1), Buffer.alloc(32, 2), info, 32));
  });

  it('refuses inputs that are not a session key and a 32-byte device secret', async () => {
    await expect(
      deriveChannelKey({ sessionKey, deviceSecret: 'AAAA', clientId, sessionId: randomUUID() }),
    ).rejects.toThrow(/assertion failed/);
    await expect(
      deriveChannelKey({ sessionKey, deviceSecret, clientId: 'john@person.xbank', sessionId: randomUUID() }),
    ).rejects.toThrow();
  });
});
