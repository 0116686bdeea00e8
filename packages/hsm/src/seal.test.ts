import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hsm } from './index.ts';
import { SEAL_IV_LENGTH_BYTES, SEAL_TAG_LENGTH_BYTES } from './limits.ts';
import { openSharedTestHsm } from './test-support.ts';

const KEY_LABEL = 'custody-seal';
const additionalData = new TextEncoder().encode('customer john@person.xbank');
let hsm: Hsm;

beforeAll(async () => {
  ({ hsm } = await openSharedTestHsm('mpay-test-seal'));
  await hsm.ensureSecretKey(KEY_LABEL);
});

afterAll(() => hsm.close());

describe('sealing with an AES-256-GCM key inside the token', () => {
  it('round-trips, as iv ‖ ciphertext ‖ tag, with a fresh IV every time', async () => {
    const plaintext = randomBytes(100);
    const first = await hsm.seal(KEY_LABEL, plaintext, additionalData);
    const second = await hsm.seal(KEY_LABEL, plaintext, additionalData);
    expect(first).toHaveLength(SEAL_IV_LENGTH_BYTES + plaintext.length + SEAL_TAG_LENGTH_BYTES);
    expect(Buffer.from(first.subarray(0, SEAL_IV_LENGTH_BYTES))).not.toEqual(
      Buffer.from(second.subarray(0, SEAL_IV_LENGTH_BYTES)),
    );
    expect(Buffer.from(await hsm.unseal(KEY_LABEL, first, additionalData))).toEqual(plaintext);
    expect(Buffer.from(await hsm.unseal(KEY_LABEL, second, additionalData))).toEqual(plaintext);
    expect(
      await hsm.unseal(
        KEY_LABEL,
        await hsm.seal(KEY_LABEL, new Uint8Array(0), new Uint8Array(0)),
        new Uint8Array(0),
      ),
    ).toHaveLength(0);
  });

  it('ensureSecretKey is idempotent: sealed values stay readable', async () => {
    const sealed = await hsm.seal(KEY_LABEL, new Uint8Array([1, 2, 3]), additionalData);
    await hsm.ensureSecretKey(KEY_LABEL);
    await Promise.all([hsm.ensureSecretKey(KEY_LABEL), hsm.ensureSecretKey(KEY_LABEL)]);
    expect([...(await hsm.unseal(KEY_LABEL, sealed, additionalData))]).toEqual([1, 2, 3]);
  });

  it('refuses every altered byte (iv, ciphertext, tag) with CRYPTO_DECRYPTION_FAILED', async () => {
    const sealed = await hsm.seal(KEY_LABEL, new TextEncoder().encode('a PIN verifier'), additionalData);
    for (let index = 0; index < sealed.length; index += 1) {
      const altered = Uint8Array.from(sealed);
      altered[index]! ^= 0x01;
      await expect(hsm.unseal(KEY_LABEL, altered, additionalData)).rejects.toMatchObject({
        code: 'CRYPTO_DECRYPTION_FAILED',
        detail: undefined,
      });
    }
    // The session is not left with an operation active: the original still unseals.
    expect(new TextDecoder().decode(await hsm.unseal(KEY_LABEL, sealed, additionalData))).toBe(
      'a PIN verifier',
    );
  });

  it('refuses other additional data, and truncated or empty input', async () => {
    const sealed = await hsm.seal(KEY_LABEL, new TextEncoder().encode('secret'), additionalData);
    const other = new TextEncoder().encode('customer jane@person.xbank');
    await expect(hsm.unseal(KEY_LABEL, sealed, other)).rejects.toMatchObject({
      code: 'CRYPTO_DECRYPTION_FAILED',
    });
    await expect(hsm.unseal(KEY_LABEL, sealed, new Uint8Array(0))).rejects.toMatchObject({
      code: 'CRYPTO_DECRYPTION_FAILED',
    });
    await expect(
      hsm.unseal(KEY_LABEL, sealed.subarray(0, sealed.length - 1), additionalData),
    ).rejects.toMatchObject({ code: 'CRYPTO_DECRYPTION_FAILED' });
    await expect(hsm.unseal(KEY_LABEL, new Uint8Array(0), additionalData)).rejects.toMatchObject({
      code: 'CRYPTO_DECRYPTION_FAILED',
    });
  });

  it('a value sealed under one key does not unseal under another', async () => {
    await hsm.ensureSecretKey('custody-seal-other');
    const sealed = await hsm.seal(KEY_LABEL, new TextEncoder().encode('secret'), additionalData);
    await expect(hsm.unseal('custody-seal-other', sealed, additionalData)).rejects.toMatchObject({
      code: 'CRYPTO_DECRYPTION_FAILED',
    });
  });

  it('a label with no key is HSM_UNAVAILABLE, not a decryption failure', async () => {
    await expect(hsm.seal('no-such-key', new Uint8Array(1), additionalData)).rejects.toMatchObject({
      code: 'HSM_UNAVAILABLE',
    });
    await expect(hsm.unseal('no-such-key', new Uint8Array(40), additionalData)).rejects.toMatchObject({
      code: 'HSM_UNAVAILABLE',
    });
  });
});
