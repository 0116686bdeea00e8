import { createServer, type Server } from 'node:http';
import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  issueKeyBinding,
  openPrivateData,
  publicJwkSet,
} from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BankTrust, sealForPayment } from './seal.ts';

// The merchant seals a payment's private fields to the customer's device key
// as the customer's bank bound it. The FSP relays that binding; a binding it
// made up (to read the fields itself) must not be used.

const customerId = 'john.bernard@person.xbank';
const merchantId = 'merkur.trade@merchant.ybank';
const transactionId = '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d';

let gateway: Server;
let gatewayUrl: string;
/** What the (possibly lying) FSP answers for GET /parties/:id/sealing-key. */
let answer: Record<string, unknown> = {};
/** What the customer's bank says of binding kb-000001 (GET /key-bindings/:serial). */
let bindingStatus = 'active';
let xbank: GeneratedKeyPair;
let device: GeneratedKeyPair;
let banks: BankTrust[];
let merchantKey: GeneratedKeyPair;

async function bindingBy(bankKey: GeneratedKeyPair, encryption: GeneratedKeyPair, subject = customerId) {
  const now = Math.floor(Date.now() / 1000);
  return issueKeyBinding(
    {
      issuer: 'xbank',
      subject,
      deviceId: 'phone-1',
      accounts: ['0a1b2c3d-0000-4000-8000-000000000001'],
      signingJwk: (await generateSigningKeyPair()).publicJwk,
      encryptionJwk: encryption.publicJwk,
      notBefore: now - 60,
      notAfter: now + 3600,
      serialNumber: 'kb-000001',
    },
    bankKey.privateJwk,
  );
}

beforeAll(async () => {
  xbank = await generateSigningKeyPair();
  device = await generateEncryptionKeyPair();
  merchantKey = await generateSigningKeyPair();
  banks = [
    {
      id: 'xbank',
      keys: publicJwkSet([xbank.publicJwk]),
      encryptionJwk: (await generateEncryptionKeyPair()).publicJwk,
    },
    {
      id: 'ybank',
      keys: publicJwkSet([(await generateSigningKeyPair()).publicJwk]),
      encryptionJwk: (await generateEncryptionKeyPair()).publicJwk,
    },
  ];
  // One loopback server stands for the FSP (the sealing key) and for xbank (the binding's status).
  gateway = createServer((request, response) => {
    const sealing = request.url === `/parties/${encodeURIComponent(customerId)}/sealing-key`;
    const status = request.url === '/key-bindings/kb-000001';
    response.writeHead(sealing || status ? 200 : 404, { 'content-type': 'application/json' });
    const body = sealing ? answer : status ? { serial: 'kb-000001', status: bindingStatus } : {};
    response.end(JSON.stringify(sealing || status ? body : { error: { code: 'NOT_FOUND' } }));
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const address = gateway.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  gatewayUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise((resolve) => gateway.close(resolve));
});

const context = () => ({
  gatewayUrl,
  merchantId,
  signingKey: merchantKey.privateJwk,
  fsp: { id: 'fsp.mpay', keys: publicJwkSet([]) },
  banks,
});

describe('sealForPayment', () => {
  it('seals to the device key of the binding the customer’s bank signed', async () => {
    answer = { partyId: customerId, bankId: 'xbank', binding: await bindingBy(xbank, device) };
    const sealed = await sealForPayment(context(), customerId, { transactionId, description: 'tea' });
    expect(await openPrivateData(sealed, 'customer', [device.privateJwk], transactionId)).toEqual({
      transactionId,
      description: 'tea',
    });
  });

  it('refuses a binding the FSP made up with a key of its own, and a binding of another customer', async () => {
    const fspKey = await generateSigningKeyPair();
    const fspEncryption = await generateEncryptionKeyPair();
    answer = { partyId: customerId, bankId: 'xbank', binding: await bindingBy(fspKey, fspEncryption) };
    await expect(
      sealForPayment(context(), customerId, { transactionId, description: 'tea' }),
    ).rejects.toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^(KEY_BINDING_INVALID|KEY_UNKNOWN)$/) }),
    );
    answer = {
      partyId: customerId,
      bankId: 'xbank',
      binding: await bindingBy(xbank, fspEncryption, 'mallory.m@person.xbank'),
    };
    await expect(
      sealForPayment(context(), customerId, { transactionId, description: 'tea' }),
    ).rejects.toThrow(expect.objectContaining({ code: 'KEY_BINDING_INVALID' }));
  });

  it('asks the bank before sealing: a binding the customer revoked (a lost phone) is refused', async () => {
    answer = { partyId: customerId, bankId: 'xbank', binding: await bindingBy(xbank, device) };
    const asking = { ...context(), banks: [{ ...banks[0]!, url: gatewayUrl }, banks[1]!] };
    await sealForPayment(asking, customerId, { transactionId, description: 'tea' });
    bindingStatus = 'revoked';
    try {
      await expect(sealForPayment(asking, customerId, { transactionId, description: 'tea' })).rejects.toThrow(
        expect.objectContaining({ code: 'KEY_BINDING_REVOKED' }),
      );
    } finally {
      bindingStatus = 'active';
    }
  });

  it('seals for no bank it does not know', async () => {
    answer = { partyId: customerId, bankId: 'xbank', binding: await bindingBy(xbank, device) };
    await expect(
      sealForPayment({ ...context(), banks: banks.slice(0, 1) }, customerId, {
        transactionId,
        description: 'tea',
      }),
    ).rejects.toThrow(expect.objectContaining({ code: 'KEY_UNKNOWN', detail: 'bank ybank' }));
  });
});
