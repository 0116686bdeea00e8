import { generateEncryptionKeyPair, generateSigningKeyPair, verifyKeyCertificate } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOfError } from '../../../../test/support/code-of.ts';
import { addBank, openTestGateway, type TestGateway } from '../test-helpers.ts';
import { certificateBySigningKid, revokeCertificate } from './certificates.ts';
import { findParty } from './parties.ts';
import { type MerchantRegistration, registerMerchant } from './register.ts';

describe('registerMerchant', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await openTestGateway();
    await addBank(gateway.database, 'ybank');
  });
  afterAll(async () => {
    await gateway.close();
  });

  async function registration(
    name: string,
    extra: Partial<MerchantRegistration> = {},
  ): Promise<MerchantRegistration> {
    return {
      id: `${name}@merchant.ybank`,
      displayName: name,
      webhookUrl: `https://${name}.example/hooks`,
      signingJwk: (await generateSigningKeyPair()).publicJwk,
      encryptionJwk: (await generateEncryptionKeyPair()).publicJwk,
      ...extra,
    };
  }

  /** As the route does it: one transaction, rolled back on any refusal. */
  function register(input: MerchantRegistration) {
    return gateway.database.transaction((sql) => registerMerchant(gateway.context, sql, input));
  }

  async function certificateRows(partyId: string): Promise<number> {
    const { rows } = await gateway.database.query<{ count: string }>(
      'SELECT count(*)::text AS count FROM key_certificates WHERE party_id = $1',
      [partyId],
    );
    return Number(rows[0]?.count);
  }

  it('registers the merchant and issues a certificate of its keys, signed by the FSP', async () => {
    const input = await registration('shop');
    const registered = await register(input);
    expect(registered.id).toBe('shop@merchant.ybank');
    const certificate = await verifyKeyCertificate(
      registered.certificate,
      async () => gateway.fsp.signing.publicJwk,
      {
        isRevoked: () => false,
      },
    );
    expect(certificate).toMatchObject({
      issuer: gateway.fsp.id,
      subject: 'shop@merchant.ybank',
      name: 'shop',
      signingJwk: input.signingJwk,
      encryptionJwk: input.encryptionJwk,
    });
    expect(await findParty(gateway.database, 'shop@merchant.ybank')).toEqual({
      id: 'shop@merchant.ybank',
      kind: 'merchant',
      displayName: 'shop',
      bankId: 'ybank',
      webhookUrl: 'https://shop.example/hooks',
    });
  });

  it('answers the same certificate when the same merchant registers the same key again', async () => {
    const input = await registration('bakery');
    const first = await register(input);
    expect(await register(input)).toEqual(first);
    expect(await certificateRows('bakery@merchant.ybank')).toBe(1);
  });

  it('re-issues the certificate of the same key with the new name when the merchant is renamed', async () => {
    const input = await registration('patisserie');
    const first = await register(input);
    const kid = String((input.signingJwk as { kid: string }).kid);
    const before = await certificateBySigningKid(gateway.database, kid);
    const renamed = await register({ ...input, displayName: '  La Pâtisserie  ' });
    expect(renamed.certificate).not.toBe(first.certificate);
    const verify = (certificate: string) =>
      verifyKeyCertificate(certificate, async () => gateway.fsp.signing.publicJwk, {
        isRevoked: () => false,
        now: () => gateway.now().getTime(),
      });
    const [previous, current] = [await verify(first.certificate), await verify(renamed.certificate)];
    expect(current.name).toBe('La Pâtisserie');
    expect(current).toMatchObject({
      subject: previous.subject,
      signingJwk: previous.signingJwk,
      encryptionJwk: previous.encryptionJwk,
      notBefore: previous.notBefore,
      notAfter: previous.notAfter,
    });
    expect(current.serialNumber).not.toBe(previous.serialNumber);
    // One certificate per key, replaced in place: the registry answers the new one.
    expect(await certificateRows('patisserie@merchant.ybank')).toBe(1);
    const after = await certificateBySigningKid(gateway.database, kid);
    expect(after).toMatchObject({ serialNumber: current.serialNumber, certificate: renamed.certificate });
    expect(after?.serialNumber).not.toBe(before?.serialNumber);
    expect((await findParty(gateway.database, 'patisserie@merchant.ybank'))?.displayName).toBe(
      'La Pâtisserie',
    );
  });

  it('refuses a name the certificate may not carry, and leaves the registration as it was', async () => {
    const input = await registration('deli');
    const first = await register(input);
    for (const displayName of ['Deli \u202eileD', 'Deli\u0007', 'De\u2066li\u2069', 'Deli\u200bDeli']) {
      expect([displayName, await register({ ...input, displayName }).catch(codeOfError)]).toEqual([
        displayName,
        'REQUEST_INVALID',
      ]);
    }
    expect((await findParty(gateway.database, 'deli@merchant.ybank'))?.displayName).toBe('deli');
    const kid = String((input.signingJwk as { kid: string }).kid);
    expect((await certificateBySigningKid(gateway.database, kid))?.certificate).toBe(first.certificate);
    const fresh = await registration('cheese');
    expect(await register({ ...fresh, displayName: 'Cheese \u202eeseehC' }).catch(codeOfError)).toBe(
      'REQUEST_INVALID',
    );
    expect(await findParty(gateway.database, fresh.id)).toBeUndefined();
  });

  it("refuses another merchant's key, and leaves nothing of the refused registration", async () => {
    const input = await registration('florist');
    await register(input);
    const refused = await register({
      ...(await registration('copycat')),
      signingJwk: input.signingJwk,
    }).catch(codeOfError);
    expect(refused).toBe('CRYPTO_KEY_INVALID');
    expect(await findParty(gateway.database, 'copycat@merchant.ybank')).toBeUndefined();
    const certificate = await certificateBySigningKid(
      gateway.database,
      String((input.signingJwk as { kid: string }).kid),
    );
    expect(certificate?.partyId).toBe('florist@merchant.ybank');
  });

  it('refuses a key whose certificate was revoked, even for the merchant it belonged to', async () => {
    const input = await registration('grocer');
    await register(input);
    const kid = String((input.signingJwk as { kid: string }).kid);
    const certificate = await certificateBySigningKid(gateway.database, kid);
    await revokeCertificate(gateway.database, certificate?.serialNumber ?? '', 'key compromised');
    expect(await register(input).catch(codeOfError)).toBe('CRYPTO_KEY_INVALID');
  });

  it('refuses malformed registrations before storing anything', async () => {
    const cases: [string, Partial<MerchantRegistration>, string][] = [
      ['a person id', { id: 'ann@person.ybank' }, 'PARTY_ID_INVALID'],
      ['a bank id', { id: 'ybank' }, 'PARTY_ID_INVALID'],
      ['a bank the FSP does not know', { id: 'shop@merchant.zbank' }, 'BANK_UNKNOWN'],
      ['a blank name', { displayName: '   ' }, 'REQUEST_INVALID'],
      ['a name too long', { displayName: 'x'.repeat(101) }, 'REQUEST_INVALID'],
      ['a webhook that is not http(s)', { webhookUrl: 'javascript:alert(1)' }, 'REQUEST_INVALID'],
      ['a webhook that is no URL', { webhookUrl: 'not a url' }, 'REQUEST_INVALID'],
    ];
    for (const [name, change, code] of cases) {
      const input = {
        ...(await registration(`m${cases.findIndex((entry) => entry[0] === name)}`)),
        ...change,
      };
      expect([name, await register(input).catch(codeOfError)]).toEqual([name, code]);
      expect(await findParty(gateway.database, input.id)).toBeUndefined();
    }
    const keys = await registration('swapped');
    expect(
      await register({ ...keys, signingJwk: keys.encryptionJwk, encryptionJwk: keys.signingJwk }).catch(
        codeOfError,
      ),
    ).toBe('CRYPTO_KEY_INVALID');
    expect(await findParty(gateway.database, 'swapped@merchant.ybank')).toBeUndefined();
    const privateKey = (await generateSigningKeyPair()).privateJwk;
    const leaky = await register({ ...(await registration('leaky')), signingJwk: privateKey }).then(
      () => 'registered',
      codeOfError,
    );
    expect(leaky).not.toBe('registered');
    expect(await findParty(gateway.database, 'leaky@merchant.ybank')).toBeUndefined();
  });
});

describe('registerAlias', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await openTestGateway();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('answers PARTY_UNKNOWN for a party the FSP has not registered yet (not the foreign key as an internal error)', async () => {
    const { registerAlias } = await import('./bindings.ts');
    const outcome = await gateway.database
      .transaction((sql) => registerAlias(sql, '+38970999888', 'nobody.yet@person.xbank'))
      .then(
        () => 'registered',
        (error: unknown) => codeOfError(error),
      );
    expect(outcome).toBe('PARTY_UNKNOWN');
  });
});
