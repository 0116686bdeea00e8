import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import {
  decryptWith,
  encryptTo,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import {
  type DeviceKeyPairs,
  parseKeystore,
  unwrapKeystore,
  type WalletKeystoreData,
  wrapKeystore,
} from './keystore.ts';

const partyId = 'john.bernard@person.xbank';
const pinServer = { url: 'http://custody.invalid', custodyId: 'custody.test', credentialId: 'credential-1' };
let keys: DeviceKeyPairs;
let exportKey: string;
let keystore: WalletKeystoreData;

function newExportKey(): string {
  return randomBytes(64).toString('base64url');
}

beforeAll(async () => {
  keys = { signing: await generateSigningKeyPair('ES256'), encryption: await generateEncryptionKeyPair() };
  exportKey = newExportKey();
  keystore = await wrapKeystore({ partyId, keys, binding: 'binding.jws.value', pinServer }, exportKey);
});

describe('wallet keystore v2: keys wrapped under the OPAQUE export key', () => {
  it('holds nothing derived from the PIN and no attempt counter, only public keys in clear', () => {
    expect(Object.keys(keystore).sort()).toEqual([
      'binding',
      'encryptionPublicJwk',
      'partyId',
      'pinServer',
      'signingPublicJwk',
      'version',
      'wrappedKeys',
    ]);
    expect(keystore.version).toBe(2);
    expect(keystore.pinServer).toEqual(pinServer);
    const file = JSON.stringify(keystore);
    expect(file).not.toContain(keys.signing.privateJwk.d);
    expect(file).not.toContain(keys.encryption.privateJwk.d);
    // Field names only: random base64url text contains "kdf" or "salt" by chance (about one run in thirty).
    const names: string[] = [];
    JSON.parse(file, (name: string, value: unknown) => {
      names.push(name);
      return value;
    });
    expect(names.filter((name) => /^d$|kdf|salt|iterations|attempts/i.test(name))).toEqual([]);
  });

  it('unwraps with the same export key into non-extractable keys that sign and decrypt', async () => {
    const unlocked = await unwrapKeystore(structuredClone(keystore), exportKey);
    expect(unlocked.signing.cryptoKey.extractable).toBe(false);
    expect(unlocked.encryption.cryptoKey.extractable).toBe(false);
    expect(unlocked.signing.kid).toBe(keys.signing.publicJwk.kid);
    const jws = await signPayload(
      { hello: 'world' },
      { issuer: partyId, audience: 'fsp.test', transactionId: 'txn-1', expiresInSeconds: 60 },
      unlocked.signing,
    );
    const verified = await verifyPayload(jws, async () => keys.signing.publicJwk, { audience: 'fsp.test' });
    expect(verified.payload.hello).toBe('world');
    const jwe = await encryptTo('secret', keystore.encryptionPublicJwk);
    expect(new TextDecoder().decode(await decryptWith(jwe, [unlocked.encryption]))).toBe('secret');
  });

  it('is AES-256-GCM under HKDF-SHA-256(exportKey, no salt, "mpay-wallet-keystore/v2"), AD "party\\ncredential"', () => {
    // Opened here with node:crypto, independently of the SDK's WebCrypto code.
    const key = Buffer.from(
      hkdfSync('sha256', Buffer.from(exportKey, 'base64url'), Buffer.alloc(0), 'mpay-wallet-keystore/v2', 32),
    );
    const sealed = Buffer.from(keystore.wrappedKeys.ciphertext, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(keystore.wrappedKeys.iv, 'base64url'));
    decipher.setAAD(Buffer.from(`${partyId}\n${pinServer.credentialId}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    expect(JSON.parse(plain.toString('utf8'))).toEqual({
      signing: keys.signing.privateJwk,
      encryption: keys.encryption.privateJwk,
    });
  });

  it('gives nothing for another export key (CRYPTO_KEY_INVALID)', async () => {
    expect(await rejectedCodeOf(unwrapKeystore(keystore, newExportKey()))).toBe('CRYPTO_KEY_INVALID');
  });

  it('is bound to the party and the credential (GCM additional data)', async () => {
    const otherParty = { ...structuredClone(keystore), partyId: 'mallory@person.xbank' };
    expect(await rejectedCodeOf(unwrapKeystore(otherParty, exportKey))).toBe('CRYPTO_KEY_INVALID');
    const otherCredential = structuredClone(keystore) as { pinServer: { credentialId: string } };
    otherCredential.pinServer.credentialId = 'credential-2';
    expect(await rejectedCodeOf(unwrapKeystore(otherCredential as WalletKeystoreData, exportKey))).toBe(
      'CRYPTO_KEY_INVALID',
    );
  });

  it('refuses keys whose public halves are not the file’s (a swapped public key)', async () => {
    const stranger = await generateSigningKeyPair('ES256');
    const swapped = { ...structuredClone(keystore), signingPublicJwk: stranger.publicJwk };
    expect(await rejectedCodeOf(unwrapKeystore(swapped, exportKey))).toBe('CRYPTO_KEY_INVALID');
  });

  it('refuses a changed byte of the ciphertext', async () => {
    const changed = structuredClone(keystore) as { wrappedKeys: { ciphertext: string } };
    const bytes = Buffer.from(changed.wrappedKeys.ciphertext, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    changed.wrappedKeys.ciphertext = bytes.toString('base64url');
    expect(await rejectedCodeOf(unwrapKeystore(changed as WalletKeystoreData, exportKey))).toBe(
      'CRYPTO_KEY_INVALID',
    );
  });

  it('refuses an export key that is not one', async () => {
    expect(await rejectedCodeOf(unwrapKeystore(keystore, 'c2hvcnQ'))).toBe('CRYPTO_KEY_INVALID');
    expect(await rejectedCodeOf(unwrapKeystore(keystore, 'not base64url!'))).toBe('CRYPTO_KEY_INVALID');
  });
});

describe('parseKeystore', () => {
  it('refuses a version-1 file (PIN through PBKDF2, counter in the file) and says to enrol again', () => {
    const v1 = {
      version: 1,
      partyId,
      kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 310_000, salt: 'c2FsdA' },
      wrappedSigningKey: { iv: 'aXY', ciphertext: 'Y3Q' },
      signingPublicJwk: keys.signing.publicJwk,
      encryptionPrivateJwk: keys.encryption.privateJwk,
      failedAttempts: 0,
      attemptsMax: 3,
    };
    let caught: unknown;
    try {
      parseKeystore(v1);
    } catch (error) {
      caught = error;
    }
    expect(isMpayError(caught, 'CRYPTO_KEY_INVALID')).toBe(true);
    expect((caught as { detail?: string }).detail).toMatch(/version 1.*enrol the device again/);
  });

  it('refuses other versions and malformed files', () => {
    for (const value of [
      null,
      'keystore',
      { ...keystore, version: 3 },
      { ...keystore, pinServer: { url: 'x', custodyId: 'y' } },
      { ...keystore, wrappedKeys: { iv: 'short', ciphertext: 'Y3Q' } },
      { ...keystore, binding: undefined },
    ]) {
      expect(() => parseKeystore(value), JSON.stringify(value)).toThrow(
        expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }),
      );
    }
  });

  it('accepts the file as written, after a round trip through JSON', () => {
    expect(parseKeystore(JSON.parse(JSON.stringify(keystore)))).toEqual(keystore);
  });
});
