import { generateSigningKeyPair } from '@mpay/envelope';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codeOfError } from '../../../../test/support/code-of.ts';
import {
  addBank,
  closedPortUrl,
  enrolCustomer,
  type HttpStub,
  issueTestBinding,
  openTestGateway,
  startHttpStub,
  type TestBank,
  type TestGateway,
  verifiedCustomer,
} from '../test-helpers.ts';
import {
  activeBindingByKid,
  activeBindingOf,
  devicePushForm,
  forgetEndedDeviceKeys,
  recordDeviceCertificate,
  recordDeviceStream,
  revokeBinding,
  storeCustomer,
  verifyCustomerRegistration,
} from './bindings.ts';
import { findParty } from './parties.ts';

describe('key bindings at the FSP', () => {
  let gateway: TestGateway;
  let xbank: TestBank;
  let ybank: TestBank;
  let statusEndpoint: HttpStub;

  beforeAll(async () => {
    gateway = await openTestGateway();
    statusEndpoint = await startHttpStub(() => ({ status: 404, json: { error: { code: 'NOT_FOUND' } } }));
    xbank = await addBank(gateway.database, 'xbank', statusEndpoint.url);
    ybank = await addBank(gateway.database, 'ybank', statusEndpoint.url);
  });
  afterAll(async () => {
    await statusEndpoint.close();
    await gateway.close();
  });
  beforeEach(() => {
    statusEndpoint.requests.length = 0;
  });

  describe('what a device said when it opened its stream (push form, certificates held)', () => {
    const reference = (letter: string) => letter.repeat(43);
    const formOf = (kid: string, letter: string) => devicePushForm(gateway.database, kid, reference(letter));

    it('records the push form and whether it reads references, and replaces the certificates held', async () => {
      const device = await enrolCustomer(gateway.database, xbank, 'streamer');
      const kid = device.signing.kid;
      const now = gateway.now();
      // Never opened here: the whole message, nothing held.
      expect(await formOf(kid, 'a')).toEqual({ pushFormat: 'v1', holdsCertificate: false });
      await recordDeviceStream(
        gateway.database,
        kid,
        { pushFormat: 'v2', certificates: [reference('a'), reference('b')] },
        now,
      );
      expect(await formOf(kid, 'a')).toEqual({ pushFormat: 'v2', holdsCertificate: true });
      expect(await formOf(kid, 'c')).toEqual({ pushFormat: 'v2', holdsCertificate: false });
      expect(await devicePushForm(gateway.database, kid, undefined)).toEqual({
        pushFormat: 'v2',
        holdsCertificate: false,
      });
      // Listing one held already and a new one (a page reconnecting): kept, added, the other dropped.
      await recordDeviceStream(
        gateway.database,
        kid,
        { pushFormat: 'v2', certificates: [reference('c'), reference('b')] },
        now,
      );
      const held = async () =>
        Promise.all(['a', 'b', 'c'].map(async (letter) => (await formOf(kid, letter)).holdsCertificate));
      expect(await held()).toEqual([false, true, true]);
      // A confirmation adds one; confirming again changes nothing.
      await recordDeviceCertificate(gateway.database, kid, reference('a'), now);
      await recordDeviceCertificate(gateway.database, kid, reference('a'), now);
      expect(await held()).toEqual([true, true, true]);
      // A wallet that does not read references (no `certificates`): none held, and a confirmation adds none.
      await recordDeviceStream(gateway.database, kid, { pushFormat: 'v2', certificates: undefined }, now);
      await recordDeviceCertificate(gateway.database, kid, reference('a'), now);
      expect(await held()).toEqual([false, false, false]);
      await recordDeviceStream(gateway.database, kid, { pushFormat: 'v1', certificates: [] }, now);
      expect(await formOf(kid, 'a')).toEqual({ pushFormat: 'v1', holdsCertificate: false });
    });

    it("forgets the certificates and the stream form of a device whose binding ended, and keeps an active device's", async () => {
      const now = gateway.now();
      const kept = await enrolCustomer(gateway.database, xbank, 'kept');
      const ended = await enrolCustomer(gateway.database, xbank, 'ended');
      for (const device of [kept, ended])
        await recordDeviceStream(
          gateway.database,
          device.signing.kid,
          { pushFormat: 'v2', certificates: [reference('d'), reference('e')] },
          now,
        );
      await revokeBinding(gateway.database, 'xbank', ended.serialNumber, now);
      const streamRows = async (kid: string) =>
        (await gateway.database.query('SELECT 1 FROM device_streams WHERE signing_kid = $1', [kid])).rows
          .length;
      // One row of each table a round at most: the ended key's certificate and its stream row.
      expect(await forgetEndedDeviceKeys(gateway.database, now, 1)).toBe(2);
      expect(await forgetEndedDeviceKeys(gateway.database, now, 10)).toBeGreaterThanOrEqual(1);
      expect((await formOf(ended.signing.kid, 'd')).holdsCertificate).toBe(false);
      expect((await formOf(ended.signing.kid, 'e')).holdsCertificate).toBe(false);
      expect(await streamRows(ended.signing.kid)).toBe(0);
      expect((await formOf(kept.signing.kid, 'd')).holdsCertificate).toBe(true);
      expect(await streamRows(kept.signing.kid)).toBe(1);
      expect(await devicePushForm(gateway.database, kept.signing.kid, undefined)).toEqual({
        pushFormat: 'v2',
        holdsCertificate: false,
      });
    });
  });

  describe('storeCustomer, activeBindingOf and revokeBinding', () => {
    it('stores the person and the FSP copy of the binding, read back as the bank signed it', async () => {
      const ann = await enrolCustomer(gateway.database, xbank, 'ann');
      expect(await findParty(gateway.database, ann.id)).toEqual({
        id: 'ann@person.xbank',
        kind: 'person',
        displayName: 'ann',
        bankId: 'xbank',
        webhookUrl: null,
      });
      const bound = await activeBindingOf(gateway.database, ann.id, gateway.now());
      expect(bound).toMatchObject({
        serialNumber: ann.serialNumber,
        bankId: 'xbank',
        partyId: ann.id,
        deviceId: 'phone-1',
        signingJwk: ann.signing.publicJwk,
        encryptionJwk: ann.encryption.publicJwk,
        accounts: [ann.account],
      });
      expect(await activeBindingByKid(gateway.database, ann.signing.kid, gateway.now())).toEqual(bound);
    });

    it('is idempotent for the same binding', async () => {
      const issued = await issueTestBinding(xbank, { subject: 'bob@person.xbank' });
      const customer = await verifiedCustomer(xbank, issued.binding, 'Bob');
      const first = await storeCustomer(gateway.database, customer, gateway.now());
      const again = await storeCustomer(gateway.database, customer, gateway.now());
      expect(again).toEqual(first);
      const { rows } = await gateway.database.query<{ count: string }>(
        'SELECT count(*)::text AS count FROM key_bindings WHERE party_id = $1',
        ['bob@person.xbank'],
      );
      expect(rows[0]?.count).toBe('1');
    });

    it("uses the customer's newest device, and the older one again when the newest is revoked", async () => {
      const t0 = gateway.now();
      const phone = await enrolCustomer(gateway.database, xbank, 'carol', {
        storedAt: t0,
        deviceId: 'phone',
      });
      const tablet = await enrolCustomer(gateway.database, xbank, 'carol', {
        storedAt: new Date(t0.getTime() + 1_000),
        deviceId: 'tablet',
      });
      expect((await activeBindingOf(gateway.database, phone.id, t0)).deviceId).toBe('tablet');
      await revokeBinding(gateway.database, 'xbank', tablet.serialNumber, t0);
      expect((await activeBindingOf(gateway.database, phone.id, t0)).deviceId).toBe('phone');
      expect(await activeBindingByKid(gateway.database, tablet.signing.kid, t0)).toBeUndefined();
      await revokeBinding(gateway.database, 'xbank', phone.serialNumber, t0);
      expect(await activeBindingOf(gateway.database, phone.id, t0).catch(codeOfError)).toBe('KEY_UNKNOWN');
    });

    it('revokes a binding once, at its own bank only', async () => {
      const dave = await enrolCustomer(gateway.database, xbank, 'dave');
      expect(
        await revokeBinding(gateway.database, 'ybank', dave.serialNumber, gateway.now()).catch(codeOfError),
      ).toBe('NOT_FOUND');
      expect((await activeBindingOf(gateway.database, dave.id, gateway.now())).serialNumber).toBe(
        dave.serialNumber,
      );
      await revokeBinding(gateway.database, 'xbank', dave.serialNumber, gateway.now());
      expect(
        await revokeBinding(gateway.database, 'xbank', dave.serialNumber, gateway.now()).catch(codeOfError),
      ).toBe('NOT_FOUND');
      expect(
        await revokeBinding(gateway.database, 'xbank', 'kb-nonexistent', gateway.now()).catch(codeOfError),
      ).toBe('NOT_FOUND');
    });

    it('does not use a binding outside its validity period', async () => {
      const seconds = Math.floor(gateway.now().getTime() / 1000);
      const erin = await enrolCustomer(gateway.database, xbank, 'erin', {
        notBefore: seconds - 100,
        notAfter: seconds + 100,
      });
      expect(
        (await activeBindingOf(gateway.database, erin.id, new Date((seconds + 99) * 1000))).serialNumber,
      ).toBe(erin.serialNumber);
      expect(
        await activeBindingOf(gateway.database, erin.id, new Date((seconds + 100) * 1000)).catch(codeOfError),
      ).toBe('KEY_UNKNOWN');
      expect(
        await activeBindingOf(gateway.database, erin.id, new Date((seconds - 101) * 1000)).catch(codeOfError),
      ).toBe('KEY_UNKNOWN');
    });

    // One key speaks for one customer: the same device key enrolled at a second bank (each bank only knows
    // its own bindings) is refused at the FSP, instead of being dropped while the registration answers 201.
    it('refuses a binding whose key is already bound to another customer, and keeps the first', async () => {
      const frank = await enrolCustomer(gateway.database, xbank, 'frank');
      const atYbank = await issueTestBinding(ybank, {
        subject: 'frank@person.ybank',
        signing: frank.signing,
        encryption: frank.encryption,
      });
      const refused = await storeCustomer(
        gateway.database,
        await verifiedCustomer(ybank, atYbank.binding, 'frank'),
        gateway.now(),
      ).catch(codeOfError);
      expect(refused).toBe('CRYPTO_KEY_INVALID');
      // The first binding keeps its key.
      expect((await activeBindingByKid(gateway.database, frank.signing.kid, gateway.now()))?.partyId).toBe(
        frank.id,
      );
    });
  });

  describe('verifyCustomerRegistration', () => {
    function verify(binding: string, displayName = 'Grace') {
      return verifyCustomerRegistration(gateway.context, { binding, displayName });
    }

    it("accepts a binding by the customer's own bank that the bank says is active", async () => {
      const issued = await issueTestBinding(xbank, { subject: 'grace@person.xbank' });
      statusEndpoint.answer = (request) =>
        request.url === `/key-bindings/${issued.serialNumber}`
          ? { status: 200, json: { serial: issued.serialNumber, binding: issued.binding, status: 'active' } }
          : { status: 404, json: { error: { code: 'NOT_FOUND' } } };
      const verified = await verify(issued.binding, '  Grace  ');
      expect(verified).toMatchObject({ compact: issued.binding, displayName: 'Grace', bankId: 'xbank' });
      expect(verified.binding).toMatchObject({
        issuer: 'xbank',
        subject: 'grace@person.xbank',
        serialNumber: issued.serialNumber,
        signingJwk: issued.signing.publicJwk,
      });
      expect(statusEndpoint.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        `GET /key-bindings/${issued.serialNumber}`,
      ]);
    });

    it('refuses a binding its bank no longer stands by, or when the bank cannot say', async () => {
      const issued = await issueTestBinding(xbank, { subject: 'heidi@person.xbank' });
      for (const status of ['revoked', 'expired']) {
        statusEndpoint.answer = () => ({ status: 200, json: { serial: issued.serialNumber, status } });
        expect(await verify(issued.binding).catch(codeOfError)).toBe('KEY_BINDING_REVOKED');
      }
      statusEndpoint.answer = () => ({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
      expect(await verify(issued.binding).then(() => 'accepted', codeOfError)).not.toBe('accepted');
      // A bank that answers a success without an object cannot say either (BANK_UNAVAILABLE, never a TypeError).
      for (const text of ['', 'null', '[]', '"active"']) {
        statusEndpoint.answer = () => ({ status: 200, text });
        expect(await verify(issued.binding).catch(codeOfError), JSON.stringify(text)).toBe(
          'BANK_UNAVAILABLE',
        );
      }
      const down = await addBank(gateway.database, 'downbank', await closedPortUrl());
      const atDownBank = await issueTestBinding(down, { subject: 'heidi@person.downbank' });
      expect(await verify(atDownBank.binding).catch(codeOfError)).toBe('BANK_UNAVAILABLE');
    });

    it('refuses, before asking the bank anything, every binding that does not verify on its face', async () => {
      statusEndpoint.answer = () => ({ status: 200, json: { status: 'active' } });
      const seconds = Math.floor(gateway.now().getTime() / 1000);
      const rogue = await generateSigningKeyPair();
      const unregistered: TestBank = { record: { ...xbank.record, id: 'zbank' }, key: rogue };
      const cases: [string, Promise<string>, string, string?][] = [
        [
          'signed by a bank the FSP does not know',
          issueTestBinding(unregistered, { subject: 'ivan@person.zbank' }).then((issued) => issued.binding),
          'BANK_UNKNOWN',
        ],
        [
          "signed by another key than the bank's",
          issueTestBinding(xbank, { subject: 'ivan@person.xbank', signedWith: rogue }).then(
            (issued) => issued.binding,
          ),
          'KEY_BINDING_INVALID',
        ],
        [
          "naming another bank's customer",
          issueTestBinding(xbank, { subject: 'ivan@person.ybank' }).then((issued) => issued.binding),
          'KEY_BINDING_INVALID',
        ],
        [
          'naming a merchant',
          issueTestBinding(xbank, { subject: 'ivan@merchant.xbank' }).then((issued) => issued.binding),
          'KEY_BINDING_INVALID',
        ],
        [
          "claiming another registered bank as issuer, signed with this bank's key",
          issueTestBinding(xbank, { subject: 'ivan@person.ybank', issuer: 'ybank' }).then(
            (issued) => issued.binding,
          ),
          'KEY_BINDING_INVALID',
        ],
        [
          'expired',
          issueTestBinding(xbank, {
            subject: 'ivan@person.xbank',
            notBefore: seconds - 7_200,
            notAfter: seconds - 3_600,
          }).then((issued) => issued.binding),
          'KEY_BINDING_EXPIRED',
        ],
        [
          'not valid yet',
          issueTestBinding(xbank, {
            subject: 'ivan@person.xbank',
            notBefore: seconds + 3_600,
            notAfter: seconds + 7_200,
          }).then((issued) => issued.binding),
          'KEY_BINDING_EXPIRED',
        ],
        ['not a JWS', Promise.resolve('not-a-binding'), 'KEY_BINDING_INVALID'],
        [
          'with a blank display name',
          issueTestBinding(xbank, { subject: 'ivan@person.xbank' }).then((issued) => issued.binding),
          'REQUEST_INVALID',
          ' ',
        ],
      ];
      for (const [name, binding, code, displayName] of cases) {
        expect([name, await verify(await binding, displayName).catch(codeOfError)]).toEqual([name, code]);
      }
      expect(statusEndpoint.requests).toEqual([]);
    });
  });
});
