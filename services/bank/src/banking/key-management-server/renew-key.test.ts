import { randomUUID } from 'node:crypto';
import { type GeneratedKeyPair, type PublicJwk, verifyKeyBinding } from '@mpay/envelope';
import type { BankingRequest } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOfError } from '../../../../../test/support/code-of.ts';
import { BindingRejected, boundKeyOfKid, boundKeyOfSerial } from '../../macro/device.ts';
import { startTestBank, type TestBank } from '../../test-helpers.ts';
import type { BankingContext } from '../context.ts';
import {
  type BankingDevice,
  bankingTransactionsOf,
  createBankingCustomer,
  enrolBankingDevice,
  openedRequest,
  openSession,
  renewalKeys,
  sessionState,
} from './fixture.test-helper.ts';
import { issueRenewalNotice } from './renewal-notices.ts';
import { listRenewalNotices, renewKey, revokeDevice } from './requests.ts';

function renewRequest(
  noticeId: string,
  keys: { signing: GeneratedKeyPair; encryption: GeneratedKeyPair; proof: string },
  signingJwk: PublicJwk = keys.signing.publicJwk,
): BankingRequest {
  return {
    kind: 'renew_key',
    noticeId,
    signingJwk: { ...signingJwk },
    encryptionJwk: { ...keys.encryption.publicJwk },
    proof: keys.proof,
  };
}

