import { createHash } from 'node:crypto';
import { type GeneratedKeyPair, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  customerId,
  type Parties,
  parties,
  paymentRequestPush,
} from '../payment-request/fixture.test-helper.ts';
import { registerPin } from '../pin/opaque.ts';
import type { TracedMessage } from '../trace.ts';
import { type CustodyPaymentRequestView, CustodyWallet } from './custody-wallet.ts';
import { type FakeCustody, fakeDeviceToken, startFakeCustody } from './fake-custody.test-helper.ts';
import { postToCustody } from './http.ts';

const pin = '2468';
let custody: FakeCustody;
let setup: Parties;
let traced: TracedMessage[];
let phone: CustodyWallet;

beforeAll(async () => {
  custody = await startFakeCustody();
  setup = await parties();
  // The customer's PIN, registered as an enrolment would (the fake keeps the record for delegations).
  const registration = await registerPin(custody.url, pin);
  await postToCustody(`${custody.url}/wallet-pins`, {
    registrationId: registration.registrationId,
    registrationRecord: registration.registrationRecord,
  });
  traced = [];
  phone = new CustodyWallet({
    custodyUrl: custody.url,
    custody: custody.trust,
    fsp: setup.fsp,
    partyId: customerId,
    deviceToken: fakeDeviceToken,
    trace: (message) => traced.push(message),
  });
});
afterAll(async () => {
  await custody?.close();
});

interface ForwardOptions {
  key?: GeneratedKeyPair;
  issuer?: string;
  audience?: string;
  transactionId?: string;
  now?: () => number;
}

/** A forward as custody signs it: issuer custody, audience the customer, txn the payment (or alert). */
async function forwardOf(content: Record<string, unknown>, options: ForwardOptions = {}): Promise<string> {
  return signPayload(
    { forward: content },
    {
      issuer: options.issuer ?? custody.trust.id,
      audience: options.audience ?? customerId,
      transactionId: options.transactionId ?? 'alert-1',
      expiresInSeconds: 600,
      ...(options.now === undefined ? {} : { now: options.now }),
    },
    (options.key ?? custody.signing).privateJwk,
  );
}

const alert = { event: 'alert', alert: { reason: 'new device added', at: '2026-12-02T10:00:00Z' } };

