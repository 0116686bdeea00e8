import { type GeneratedKeyPair, generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOfError } from '../../../../test/support/code-of.ts';
import {
  addBank,
  enrolCustomer,
  openTestGateway,
  type TestBank,
  type TestGateway,
  testFspIdentity,
} from '../test-helpers.ts';
import { revokeBinding } from './bindings.ts';
import { certificateBySigningKid, revokeCertificate } from './certificates.ts';
import { type KeyLookup, partyEncryptionKey, partySigningKeyResolver } from './keys.ts';
import { registerMerchant } from './register.ts';

const day = 86_400_000;

describe('partySigningKeyResolver', () => {
  let gateway: TestGateway;
  let xbank: TestBank;

  beforeAll(async () => {
    gateway = await openTestGateway({ limits: { certificateValidityDays: 30 } });
    xbank = await addBank(gateway.database, 'xbank');
  });
  afterAll(async () => {
    await gateway.close();
  });

  function lookupAt(now: Date, fsp = gateway.fsp): KeyLookup {
    return { sql: gateway.database, fsp, clockSkewSeconds: 60, now };
  }

  async function merchant(
    name: string,
  ): Promise<{ id: string; signing: GeneratedKeyPair; encryption: GeneratedKeyPair }> {
    const signing = await generateSigningKeyPair();
    const encryption = await generateEncryptionKeyPair();
    const id = `${name}@merchant.xbank`;
    await gateway.database.transaction((sql) =>
      registerMerchant(gateway.context, sql, {
        id,
        displayName: name,
        signingJwk: signing.publicJwk,
        encryptionJwk: encryption.publicJwk,
      }),
    );
    return { id, signing, encryption };
  }

  async function resolve(lookup: KeyLookup, kid: string, partyId?: string, owner?: { partyId?: string }) {
    const header = { alg: 'ES256', kid, typ: 'mpay+jws' } as const;
    return Promise.resolve()
      .then(() => partySigningKeyResolver(lookup, partyId, owner)(kid, header))
      .catch(codeOfError);
  }

  it("resolves a customer's key by its bank's binding and a merchant's by the FSP's certificate, for that party only", async () => {
    const ann = await enrolCustomer(gateway.database, xbank, 'ann');
    const shop = await merchant('shop');
    const now = gateway.now();
    expect(await resolve(lookupAt(now), ann.signing.kid, ann.id)).toEqual(ann.signing.publicJwk);
    expect(await resolve(lookupAt(now), shop.signing.kid, shop.id)).toEqual(shop.signing.publicJwk);
    // Someone else's key is unknown for this party, whichever way it is registered.
    expect(await resolve(lookupAt(now), ann.signing.kid, shop.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(now), shop.signing.kid, ann.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(now), (await generateSigningKeyPair()).kid, ann.id)).toBe('KEY_UNKNOWN');
    // The encryption key is no signing key.
    expect(await resolve(lookupAt(now), ann.encryption.kid, ann.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(now), shop.encryption.kid, shop.id)).toBe('KEY_UNKNOWN');
  });

  it('names the owner of the key when any registered party may sign (request tokens)', async () => {
    const bob = await enrolCustomer(gateway.database, xbank, 'bob');
    const kiosk = await merchant('kiosk');
    const now = gateway.now();
    const owner: { partyId?: string } = {};
    expect(await resolve(lookupAt(now), bob.signing.kid, undefined, owner)).toEqual(bob.signing.publicJwk);
    expect(owner.partyId).toBe(bob.id);
    expect(await resolve(lookupAt(now), kiosk.signing.kid, undefined, owner)).toEqual(
      kiosk.signing.publicJwk,
    );
    expect(owner.partyId).toBe(kiosk.id);
    const untouched: { partyId?: string } = {};
    expect(await resolve(lookupAt(now), (await generateSigningKeyPair()).kid, undefined, untouched)).toBe(
      'KEY_UNKNOWN',
    );
    expect(untouched.partyId).toBeUndefined();
  });

  it('refuses a revoked certificate', async () => {
    const shop = await merchant('grocer');
    const record = await certificateBySigningKid(gateway.database, shop.signing.kid);
    await revokeCertificate(gateway.database, record?.serialNumber ?? '', 'key compromised');
    expect(await resolve(lookupAt(gateway.now()), shop.signing.kid, shop.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(gateway.now()), shop.signing.kid)).toBe('KEY_UNKNOWN');
    expect(
      await partyEncryptionKey(lookupAt(gateway.now()), { id: shop.id, kind: 'merchant' }).catch(codeOfError),
    ).toBe('KEY_UNKNOWN');
  });

  it('refuses a certificate past its validity, and one the FSP did not sign', async () => {
    const shop = await merchant('florist');
    const now = gateway.now();
    expect(await resolve(lookupAt(new Date(now.getTime() + 29 * day)), shop.signing.kid, shop.id)).toEqual(
      shop.signing.publicJwk,
    );
    expect(await resolve(lookupAt(new Date(now.getTime() + 31 * day)), shop.signing.kid, shop.id)).toBe(
      'KEY_UNKNOWN',
    );
    // A stored certificate is checked against the FSP's key, not trusted because it is in the table.
    const otherFsp = await testFspIdentity(gateway.fsp.id);
    expect(await resolve(lookupAt(now, otherFsp), shop.signing.kid, shop.id)).toBe('KEY_UNKNOWN');
  });

  it('refuses a revoked binding, and falls back to no other', async () => {
    const carol = await enrolCustomer(gateway.database, xbank, 'carol');
    await revokeBinding(gateway.database, 'xbank', carol.serialNumber, gateway.now());
    expect(await resolve(lookupAt(gateway.now()), carol.signing.kid, carol.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(gateway.now()), carol.signing.kid)).toBe('KEY_UNKNOWN');
  });

  it('refuses a binding outside its validity period (expired, or not valid yet)', async () => {
    const now = gateway.now();
    const seconds = Math.floor(now.getTime() / 1000);
    const dave = await enrolCustomer(gateway.database, xbank, 'dave', {
      notBefore: seconds - 7_200,
      notAfter: seconds - 3_600,
    });
    expect(await resolve(lookupAt(now), dave.signing.kid, dave.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(new Date((seconds - 5_000) * 1000)), dave.signing.kid, dave.id)).toEqual(
      dave.signing.publicJwk,
    );
    // The end of the period is outside it.
    expect(await resolve(lookupAt(new Date((seconds - 3_600) * 1000)), dave.signing.kid, dave.id)).toBe(
      'KEY_UNKNOWN',
    );
    const erin = await enrolCustomer(gateway.database, xbank, 'erin', {
      notBefore: seconds + 3_600,
      notAfter: seconds + 7_200,
    });
    expect(await resolve(lookupAt(now), erin.signing.kid, erin.id)).toBe('KEY_UNKNOWN');
    expect(await resolve(lookupAt(new Date((seconds + 3_600) * 1000)), erin.signing.kid, erin.id)).toEqual(
      erin.signing.publicJwk,
    );
  });
});
