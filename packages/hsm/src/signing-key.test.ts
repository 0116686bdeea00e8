import { spawnSync } from 'node:child_process';
import { createHash, type JsonWebKey, verify } from 'node:crypto';
import { type PublicJwk, signPayload, verifyPayload } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hsm, HsmOptions } from './index.ts';
import { openSharedTestHsm } from './test-support.ts';

const TOKEN_LABEL = 'mpay-test-signing';
const claims = {
  issuer: 'john@person.xbank',
  audience: 'fsp.mpay',
  transactionId: 'p1',
  expiresInSeconds: 60,
};
const expectations = {
  issuer: claims.issuer,
  audience: claims.audience,
  transactionId: claims.transactionId,
};

let hsm: Hsm;
let options: HsmOptions & { configPath: string };
const created: string[] = [];

beforeAll(async () => {
  ({ hsm, options } = await openSharedTestHsm(TOKEN_LABEL));
});

afterAll(async () => {
  for (const id of created) await hsm.destroySigningKey(id);
  hsm.close();
});

/** The public JWK as node:crypto takes it, with signatures as r‖s. */
function verificationKey(publicJwk: PublicJwk) {
  const key: JsonWebKey = { ...publicJwk };
  return { key, format: 'jwk' as const, dsaEncoding: 'ieee-p1363' as const };
}

async function generated(label: string) {
  const key = await hsm.generateSigningKey(label);
  created.push(key.id);
  return key;
}

describe('a signing key generated in the token', () => {
  it('describes itself as an ES256 JWK whose kid is its RFC 7638 thumbprint', async () => {
    const key = await generated('customer-1');
    expect(key.id).toMatch(/^[0-9a-f]{32}$/);
    expect(key.label).toBe('customer-1');
    const { kty, crv, x, y, alg, use, kid } = key.publicJwk;
    expect({ kty, crv, alg, use }).toEqual({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    const members = JSON.stringify({ crv, kty, x, y });
    expect(kid).toBe(createHash('sha256').update(members).digest('base64url'));
    expect(await hsm.findSigningKey(key.id)).toEqual(key);
  });

  it('signs: the signature verifies with node:crypto, and not over other bytes', async () => {
    const key = await generated('customer-2');
    const input = new TextEncoder().encode('header.payload');
    const signature = await hsm.signer(key).sign(input);
    expect(signature).toHaveLength(64);
    const publicKey = verificationKey(key.publicJwk);
    expect(verify('sha256', input, publicKey, signature)).toBe(true);
    expect(verify('sha256', new TextEncoder().encode('header.payloaD'), publicKey, signature)).toBe(false);
  });

  it('signs an mpay message through @mpay/envelope, verified under its public JWK', async () => {
    const key = await generated('customer-3');
    const jws = await signPayload({ amount: '12.50' }, claims, hsm.signer(key));
    const verified = await verifyPayload(
      jws,
      async (kid) => (kid === key.publicJwk.kid ? key.publicJwk : undefined),
      expectations,
    );
    expect(verified.payload.amount).toBe('12.50');
    const other = await generated('customer-4');
    await expect(verifyPayload(jws, async () => other.publicJwk, expectations)).rejects.toMatchObject({
      code: 'CRYPTO_VERIFICATION_FAILED',
    });
  });

  it('keeps concurrent signatures apart: every one verifies', async () => {
    const key = await generated('customer-5');
    const signer = hsm.signer(key);
    const inputs = Array.from({ length: 20 }, (_, index) => new TextEncoder().encode(`message ${index}`));
    const signatures = await Promise.all(inputs.map((input) => signer.sign(input)));
    const publicKey = verificationKey(key.publicJwk);
    signatures.forEach((signature, index) => {
      expect(verify('sha256', inputs[index]!, publicKey, signature)).toBe(true);
    });
  });

  it('refuses a key description whose kid is not the thumbprint of its key', async () => {
    const key = await generated('customer-6');
    const other = await generated('customer-7');
    expect(() => hsm.signer({ ...key, publicJwk: { ...key.publicJwk, kid: other.publicJwk.kid! } })).toThrow(
      expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }),
    );
    // Another key's public half under this key's id: the token's key differs, nothing is signed.
    const swapped = hsm.signer({ ...other, id: key.id });
    await expect(swapped.sign(new Uint8Array(8))).rejects.toMatchObject({ code: 'CRYPTO_KEY_INVALID' });
  });
});