describe('CustodyWallet.openForward (iMS §5 step 3: the user verifies the source)', () => {
  it('opens a forward signed with custody’s pinned key, by custody, for this customer', async () => {
    expect(await phone.openForward(await forwardOf(alert))).toEqual({
      event: 'alert',
      alertId: 'alert-1',
      alert: alert.alert,
    });
  });

  it('refuses a forward signed by another key, even one naming custody: CUSTODY_SOURCE_INVALID', async () => {
    const impostor = await generateSigningKeyPair('ES256');
    await expect(phone.openForward(await forwardOf(alert, { key: impostor }))).rejects.toMatchObject({
      code: 'CUSTODY_SOURCE_INVALID',
    });
    // Another key that carries custody's kid: the signature still does not verify.
    const sameKid = { ...impostor, privateJwk: { ...impostor.privateJwk, kid: custody.signing.kid } };
    await expect(phone.openForward(await forwardOf(alert, { key: sameKid }))).rejects.toMatchObject({
      code: 'CUSTODY_SOURCE_INVALID',
    });
  });

  it('refuses a forward from another issuer, for another customer, or not a forward at all', async () => {
    for (const forward of [
      await forwardOf(alert, { issuer: 'custody.other' }),
      await forwardOf(alert, { audience: 'someone.else@person.xbank' }),
      await forwardOf({ event: 'something-else' }),
      'not.a.jws',
    ])
      await expect(phone.openForward(forward)).rejects.toMatchObject({ code: 'CUSTODY_SOURCE_INVALID' });
  });

  it('says MESSAGE_EXPIRED for custody’s own forward past its lifetime, CUSTODY_SOURCE_INVALID for anyone else’s', async () => {
    const anHourAgo = () => Date.now() - 3_600_000;
    await expect(phone.openForward(await forwardOf(alert, { now: anHourAgo }))).rejects.toMatchObject({
      code: 'MESSAGE_EXPIRED',
    });
    const impostor = await generateSigningKeyPair('ES256');
    await expect(
      phone.openForward(await forwardOf(alert, { now: anHourAgo, key: impostor })),
    ).rejects.toMatchObject({ code: 'CUSTODY_SOURCE_INVALID' });
  });

  it('verifies a forwarded payment request as any wallet does, and keeps the forward for step 4', async () => {
    const { push, message } = await paymentRequestPush(setup);
    const forward = await forwardOf(
      { event: 'payment-request', ...push },
      { transactionId: message.transactionId },
    );
    const opened = await phone.openForward(forward);
    if (opened.event !== 'payment-request')
      throw new Error(`expected a payment request, got ${opened.event}`);
    expect(opened.request).toMatchObject({ paymentId: message.transactionId, forward });
    expect(opened.request.amount.value).toBe('12.50');
    expect(traced.map((message) => message.step)).toContain('custody step 3: fsp-countersignature');
  });

  it('refuses a request custody vouches for under another payment’s id', async () => {
    const { push } = await paymentRequestPush(setup);
    const forward = await forwardOf(
      { event: 'payment-request', ...push },
      { transactionId: crypto.randomUUID() },
    );
    await expect(phone.openForward(forward)).rejects.toMatchObject({ code: 'CUSTODY_SOURCE_INVALID' });
  });

  it('refuses a genuine forward of a request the FSP did not countersign', async () => {
    const { push, message } = await paymentRequestPush(setup, {
      fspSigningKey: await generateSigningKeyPair('ES256'),
    });
    const forward = await forwardOf(
      { event: 'payment-request', ...push },
      { transactionId: message.transactionId },
    );
    await expect(phone.openForward(forward)).rejects.toMatchObject({ code: 'CRYPTO_VERIFICATION_FAILED' });
  });

  it('verifies a forwarded receipt as the FSP’s for this payment', async () => {
    const paymentId = crypto.randomUUID();
    const receipt = await signPayload(
      { receipt: { paymentId, status: 'completed' } },
      { issuer: setup.fsp.id, audience: customerId, transactionId: paymentId, expiresInSeconds: 86_400 },
      setup.fspKeys.signing.privateJwk,
    );
    const opened = await phone.openForward(
      await forwardOf({ event: 'receipt', receipt }, { transactionId: paymentId }),
    );
    expect(opened).toMatchObject({ event: 'receipt', paymentId, receipt: { jws: receipt } });
    const misplaced = await forwardOf({ event: 'receipt', receipt }, { transactionId: crypto.randomUUID() });
    await expect(phone.openForward(misplaced)).rejects.toMatchObject({ code: 'CLAIMS_INVALID' });
  });
});

