import { createHash } from 'node:crypto';
import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  verifyKeyCertificate,
} from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBank, openTestGateway, type TestGateway } from '../test-helpers.ts';
import {
  certificateBySigningKid,
  certifyKeys,
  certifyMerchantNames,
  issuedCertificateByReference,
  revokeCertificate,
} from './certificates.ts';
import { upsertParty } from './parties.ts';

describe('certifyMerchantNames (at start: certificates issued before names were certified)', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await openTestGateway();
    await addBank(gateway.database, 'ybank');
  });
  afterAll(async () => {
    await gateway.close();
  });

  /** A merchant registered as before this change: its certificate names no one. */
  async function unnamedMerchant(
    name: string,
    displayName: string = name,
  ): Promise<{ id: string; signing: GeneratedKeyPair }> {
    const id = `${name}@merchant.ybank`;
    const signing = await generateSigningKeyPair();
    await upsertParty(gateway.database, {
      id,
      kind: 'merchant',
      displayName,
      bankId: 'ybank',
      webhookUrl: null,
    });
    await certifyKeys(gateway.database, gateway.fsp, {
      partyId: id,
      signingJwk: signing.publicJwk,
      encryptionJwk: (await generateEncryptionKeyPair()).publicJwk,
      validityDays: 30,
      now: gateway.now(),
    });
    return { id, signing };
  }

  async function storedCertificate(signing: GeneratedKeyPair) {
    const record = await certificateBySigningKid(gateway.database, signing.kid);
    if (record === undefined) throw new Error(`no certificate for ${signing.kid}`);
    const verified = await verifyKeyCertificate(
      record.certificate,
      async () => gateway.fsp.signing.publicJwk,
      {
        isRevoked: () => false,
        now: () => gateway.now().getTime(),
      },
    );
    return { record, verified };
  }

  it('names every merchant in its certificate, in batches, once; leaves revoked ones and refused names alone', async () => {
    const merchants = [
      await unnamedMerchant('tailor', 'The Tailor'),
      await unnamedMerchant('baker', 'Пекара Бејкер'),
      await unnamedMerchant('smith', 'Smith & Sons'),
    ];
    const revoked = await unnamedMerchant('gone', 'Gone Ltd');
    const revokedBefore = await storedCertificate(revoked.signing);
    await revokeCertificate(gateway.database, revokedBefore.record.serialNumber, 'closed');
    // Registered when any text was accepted: the certificate cannot carry it.
    const tricky = await unnamedMerchant('tricky', 'Tricky \u202eLtd');
    const trickyBefore = await storedCertificate(tricky.signing);
    const before = await Promise.all(merchants.map((merchant) => storedCertificate(merchant.signing)));
    expect(before.map(({ verified }) => verified.name)).toEqual([undefined, undefined, undefined]);

    expect(await certifyMerchantNames(gateway.database, gateway.fsp, gateway.now(), 2)).toEqual({
      reissued: 3,
      refused: 1,
    });
    const after = await Promise.all(merchants.map((merchant) => storedCertificate(merchant.signing)));
    expect(after.map(({ verified }) => verified.name)).toEqual([
      'The Tailor',
      'Пекара Бејкер',
      'Smith & Sons',
    ]);
    for (const [index, { verified, record }] of after.entries()) {
      const previous = before[index]!;
      expect(verified).toMatchObject({
        subject: merchants[index]!.id,
        signingJwk: previous.verified.signingJwk,
        encryptionJwk: previous.verified.encryptionJwk,
        notBefore: previous.verified.notBefore,
        notAfter: previous.verified.notAfter,
      });
      expect(record.serialNumber).toBe(verified.serialNumber);
      expect(record.serialNumber).not.toBe(previous.record.serialNumber);
    }
    expect((await certificateBySigningKid(gateway.database, revoked.signing.kid))?.certificate).toBe(
      revokedBefore.record.certificate,
    );
    expect((await storedCertificate(tricky.signing)).record).toEqual(trickyBefore.record);

    // Run again (the next start): nothing left to re-issue.
    expect(await certifyMerchantNames(gateway.database, gateway.fsp, gateway.now())).toEqual({
      reissued: 0,
      refused: 1,
    });
    const again = await Promise.all(merchants.map((merchant) => storedCertificate(merchant.signing)));
    expect(again.map(({ record }) => record.certificate)).toEqual(
      after.map(({ record }) => record.certificate),
    );
  });

  it('keeps every certificate it issued by its reference, also once issued again with a name, until its key is revoked', async () => {
    const { id, signing } = await unnamedMerchant('referenced', 'Referenced Goods');
    const first = (await certificateBySigningKid(gateway.database, signing.kid))?.certificate ?? '';
    await certifyMerchantNames(gateway.database, gateway.fsp, gateway.now());
    const second = (await certificateBySigningKid(gateway.database, signing.kid))?.certificate ?? '';
    expect(second).not.toBe(first);
    // The reference as a wallet computes it, independently of the migration's SQL.
    const referenceOf = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');
    expect(await issuedCertificateByReference(gateway.database, referenceOf(first))).toBe(first);
    expect(await issuedCertificateByReference(gateway.database, referenceOf(second))).toBe(second);
    expect(await issuedCertificateByReference(gateway.database, referenceOf('another text'))).toBeUndefined();
    const record = await certificateBySigningKid(gateway.database, signing.kid);
    await revokeCertificate(gateway.database, record?.serialNumber ?? '', `test: ${id} revoked`);
    expect(await issuedCertificateByReference(gateway.database, referenceOf(first))).toBeUndefined();
    expect(await issuedCertificateByReference(gateway.database, referenceOf(second))).toBeUndefined();
  });

  it('refuses a batch size that is not a positive integer', async () => {
    for (const size of [0, -1, 1.5]) {
      await expect(certifyMerchantNames(gateway.database, gateway.fsp, gateway.now(), size)).rejects.toThrow(
        RangeError,
      );
    }
  });
});