async function noticeRow(bank: TestBank, id: string) {
  const { rows } = await bank.database.query<{ state: string; renewed_serial: string | null }>(
    'SELECT state, renewed_serial FROM banking_renewal_notices WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function isRevoked(bank: TestBank, serial: string): Promise<boolean> {
  const { rows } = await bank.database.query('SELECT 1 FROM key_binding_revocations WHERE serial = $1', [
    serial,
  ]);
  return rows.length > 0;
}

describe('the renew_key request (SA2pMP §4.3)', () => {
  let bank: TestBank;
  let context: BankingContext;

  beforeAll(async () => {
    bank = await startTestBank({ banking: {} });
    context = bank.service.banking!;
  });
  afterAll(() => bank.close());

  async function noticedDevice(): Promise<{ device: BankingDevice; noticeId: string }> {
    const device = await enrolBankingDevice(bank, await createBankingCustomer(bank));
    const issued = await issueRenewalNotice(
      context,
      { serial: device.key.serial, reason: 'rotation', createdBy: 'test-operator' },
      bank.now(),
    );
    return { device, noticeId: issued.notice.id };
  }

  async function renew(device: BankingDevice, request: BankingRequest) {
    return renewKey(context, await openedRequest(bank, context, device, request), bank.now());
  }

  async function refusal(device: BankingDevice, request: BankingRequest): Promise<string | undefined> {
    return codeOfError(await renew(device, request).catch((error: unknown) => error));
  }

  it('renews the key signed by the old one: a new binding, the old revoked, the notice completed', async () => {
    const { device, noticeId } = await noticedDevice();
    const { partyId } = device.customer;
    const other = await enrolBankingDevice(bank, device.customer);
    const keys = await renewalKeys(bank, partyId, noticeId);
    const opened = await openedRequest(bank, context, device, renewRequest(noticeId, keys));
    const result = await renewKey(context, opened, bank.now());
    expect(result).toEqual({
      serial: expect.any(String),
      binding: expect.any(String),
      renewedFrom: device.key.serial,
    });
    const serial = result.serial as string;
    expect(serial).not.toBe(device.key.serial);

    // The new binding verifies under the bank's key: same party, device and accounts, the new keys.
    const binding = await verifyKeyBinding(result.binding, (kid) => context.bank.resolveKey(kid), {
      isRevoked: (revoked) => isRevoked(bank, revoked),
      issuer: 'xbank',
      now: () => bank.now().getTime(),
    });
    expect(binding).toMatchObject({
      subject: partyId,
      serialNumber: serial,
      deviceId: device.key.deviceId,
      accounts: [device.customer.accountId],
      signingJwk: { kid: keys.signing.publicJwk.kid },
      encryptionJwk: { kid: keys.encryption.publicJwk.kid },
    });
    expect(binding.notAfter - binding.notBefore).toBe(context.limits.keyBindingValidityDays * 86_400);
    expect(
      (await boundKeyOfKid(bank.database, context.bank, keys.signing.publicJwk.kid!, bank.now(), false))
        .serial,
    ).toBe(serial);
    // Stored as a renewal: no enrolment code, renews the old binding; the device's registration carried over.
    const stored = await bank.database.query<{ enrolment_code_id: string | null; renews: string | null }>(
      'SELECT enrolment_code_id, renews FROM key_bindings WHERE serial = $1',
      [serial],
    );
    expect(stored.rows).toEqual([{ enrolment_code_id: null, renews: device.key.serial }]);
    const carried = await bank.database.query<Record<string, unknown>>(
      `SELECT n.party_id, n.sim, n.phone_id, n.registration, n.renewed_from, o.registration AS old_registration
       FROM banking_devices AS n JOIN banking_devices AS o ON o.serial = n.renewed_from WHERE n.serial = $1`,
      [serial],
    );
    expect(carried.rows).toEqual([
      {
        party_id: partyId,
        sim: device.clientId.sim,
        phone_id: device.clientId.phoneId,
        registration: `registration of ${device.key.serial}`,
        renewed_from: device.key.serial,
        old_registration: `registration of ${device.key.serial}`,
      },
    ]);

    // The old binding is revoked ('renewed', by the party), its sessions closed; the party's other device untouched.
    const revocation = await bank.database.query<{ reason: string; revoked_by: string }>(
      'SELECT reason, revoked_by FROM key_binding_revocations WHERE serial = $1',
      [device.key.serial],
    );
    expect(revocation.rows).toEqual([{ reason: 'renewed', revoked_by: partyId }]);
    expect(await sessionState(bank, device.sessionId)).toEqual({ state: 'closed', reason: 'key renewed' });
    expect((await sessionState(bank, other.sessionId)).state).toBe('active');
    expect(await noticeRow(bank, noticeId)).toEqual({ state: 'completed', renewed_serial: serial });
    expect(await bankingTransactionsOf(bank, partyId)).toEqual([
      { id: opened.requestId, kind: 'renew_key', messages: [opened.jws, expect.any(String)] },
    ]);

    // The old key is refused from now on: as a bound key, and for any request in a session of it.
    await expect(
      boundKeyOfKid(bank.database, context.bank, device.key.signing.publicJwk.kid!, bank.now(), false),
    ).rejects.toThrow(BindingRejected);
    const oldRevoke = await revokeDevice(
      context,
      await openedRequest(bank, context, device, {
        kind: 'revoke_device',
        serial: other.key.serial,
        reason: 'lost',
      }),
      bank.now(),
    ).catch((error: unknown) => error);
    expect(codeOfError(oldRevoke)).toBe('BANKING_REQUEST_INVALID');
    // The completed notice cannot be answered again, not even with fresh keys.
    expect(await refusal(device, renewRequest(noticeId, await renewalKeys(bank, partyId, noticeId)))).toBe(
      'BANKING_RENEWAL_INVALID',
    );

    // The renewed device works on: its own session under the new binding lists no notice.
    const renewed = await registerDeviceSession(device, serial, keys.signing);
    expect(
      await listRenewalNotices(
        context,
        await openedRequest(bank, context, renewed, { kind: 'renewal_notices' }),
        bank.now(),
      ),
    ).toEqual({
      notices: [],
    });
    await boundKeyOfSerial(bank.database, context.bank, serial, bank.now(), false);
  });

  /** A session of the renewed binding (the device's next login), with the new key. */
  async function registerDeviceSession(device: BankingDevice, serial: string, signing: GeneratedKeyPair) {
    const published = await bank.call('GET', `/key-bindings/${serial}`);
    const key = { ...device.key, serial, signing, binding: published.body.binding as string };
    const sessionId = await openSession(bank, { customer: device.customer, key });
    return { ...device, key, sessionId };
  }

  it('refuses a renewal signed by another key than the noticed one (another device of the party)', async () => {
    const { device, noticeId } = await noticedDevice();
    const sibling = await enrolBankingDevice(bank, device.customer);
    const keys = await renewalKeys(bank, device.customer.partyId, noticeId);
    expect(await refusal(sibling, renewRequest(noticeId, keys))).toBe('BANKING_RENEWAL_INVALID');
    expect(await noticeRow(bank, noticeId)).toEqual({ state: 'sent', renewed_serial: null });
    expect(await isRevoked(bank, device.key.serial)).toBe(false);
    expect(await isRevoked(bank, sibling.key.serial)).toBe(false);
    expect(await bankingTransactionsOf(bank, device.customer.partyId)).toEqual([]);
  });

  it('refuses a wrong proof of possession of the new key', async () => {
    const { device, noticeId } = await noticedDevice();
    const { partyId } = device.customer;
    const stranger = await renewalKeys(bank, partyId, noticeId);
    const proofs = [
      // Signed by a key other than the new one.
      await renewalKeys(bank, partyId, noticeId, { signer: stranger.signing }),
      // Another transaction (not the notice).
      await renewalKeys(bank, partyId, noticeId, { transactionId: randomUUID() }),
      // The content names another bank, or carries one more member.
      await renewalKeys(bank, partyId, noticeId, {
        content: { renewal: { noticeId, partyId, bank: 'ybank' } },
      }),
      await renewalKeys(bank, partyId, noticeId, {
        content: { renewal: { noticeId, partyId, bank: 'xbank' }, extra: true },
      }),
      await renewalKeys(bank, partyId, noticeId, {
        content: { renewal: { noticeId, partyId, bank: 'xbank', more: 1 } },
      }),
    ];
    for (const keys of proofs) {
      expect(await refusal(device, renewRequest(noticeId, keys))).toBe('BANKING_RENEWAL_INVALID');
    }
    // The right proof for other keys than the ones presented.
    const good = await renewalKeys(bank, partyId, noticeId);
    expect(await refusal(device, renewRequest(noticeId, { ...good, proof: stranger.proof }))).toBe(
      'BANKING_RENEWAL_INVALID',
    );
    expect(await noticeRow(bank, noticeId)).toEqual({ state: 'sent', renewed_serial: null });
    expect(await isRevoked(bank, device.key.serial)).toBe(false);
    // And the right one passes, so the refusals above were for their proofs.
    expect((await renew(device, renewRequest(noticeId, good))).renewedFrom).toBe(device.key.serial);
  });

  it('refuses an unknown notice, a signing key already bound and keys that are not valid', async () => {
    const { device, noticeId } = await noticedDevice();
    const { partyId } = device.customer;
    const unknown = randomUUID();
    expect(await refusal(device, renewRequest(unknown, await renewalKeys(bank, partyId, unknown)))).toBe(
      'BANKING_RENEWAL_INVALID',
    );
    // The new signing key is one bound already (another device's), with a valid proof by it.
    const sibling = await enrolBankingDevice(bank, device.customer);
    const bound = await renewalKeys(bank, partyId, noticeId, { signer: sibling.key.signing });
    expect(await refusal(device, renewRequest(noticeId, { ...bound, signing: sibling.key.signing }))).toBe(
      'BANKING_RENEWAL_INVALID',
    );
    // The old key again.
    const same = await renewalKeys(bank, partyId, noticeId, { signer: device.key.signing });
    expect(await refusal(device, renewRequest(noticeId, { ...same, signing: device.key.signing }))).toBe(
      'BANKING_RENEWAL_INVALID',
    );
    // An encryption key offered as the signing key.
    const keys = await renewalKeys(bank, partyId, noticeId);
    expect(await refusal(device, renewRequest(noticeId, keys, keys.encryption.publicJwk))).toBe(
      'BANKING_RENEWAL_INVALID',
    );
    expect(await noticeRow(bank, noticeId)).toEqual({ state: 'sent', renewed_serial: null });
    expect(await bankingTransactionsOf(bank, partyId)).toEqual([]);
  });

  it('refuses a renewal whose old binding was revoked while it was in flight', async () => {
    const { device, noticeId } = await noticedDevice();
    const opened = await openedRequest(
      bank,
      context,
      device,
      renewRequest(noticeId, await renewalKeys(bank, device.customer.partyId, noticeId)),
    );
    expect(
      (await bank.call('POST', `/key-bindings/${device.key.serial}/revocation`, { reason: 'lost' })).status,
    ).toBe(201);
    const error = await renewKey(context, opened, bank.now()).catch((caught: unknown) => caught);
    expect(codeOfError(error)).toBe('BANKING_REQUEST_INVALID');
    expect(await noticeRow(bank, noticeId)).toEqual({ state: 'sent', renewed_serial: null });
  });
});
