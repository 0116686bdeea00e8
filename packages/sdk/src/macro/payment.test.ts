import { createHash, hkdfSync } from 'node:crypto';
import { encryptDirect, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import {
  createAmount,
  createTransactionData,
  hashTransactionData,
  parsePaymentRequestContent,
} from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { deriveMacroRequestKey } from './channel-key.ts';
import {
  byteLengthOf,
  createMacroPaymentRequest,
  describeCompact,
  hashTransactionDataAsync,
} from './payment.ts';

const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const amount = createAmount('EUR', 12_990n);
const input = {
  clientId: 'C042917365028.xbank',
  msisdn: '+38970123456',
  merchantId: 'merkur.trade@merchant.ybank',
  amount,
  date: new Date('2026-12-02T10:00:00.000Z'),
  requestId: '3f2b8c1e-9d4a-4e6f-8a7b-1c2d3e4f5a6b',
  now: () => Date.parse('2026-12-02T10:00:00.000Z'),
};

describe('the device side of steps 1–5', () => {
  it('hashes TransactionData through WebCrypto exactly as the core does with node:crypto', async () => {
    for (const minor of [1n, 12_990n, 999_999_999n]) {
      const data = createTransactionData({
        date: input.date,
        amount: createAmount('EUR', minor),
        merchantId: input.merchantId,
      });
      expect(await hashTransactionDataAsync(data)).toBe(hashTransactionData(data, sha256));
    }
  });

  it('builds step 1 as the MPASP parses it: ID_C, AmtInfo_c, h(TransactionData), its own expiry', async () => {
    const { request, transactionData } = await createMacroPaymentRequest(input, 'fsp.mpay');
    expect(parsePaymentRequestContent(request, sha256)).toEqual({
      kind: 'macro_payment_request',
      from: input.clientId,
      to: 'fsp.mpay',
      requestId: input.requestId,
      amount: { currency: 'EUR', value: '129.90' },
      transactionDataHash: hashTransactionData(transactionData, sha256),
      expiresAt: '2026-12-02T10:02:00.000Z',
    });
    expect(transactionData.merchantBankId).toBe('ybank');
    await expect(
      createMacroPaymentRequest({ ...input, clientId: 'ann@person.xbank' }, 'fsp.mpay'),
    ).rejects.toThrow();
    await expect(
      createMacroPaymentRequest({ ...input, requestLifetimeSeconds: 601 }, 'fsp.mpay'),
    ).rejects.toThrow(/assertion failed/);
  });

  it('derives the request key as documented: HKDF-SHA-256(device secret, salt = ID_C, info = mpay macro request v1)', async () => {
    const deviceSecret = Buffer.alloc(32, 9).toString('base64url');
    const key = await deriveMacroRequestKey(deviceSecret, input.clientId);
    expect(key).toEqual(
      new Uint8Array(hkdfSync('sha256', Buffer.alloc(32, 9), input.clientId, 'mpay macro request v1', 32)),
    );
    expect(await deriveMacroRequestKey(deviceSecret, 'C042917365029.xbank')).not.toEqual(key);
    await expect(deriveMacroRequestKey('AAAA', input.clientId)).rejects.toThrow();
    await expect(deriveMacroRequestKey(deviceSecret, 'ann@person.xbank')).rejects.toThrow();
  });
});

describe('what the observer is told (a trace)', () => {
  it('counts UTF-8 bytes, not characters', () => {
    expect(byteLengthOf('abc')).toBe(3);
    expect(byteLengthOf('€')).toBe(3);
  });

  it('describes a compact JWE or JWS by its protected header, a long kid shortened', async () => {
    const sealed = await encryptDirect('{}', new Uint8Array(32), { kid: input.clientId });
    expect(describeCompact(sealed)).toBe(`JWE dir/A256GCM, kid ${input.clientId}`);
    const key = await generateSigningKeyPair();
    const signed = await signPayload(
      { hello: 'world' },
      { issuer: 'xbank', audience: 'ybank', transactionId: input.requestId, expiresInSeconds: 60 },
      key.privateJwk,
    );
    expect(describeCompact(signed)).toBe(`JWS ES256, kid ${String(key.publicJwk.kid).slice(0, 12)}…`);
    expect(describeCompact('not a message')).toBe('JWS ?');
  });
});