describe('CustodyWallet.openForward of a refund receipt (the phone verifies the FSP’s signature itself)', () => {
  const paymentId = crypto.randomUUID();
  const refundId = crypto.randomUUID();
  const refundReceipt = {
    refundId,
    paymentId,
    status: 'completed',
    payer: 'shop@merchant.ybank',
    payee: customerId,
    amount: { currency: 'EUR', value: '8.00' },
  };

  /** The FSP's statement as the gateway signs a refund receipt: audience the customer, txn the payment. */
  async function fspStatement(
    payload: Record<string, unknown>,
    options: { key?: GeneratedKeyPair; transactionId?: string } = {},
  ): Promise<string> {
    return signPayload(
      payload,
      {
        issuer: setup.fsp.id,
        audience: customerId,
        transactionId: options.transactionId ?? paymentId,
        expiresInSeconds: 86_400,
      },
      (options.key ?? setup.fspKeys.signing).privateJwk,
    );
  }

  const refundForward = (receipt: unknown, transactionId = paymentId) =>
    forwardOf({ event: 'refund-receipt', receipt }, { transactionId });

  it('opens a forwarded refund receipt verified as the FSP’s, with its refund, payer and amount', async () => {
    const jws = await fspStatement({ refundReceipt });
    traced.length = 0;
    expect(await phone.openForward(await refundForward(jws))).toEqual({
      event: 'refund-receipt',
      paymentId,
      refundReceipt: {
        jws,
        refundId,
        paymentId,
        payer: 'shop@merchant.ybank',
        amount: { currency: 'EUR', value: '8.00' },
        payload: expect.objectContaining({ refundReceipt }),
      },
    });
    expect(traced.map((message) => [message.step, message.party])).toEqual([
      ['custody step 2: forward', custody.trust.id],
      ['custody: refund receipt', setup.fsp.id],
    ]);
  });

  it('does not take custody’s word: another signer, another payment, a payment’s receipt, another payee are refused', async () => {
    const forged = await fspStatement({ refundReceipt }, { key: await generateSigningKeyPair('ES256') });
    await expect(phone.openForward(await refundForward(forged))).rejects.toMatchObject({
      code: 'CRYPTO_VERIFICATION_FAILED',
    });
    // The FSP's genuine refund receipt, vouched for by custody under another payment's id.
    const genuine = await fspStatement({ refundReceipt });
    await expect(phone.openForward(await refundForward(genuine, crypto.randomUUID()))).rejects.toMatchObject({
      code: 'CLAIMS_INVALID',
    });
    // Signed for this payment, but of another payment inside, of another payee, or not a refund receipt.
    for (const payload of [
      { refundReceipt: { ...refundReceipt, paymentId: crypto.randomUUID() } },
      { refundReceipt: { ...refundReceipt, payee: 'someone.else@person.xbank' } },
      { refundReceipt: { ...refundReceipt, status: 'failed' } },
      { receipt: { paymentId, status: 'completed' } },
    ])
      await expect(phone.openForward(await refundForward(await fspStatement(payload)))).rejects.toMatchObject(
        { code: 'CRYPTO_VERIFICATION_FAILED' },
      );
    // No receipt in the forward at all.
    await expect(phone.openForward(await refundForward(undefined))).rejects.toMatchObject({
      code: 'CUSTODY_SOURCE_INVALID',
    });
  });
});

