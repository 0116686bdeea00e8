import { randomUUID } from 'node:crypto';
import {
  decodeBase64url,
  encodeBase64url,
  encryptDirect,
  encryptTo,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
} from '@mpay/envelope';
import { sealSecondFactor } from '@mpay/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import { openSecondFactor, secondFactorContentType } from './sealed-code.ts';

// The wallet seals (@mpay/sdk sealSecondFactor), the customer's bank opens
// (openSecondFactor): the two ends of one format, tested together.

let bank: GeneratedKeyPair;
const input = () => ({ code: '492039', transactionId: randomUUID(), payerId: 'john.bernard@person.xbank' });

beforeAll(async () => {
  bank = await generateEncryptionKeyPair();
});

/** A JWE to the bank's key with the right content type but any plaintext: what a forger with the public key can make. */
function sealRaw(plaintext: string, contentType = secondFactorContentType): Promise<string> {
  return encryptTo(plaintext, bank.publicJwk, { contentType });
}

describe('a sealed one-time code', () => {
  it('opens at the bank to exactly what the wallet sealed', async () => {
    const sealed = input();
    const jwe = await sealSecondFactor(sealed, bank.publicJwk);
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain(sealed.code);
    expect(await openSecondFactor(jwe, bank.privateJwk)).toEqual(sealed);
    // Eight digits too (RFC 4226 allows 6 to 8).
    const eight = { ...input(), code: '94287082' };
    expect(await openSecondFactor(await sealSecondFactor(eight, bank.publicJwk), bank.privateJwk)).toEqual(
      eight,
    );
  });

  it('opens under no other key, and a changed byte anywhere fails, saying nothing more', async () => {
    const jwe = await sealSecondFactor(input(), bank.publicJwk);
    const other = await generateEncryptionKeyPair();
    expect(await rejectedCodeOf(openSecondFactor(jwe, other.privateJwk))).toBe('SECOND_FACTOR_INVALID');
    const segments = jwe.split('.');
    for (const index of [0, 2, 3, 4]) {
      const bytes = decodeBase64url(segments[index]!)!;
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      const tampered = segments.map((segment, at) => (at === index ? encodeBase64url(bytes) : segment));
      expect(
        await rejectedCodeOf(openSecondFactor(tampered.join('.'), bank.privateJwk)),
        `segment ${index}`,
      ).toBe('SECOND_FACTOR_INVALID');
    }
  });

  it('refuses what is not a sealed code: another content type, a session-key JWE, a JWS, oversized input', async () => {
    const content = JSON.stringify(input());
    const notACode = [
      await sealRaw(content, 'mpay-totp-secret+json'),
      await sealRaw(content, 'mpay-authenticator+json'),
      await encryptTo(content, bank.publicJwk),
      await encryptDirect(content, crypto.getRandomValues(new Uint8Array(32)), { kid: bank.kid }),
      'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl',
      `${await sealRaw(content)}${'A'.repeat(2_048)}`,
      '',
      42,
      { jwe: await sealRaw(content) },
      undefined,
    ];
    for (const value of notACode) {
      expect(await rejectedCodeOf(openSecondFactor(value, bank.privateJwk)), String(value).slice(0, 40)).toBe(
        'SECOND_FACTOR_INVALID',
      );
    }
  });

  it('refuses a content with a member missing, one more, or of the wrong form', async () => {
    const good = input();
    const { code: _code, ...noCode } = good;
    const contents: unknown[] = [
      noCode,
      { ...good, amount: '1000.00' },
      { ...good, code: '12345' },
      { ...good, code: '123456789' },
      { ...good, code: '12345a' },
      { ...good, code: 123456 },
      { ...good, transactionId: good.transactionId.toUpperCase() },
      { ...good, transactionId: 'not-a-uuid' },
      { ...good, payerId: 'John.Bernard@person.xbank' },
      { ...good, payerId: 'john.bernard' },
      [good],
      'a string',
      null,
    ];
    for (const content of contents) {
      const jwe = await sealRaw(JSON.stringify(content));
      expect(await rejectedCodeOf(openSecondFactor(jwe, bank.privateJwk)), JSON.stringify(content)).toBe(
        'SECOND_FACTOR_INVALID',
      );
    }
    expect(await rejectedCodeOf(openSecondFactor(await sealRaw('{"code":'), bank.privateJwk))).toBe(
      'SECOND_FACTOR_INVALID',
    );
  });

  it('is sealed by the wallet only from a well-formed code, to an encryption key', async () => {
    expect(await rejectedCodeOf(sealSecondFactor({ ...input(), code: '12 34 56' }, bank.publicJwk))).toBe(
      'SECOND_FACTOR_INVALID',
    );
    expect(await rejectedCodeOf(sealSecondFactor({ ...input(), transactionId: 'x' }, bank.publicJwk))).toBe(
      'REQUEST_INVALID',
    );
    expect(
      await rejectedCodeOf(sealSecondFactor({ ...input(), payerId: 'Nobody@person.xbank' }, bank.publicJwk)),
    ).toBe('REQUEST_INVALID');
    const signing = await generateSigningKeyPair();
    expect(await rejectedCodeOf(sealSecondFactor(input(), signing.publicJwk))).toBe('CRYPTO_KEY_INVALID');
  });
});
