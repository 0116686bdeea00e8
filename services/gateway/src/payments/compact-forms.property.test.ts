import { generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { fspSignedContent, type ImsMessage, merchantSignedContent } from '@mpay/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imsMessageArbitrary } from '../../../../packages/protocol/src/ims/arbitraries.test-helper.ts';
import type { Party } from '../registry/parties.ts';
import { deviceReceiptContent } from './device-receipt.ts';
import { receiptContent } from './effects.ts';
import { devicePushContent } from './push.ts';
import type { Payment } from './store.ts';

const fspId = 'fsp.test';
const runs = { numRuns: 40 };

/**
 * Random messages of every level, procedure, party name, amount, description
 * (Unicode included) and sealing, as the FSP holds them after countersigning,
 * signed for real. What the compact forms must do for all of them: the
 * phone's rebuild gives back exactly what was signed, so the gateway sends the
 * compact form and never has to fall back to the whole one for a message it
 * made itself.
 */
const countersignedArbitrary = imsMessageArbitrary
  .filter((message) => message.protections !== undefined)
  .map((message): ImsMessage => {
    const { sign: _sign, secondFactor: _code, ...from } = message.address.from;
    return { ...message, address: { ...message.address, from } };
  });

function partyOf(id: string, kind: Party['kind']): Party {
  return { id, kind, displayName: id, bankId: 'xbank', webhookUrl: null };
}

async function signedChain(message: ImsMessage) {
  const merchantKey = await generateSigningKeyPair('ES256');
  const fspKey = await generateSigningKeyPair('ES256');
  const txn = message.transactionId;
  const merchantSign = await signPayload(
    merchantSignedContent(message),
    { issuer: message.address.to.id, audience: fspId, transactionId: txn, expiresInSeconds: 300 },
    merchantKey.privateJwk,
  );
  const withMerchant = {
    ...message,
    address: { ...message.address, to: { ...message.address.to, sign: merchantSign } },
  };
  const fspSign = await signPayload(
    fspSignedContent(withMerchant),
    { issuer: fspId, audience: message.address.from.id, transactionId: txn, expiresInSeconds: 600 },
    fspKey.privateJwk,
  );
  return { message: { ...withMerchant, address: { ...withMerchant.address, fspSign } }, fspKey };
}

describe('the compact forms for every message the FSP makes', () => {
  it('push/v2 is sent (the rebuild on the very text sent gives back both signed JWSs)', async () => {
    await fc.assert(
      fc.asyncProperty(countersignedArbitrary, async (generated) => {
        const { message } = await signedChain(generated);
        const push = devicePushContent(message, 'certificate', { fspId, format: 'v2' });
        expect(push).toHaveProperty('signatureClaims');
      }),
      runs,
    );
  });

  it('receipt/v2 is sent (the payer derives the rest of the signed receipt from the message)', async () => {
    await fc.assert(
      fc.asyncProperty(countersignedArbitrary, async (generated) => {
        const { message: countersigned, fspKey } = await signedChain(generated);
        const sealing = countersigned.protections?.includes('private_data_sealed') === true;
        // The FSP fills the payer's account in at every level that does not seal (request.ts).
        const payerAccount = countersigned.data.accountPayable ?? 'ACC-FILLED';
        const message: ImsMessage = {
          ...countersigned,
          data: sealing ? countersigned.data : { ...countersigned.data, accountPayable: payerAccount },
          address: {
            ...countersigned.address,
            from: { ...countersigned.address.from, sign: 'eyJhbGciOiJFUzI1NiJ9.e30.Y3VzdG9tZXI' },
          },
        };
        const payment = {
          id: message.transactionId,
          currency: message.data.amount.currency,
          message,
          payerAccount,
          customer: partyOf(message.address.from.id, 'person'),
          merchant: partyOf(message.address.to.id, 'merchant'),
        } as Payment;
        const evidence = { bankAnswer: 'eyJhbGciOiJFUzI1NiJ9.e30.YmFuaw', transferId: crypto.randomUUID() };
        const receipt = await signPayload(
          receiptContent(payment, evidence, new Date()),
          {
            issuer: fspId,
            audience: payment.customer.id,
            transactionId: payment.id,
            expiresInSeconds: 86_400,
          },
          fspKey.privateJwk,
        );
        expect(
          deviceReceiptContent(receipt, payment.message, { fspId, toCustody: false }).startsWith('{'),
        ).toBe(true);
      }),
      runs,
    );
  });
});
