import { type ImsPrivateData, imsFromJson } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { decodeBase64url, parseJsonObject } from '../encoding.ts';
import { generateEncryptionKeyPair } from '../keys/generate.ts';
import { expectMpayError } from '../test-support/fixtures.ts';
import { decryptDirect, decryptWith } from './decrypt.ts';
import { encryptDirect, encryptTo } from './encrypt.ts';
import { keyCommitment, openPrivateData, sealedDataReaders, sealPrivateData } from './sealed-data.ts';

const transactionId = '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d';
const data: ImsPrivateData = {
  transactionId,
  description: 'Wedding present',
  orderLines: [{ name: 'Espresso machine', quantity: 1, unitAmount: { currency: 'EUR', minor: 899_00n } }],
};

async function readers() {
  const [customer, payerBank, payeeBank, fsp] = await Promise.all([
    generateEncryptionKeyPair(),
    generateEncryptionKeyPair(),
    generateEncryptionKeyPair(),
    generateEncryptionKeyPair(),
  ]);
  return { customer, payerBank, payeeBank, fsp };
}

describe('sealPrivateData / openPrivateData', () => {
  it('lets each of the three readers open the same data, and fits the iMS message', async () => {
    const keys = await readers();
    const sealed = await sealPrivateData(data, {
      customer: keys.customer.publicJwk,
      payerBank: keys.payerBank.publicJwk,
      payeeBank: keys.payeeBank.publicJwk,
    });
    for (const reader of sealedDataReaders) {
      expect(await openPrivateData(sealed, reader, [keys[reader].privateJwk], transactionId)).toEqual(data);
    }
    const header = parseJsonObject(decodeBase64url(sealed.content.split('.')[0]!)!)!;
    expect(header).toMatchObject({ alg: 'dir', enc: 'A256GCM', cty: 'mpay-private+json' });
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The message model takes it as its data section.
    expect(() =>
      imsFromJson({
        type: 'small',
        transactionId,
        procedure: 'm-commerce',
        address: {
          from: { id: 'john.bernard@person.xbank' },
          to: { id: 'merkur.trade@merchant.ybank' },
          timestamp: '2026-12-02T10:00:00Z',
        },
        data: { amount: { currency: 'EUR', value: '899.00' }, sealed },
      }),
    ).not.toThrow();
  });

  it('opens nothing for a key that is not a reader (the FSP), nor one reader with another part', async () => {
    const keys = await readers();
    const sealed = await sealPrivateData(data, {
      customer: keys.customer.publicJwk,
      payerBank: keys.payerBank.publicJwk,
      payeeBank: keys.payeeBank.publicJwk,
    });
    for (const reader of sealedDataReaders)
      await expectMpayError(
        openPrivateData(sealed, reader, [keys.fsp.privateJwk], transactionId),
        'CRYPTO_DECRYPTION_FAILED',
      );
    await expectMpayError(
      openPrivateData(sealed, 'payerBank', [keys.customer.privateJwk], transactionId),
      'CRYPTO_DECRYPTION_FAILED',
    );
  });

  it('refuses a content swapped from another sealing, an altered content, and data of another payment', async () => {
    const keys = await readers();
    const to = {
      customer: keys.customer.publicJwk,
      payerBank: keys.payerBank.publicJwk,
      payeeBank: keys.payeeBank.publicJwk,
    };
    const first = await sealPrivateData(data, to);
    const second = await sealPrivateData({ transactionId, description: 'Something else' }, to);
    await expectMpayError(
      openPrivateData(
        { ...first, content: second.content },
        'customer',
        [keys.customer.privateJwk],
        transactionId,
      ),
      'CRYPTO_DECRYPTION_FAILED',
    );
    const parts = first.content.split('.');
    const ciphertext = parts[3]!;
    parts[3] = `${ciphertext[0] === 'A' ? 'B' : 'A'}${ciphertext.slice(1)}`;
    await expectMpayError(
      openPrivateData(
        { ...first, content: parts.join('.') },
        'payerBank',
        [keys.payerBank.privateJwk],
        transactionId,
      ),
      'CRYPTO_DECRYPTION_FAILED',
    );
    await expectMpayError(
      openPrivateData(first, 'customer', [keys.customer.privateJwk], 'a0b8f2a6-4c1d-4f7a-9e3b-2d5c6a7b8c9d'),
      'MESSAGE_INVALID',
    );
  });

  it('refuses a sealed key that does not open the committed content (one text per sealing)', async () => {
    const keys = await readers();
    const sealed = await sealPrivateData(data, {
      customer: keys.customer.publicJwk,
      payerBank: keys.payerBank.publicJwk,
      payeeBank: keys.payeeBank.publicJwk,
    });
    // A merchant that shows the bank another text than the customer: content under a second key, but
    // committed to the first (the customer's). The bank's key opens the content; the commitment does not hold.
    const customerKey = await decryptWith(sealed.customer, [keys.customer.privateJwk]);
    const otherKey = crypto.getRandomValues(new Uint8Array(32));
    const otherText = JSON.stringify({ transactionId, description: 'Not what the customer saw' });
    const forged = {
      ...sealed,
      content: await encryptDirect(otherText, otherKey, {
        kid: await keyCommitment(customerKey),
        contentType: 'mpay-private+json',
      }),
      payerBank: await encryptTo(otherKey, keys.payerBank.publicJwk),
    };
    const header = { kid: await keyCommitment(customerKey) };
    expect(await decryptDirect(forged.content, otherKey, header)).toBeInstanceOf(Uint8Array);
    await expectMpayError(
      openPrivateData(forged, 'payerBank', [keys.payerBank.privateJwk], transactionId),
      'CRYPTO_DECRYPTION_FAILED',
    );
  });
});
