import { createHash } from 'node:crypto';
import {
  decryptWith,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  publicJwkSet,
  verifyPayload,
} from '@mpay/envelope';
import {
  createAmount,
  createTransactionData,
  hashTransactionData,
  isMpayError,
  macroAmountOf,
  parsePAppRespContent,
} from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { type MacroApprovalRequest, MacroBankClient } from './bank-client.ts';

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const amount = createAmount('EUR', 129_90n);
const merchantId = 'merkur.trade@merchant.ybank';
const date = new Date('2026-12-02T10:00:00.000Z');
const transactionData = createTransactionData({ date, amount, merchantId });
const sessionId = '6b1f3c9e-2d4a-4f8b-9c1d-0e7a5b3c2f10';

async function fixture() {
  const bankSigning = await generateSigningKeyPair();
  const bankEncryption = await generateEncryptionKeyPair();
  const device = await generateSigningKeyPair();
  const deviceEncryption = await generateEncryptionKeyPair();
  const client = new MacroBankClient({
    bankUrl: 'http://127.0.0.1:1',
    partyId: 'ann.smith@person.xbank',
    signingKey: device.privateJwk,
    encryptionKey: deviceEncryption.privateJwk,
    bank: {
      id: 'xbank',
      keys: publicJwkSet([bankSigning.publicJwk]),
      encryptionJwk: bankEncryption.publicJwk,
    },
  });
  const request: MacroApprovalRequest = {
    sessionId,
    expiresAt: '2026-12-02T10:05:00.000Z',
    content: {
      kind: 'macro_papp_req',
      from: 'xbank',
      to: 'C042917365028.xbank',
      sessionId,
      transactionId: '019ade2c-7e00-7a5a-9a5a-5a5a5a5a5a5a',
      amount: macroAmountOf(amount),
      transactionDataHash: hashTransactionData(transactionData, sha256),
      expiresAt: '2026-12-02T10:05:00.000Z',
    },
  };
  return { bankEncryption, device, client, request };
}

async function codeOf(promise: Promise<unknown>): Promise<[string, string | undefined] | 'none'> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    if (isMpayError(error)) return [error.code, error.detail];
    throw error;
  }
}

describe('MacroBankClient.prepareApproval (step 7 at the device)', () => {
  it('signs PApp_Resp for exactly the PApp_Req and its TransactionData, sealed to the bank only', async () => {
    const { bankEncryption, device, client, request } = await fixture();
    const prepared = await client.prepareApproval(request, { decision: 'approve', transactionData });
    expect(prepared.consent).toEqual({
      kind: 'macro_papp_resp',
      from: 'C042917365028.xbank',
      to: 'xbank',
      sessionId,
      transactionId: request.content.transactionId,
      amount: { currency: 'EUR', value: '129.90' },
      transactionDate: date.toISOString(),
      merchantId,
      merchantBankId: 'ybank',
      transactionDataHash: request.content.transactionDataHash,
      expiresAt: request.content.expiresAt,
      decision: 'approve',
    });
    const opened = JSON.parse(
      new TextDecoder().decode(await decryptWith(prepared.approval, [bankEncryption.privateJwk])),
    ) as { pappResp: string };
    expect(Object.keys(opened)).toEqual(['pappResp']);
    const verified = await verifyPayload(opened.pappResp, () => device.publicJwk, {
      issuer: 'ann.smith@person.xbank',
      audience: 'xbank',
      transactionId: sessionId,
    });
    const { iss, aud, txn, iat, exp, nonce, ...content } = verified.payload;
    expect(parsePAppRespContent(content, sha256)).toEqual(prepared.consent);
    // Not readable by anyone else: the device's own key does not open it.
    await expect(
      decryptWith(prepared.approval, [(await generateEncryptionKeyPair()).privateJwk]),
    ).rejects.toThrow();
  });

  it('refuses to consent to another merchant, date or amount than the PApp_Req names', async () => {
    const { client, request } = await fixture();
    const otherMerchant = createTransactionData({ date, amount, merchantId: 'other.shop@merchant.ybank' });
    const otherDate = createTransactionData({ date: new Date(date.getTime() + 1), amount, merchantId });
    const otherAmount = createTransactionData({ date, amount: createAmount('EUR', 1n), merchantId });
    expect(
      await codeOf(client.prepareApproval(request, { decision: 'approve', transactionData: otherMerchant })),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'transactionDataHash']);
    expect(
      await codeOf(client.prepareApproval(request, { decision: 'approve', transactionData: otherDate })),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'transactionDataHash']);
    expect(
      await codeOf(client.prepareApproval(request, { decision: 'decline', transactionData: otherAmount })),
    ).toEqual(['PAYMENT_MESSAGE_MISMATCH', 'amount']);
    expect(
      await codeOf(
        client.prepareApproval(request, { decision: 'approve', transactionData, lifetimeSeconds: 301 }),
      ),
    ).toEqual(['REQUEST_INVALID', 'lifetimeSeconds']);
  });
});