describe('CustodyWallet.confirm and decline (iMS §5 steps 4–6)', () => {
  async function shownRequest(): Promise<CustodyPaymentRequestView> {
    const { push, message } = await paymentRequestPush(setup);
    const forward = await forwardOf(
      { event: 'payment-request', ...push },
      { transactionId: message.transactionId },
    );
    const opened = await phone.openForward(forward);
    if (opened.event !== 'payment-request') throw new Error('expected a payment request');
    return opened.request;
  }

  it('a wrong PIN is PIN_REFUSED: custody is told the login failed, with no proof and no authorisation', async () => {
    const view = await shownRequest();
    const from = custody.requests.length;
    const seen = custody.authorisations.length;
    await expect(phone.confirm(view, '1357')).rejects.toMatchObject({ code: 'PIN_REFUSED' });
    expect(
      custody.requests
        .slice(from)
        .map((request) => request.replace(/\/delegations\/[^/]+\//, '/delegations/ID/')),
    ).toEqual(['POST /delegations', 'POST /delegations/ID/authorisation']);
    expect(custody.authorisations.slice(seen)).toEqual([
      { decision: 'confirm', messageHash: expect.any(String) },
    ]);
    expect(custody.failures()).toBe(1);
  });

  it('the right PIN sends the encrypted authorisation that custody checks against the forward shown', async () => {
    const view = await shownRequest();
    traced.length = 0;
    expect(await phone.decline(view, pin)).toEqual({ status: 'declined', paymentId: view.paymentId });
    expect(await phone.confirm(view, pin)).toEqual({ status: 'authorised', paymentId: view.paymentId });
    expect(custody.failures()).toBe(0);
    const step4 = traced.filter(
      (message) => message.step === 'custody step 4: PIN authorisation (encrypted)',
    );
    expect(step4.map((message) => [message.kind, message.party])).toEqual([
      ['jwe', custody.trust.id],
      ['jwe', custody.trust.id],
    ]);
  });

  it('authorises exactly the forward shown: its SHA-256, as custody compares it with what it sent', async () => {
    const view = await shownRequest();
    await phone.confirm(view, pin);
    expect(custody.authorisations.at(-1)).toEqual({
      decision: 'confirm',
      messageHash: createHash('sha256').update(view.forward, 'utf8').digest('base64url'),
    });
  });

  it('a PIN of the wrong format sends nothing', async () => {
    const view = await shownRequest();
    const from = custody.requests.length;
    await expect(phone.confirm(view, '12')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
    expect(custody.requests.length).toBe(from);
  });
});

describe('CustodyWallet.paymentEvidence (the log’s evidence, asked for by custody with the key in its HSM)', () => {
  const unknown = '{"error":{"code":"PAYMENT_UNKNOWN","message":"No such payment."}}';
  const limited = '{"error":{"code":"REQUEST_RATE_LIMITED","message":"Too many requests; retry later."}}';

  it('asks custody with the phone’s token: pending, the file exactly as sent, or custody’s code', async () => {
    const paymentId = crypto.randomUUID();
    // Spacing JSON would not keep: the file must reach the verifier byte for byte.
    const file = '{ "version": "mpay-receipt/v1",  "messages": [] }';
    custody.evidenceAnswers.push([202, '{"state":"pending"}'], [200, file], [404, unknown], [429, limited]);
    const from = custody.requests.length;
    expect(await phone.paymentEvidence(paymentId)).toBeUndefined();
    expect(await phone.paymentEvidence(paymentId)).toBe(file);
    await expect(phone.paymentEvidence(paymentId)).rejects.toMatchObject({ code: 'PAYMENT_UNKNOWN' });
    await expect(phone.paymentEvidence(paymentId)).rejects.toMatchObject({
      code: 'REQUEST_RATE_LIMITED',
      category: 'retryable',
    });
    expect(custody.requests.slice(from)).toEqual(Array(4).fill(`GET /payments/${paymentId}/evidence`));
  });

  it('sends nothing for an id that is not a payment id, and refuses an answer over 4 MiB unread', async () => {
    const from = custody.requests.length;
    for (const id of ['../admin', `${crypto.randomUUID()}/../x`, ''])
      await expect(phone.paymentEvidence(id)).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    expect(custody.requests.length).toBe(from);
    custody.evidenceAnswers.push([200, `{"messages":"${'A'.repeat(4 * 1024 * 1024)}"}`]);
    await expect(phone.paymentEvidence(crypto.randomUUID())).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      detail: 'evidence too large',
    });
  });

  it('asks for a refund’s evidence the same way, and sends nothing for ids that are not ids', async () => {
    const paymentId = crypto.randomUUID();
    const refundId = crypto.randomUUID();
    const file = '{ "version": "mpay-receipt/v1",  "messages": [] }';
    const refundUnknown = '{"error":{"code":"REFUND_UNKNOWN","message":"No such refund."}}';
    custody.evidenceAnswers.push([202, '{"state":"pending"}'], [200, file], [404, refundUnknown]);
    const from = custody.requests.length;
    expect(await phone.refundEvidence(paymentId, refundId)).toBeUndefined();
    expect(await phone.refundEvidence(paymentId, refundId)).toBe(file);
    await expect(phone.refundEvidence(paymentId, refundId)).rejects.toMatchObject({ code: 'REFUND_UNKNOWN' });
    for (const [payment, refund] of [
      [paymentId, '../../evidence'],
      ['../admin', refundId],
      [paymentId, ''],
    ] as const)
      await expect(phone.refundEvidence(payment, refund)).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    expect(custody.requests.slice(from)).toEqual(
      Array(3).fill(`GET /payments/${paymentId}/refunds/${refundId}/evidence`),
    );
  });

  it('a phone custody does not know is AUTHENTICATION_FAILED', async () => {
    const stranger = new CustodyWallet({
      custodyUrl: custody.url,
      custody: custody.trust,
      fsp: setup.fsp,
      partyId: customerId,
      deviceToken: 'mdt_not-this-phone',
    });
    await expect(stranger.paymentEvidence(crypto.randomUUID())).rejects.toMatchObject({
      code: 'AUTHENTICATION_FAILED',
    });
  });
});