describe('the private key never leaves the token', () => {
  it('is sensitive, not extractable, never extractable, always sensitive, on the token, private', async () => {
    const key = await generated('customer-protected');
    expect(await hsm.attributesOf(key.id)).toEqual({
      extractable: false,
      sensitive: true,
      neverExtractable: true,
      alwaysSensitive: true,
      token: true,
      private: true,
    });
  });

  it('refuses to read its CKA_VALUE (CKR_ATTRIBUTE_SENSITIVE)', async () => {
    const key = await generated('customer-value');
    // A second handle on the same library shares its state and the Hsm's login.
    const pkcs11 = new pkcs11js.PKCS11();
    pkcs11.load(options.modulePath);
    expect(() => pkcs11.C_Initialize()).toThrow(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    const slot = pkcs11.C_GetSlotList(true).find((candidate) => {
      return pkcs11.C_GetTokenInfo(candidate).label.trim() === TOKEN_LABEL;
    });
    expect(slot).toBeDefined();
    const session = pkcs11.C_OpenSession(slot!, pkcs11js.CKF_SERIAL_SESSION);
    try {
      pkcs11.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_ID, value: Buffer.from(key.id, 'hex') },
      ]);
      const found = pkcs11.C_FindObjects(session, 2);
      pkcs11.C_FindObjectsFinal(session);
      expect(found).toHaveLength(1);
      expect(() => pkcs11.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
    } finally {
      pkcs11.C_CloseSession(session);
    }
  });

  it('is listed by pkcs11-tool as sensitive and never extractable, usable to sign only', async () => {
    const key = await generated('customer-listed');
    const listing = spawnSync(
      'pkcs11-tool',
      [
        '--module',
        options.modulePath,
        '--token-label',
        TOKEN_LABEL,
        '--login',
        '--pin',
        options.userPin,
        '--list-objects',
      ],
      { encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: options.configPath } },
    );
    expect(listing.status).toBe(0);
    // One block per object: a heading line, then indented "name: value" lines.
    const blocks = listing.stdout.split(/\n(?=\S)/);
    const privateBlock = blocks.find(
      (block) => block.startsWith('Private Key Object; EC') && block.includes(`ID:         ${key.id}`),
    );
    expect(privateBlock, listing.stdout).toBeDefined();
    const access = /^\s*Access:\s*(.*)$/m.exec(privateBlock!)?.[1]?.split(', ');
    expect(access).toEqual(expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable']));
    expect(access).not.toContain('extractable');
    expect(/^\s*Usage:\s*(.*)$/m.exec(privateBlock!)?.[1]).toBe('sign');
  });
});

describe('a destroyed key', () => {
  it('is gone: not found, and its signer fails with HSM_UNAVAILABLE without signing', async () => {
    const key = await hsm.generateSigningKey('customer-destroyed');
    const signer = hsm.signer(key);
    await signer.sign(new Uint8Array(1));
    await hsm.destroySigningKey(key.id);
    expect(await hsm.findSigningKey(key.id)).toBeUndefined();
    const outcome = await signer.sign(new Uint8Array(1)).then(
      (signature) => signature,
      (error: unknown) => error,
    );
    expect(isMpayError(outcome, 'HSM_UNAVAILABLE')).toBe(true);
    await expect(signPayload({ amount: '1.00' }, claims, signer)).rejects.toMatchObject({
      code: 'HSM_UNAVAILABLE',
    });
    await expect(hsm.attributesOf(key.id)).rejects.toMatchObject({ code: 'HSM_UNAVAILABLE' });
    await hsm.destroySigningKey(key.id);
  });

  it('an unknown or malformed id finds nothing', async () => {
    expect(await hsm.findSigningKey('00'.repeat(16))).toBeUndefined();
    expect(await hsm.findSigningKey('not an id')).toBeUndefined();
  });
});
