import { hkdfSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMacroDeviceSecret } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../../test/vectors/path.ts';
import { createMacroDeviceSecret, deriveMacroChannelKey, hkdfSha256 } from './channel-key.ts';

interface HkdfVector {
  readonly tcId: number;
  readonly ikm: string;
  readonly salt: string;
  readonly info: string;
  readonly size: number;
  readonly okm: string;
  readonly result: string;
}

const hkdfVectors = (
  JSON.parse(readFileSync(vectorPath('wycheproof/hkdf_sha256_test.json'), 'utf8')) as {
    testGroups: { tests: HkdfVector[] }[];
  }
).testGroups.flatMap((group) => group.tests);

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

describe('hkdfSha256 through WebCrypto (Wycheproof hkdf_sha256_test.json)', () => {
  it('gives the expected bytes for every valid vector and refuses every invalid one', async () => {
    const tally = { valid: 0, invalid: 0 };
    for (const vector of hkdfVectors) {
      const run = () => hkdfSha256(bytes(vector.ikm), bytes(vector.salt), bytes(vector.info), vector.size);
      if (vector.result === 'valid') {
        expect({ tcId: vector.tcId, okm: Buffer.from(await run()).toString('hex') }).toEqual({
          tcId: vector.tcId,
          okm: vector.okm,
        });
        tally.valid += 1;
      } else if (vector.result === 'invalid') {
        await expect(run(), `tcId ${vector.tcId}`).rejects.toThrow(RangeError);
        tally.invalid += 1;
      } else {
        throw new Error(`unknown result ${vector.result}`);
      }
    }
    expect(tally).toEqual({ valid: 83, invalid: 3 });
  });
});

describe('the macro channel key on the device', () => {
  it('is HKDF-SHA-256(session key, salt = device secret, info = label, client id, session id), as node:crypto computes it', async () => {
    const sessionKey = Buffer.from(crypto.getRandomValues(new Uint8Array(64)));
    const deviceSecret = createMacroDeviceSecret();
    const clientId = 'C042917365028.xbank';
    const sessionId = randomUUID();
    const key = await deriveMacroChannelKey({
      sessionKey: sessionKey.toString('base64url'),
      deviceSecret,
      clientId,
      sessionId,
    });
    const expected = hkdfSync(
      'sha256',
      sessionKey,
      Buffer.from(deviceSecret, 'base64url'),
      Buffer.from(`mpay macro E_SP v1\u0000${clientId}\u0000${sessionId}`),
      32,
    );
    expect(Buffer.from(key)).toEqual(Buffer.from(expected));
  });

  it('refuses a device secret that is not 32 bytes', async () => {
    await expect(
      deriveMacroChannelKey({
        sessionKey: Buffer.alloc(64).toString('base64url'),
        deviceSecret: 'AAAA',
        clientId: 'C042917365028.xbank',
        sessionId: randomUUID(),
      }),
    ).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
  });

  it('makes fresh, well-formed device secrets', () => {
    const secrets = new Set(Array.from({ length: 50 }, () => createMacroDeviceSecret()));
    expect(secrets.size).toBe(50);
    for (const secret of secrets) expect(isMacroDeviceSecret(secret)).toBe(true);
  });
});
