import { createHash, createHmac } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { demoParties } from '@mpay/cli';
import { decryptWith, encryptTo, generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { generateNoteKey, verifyReceipt } from '@mpay/merkle';
import { imsToJson } from '@mpay/protocol';
import { authenticatorCode, unlockKeystore, Wallet } from '@mpay/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backgroundWorkDeadlineMs, paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import {
  craftMerchantRequest,
  evidenceOf,
  expectCode,
  postRaw,
  startTestPlatform,
  type TestPlatform,
} from './harness.ts';

let test: TestPlatform;
beforeAll(async () => {
  test = await startTestPlatform();
});
afterAll(async () => {
  await test?.close();
});

async function payAndConfirm(
  amountMinor: bigint,
  format: 'json' | 'xml' = 'json',
  procedure: 'm-commerce' | 'm-trade' = 'm-commerce',
) {
  const wallet = test.wallet();
  const abort = new AbortController();
  const requests = wallet.paymentRequests(demoParties.customer.pin, abort.signal);
  const first = requests.next();
  const accepted = await test.merchant.requestPayment({
    customer: demoParties.customer.msisdn,
    amount: { currency: 'EUR', minor: amountMinor },
    format,
    procedure,
  });
  // The device first gets every request still waiting for it; pick this one.
  let view = (await first).value!;
  while (view.paymentId !== accepted.paymentId) view = (await requests.next()).value!;
  abort.abort();
  return { wallet, accepted, view };
}

describe('an iMS payment end to end over HTTP', () => {
  it('sends push/v2 only to a wallet that said it reads it, and the whole message again after one that did not', async () => {
    const { customer } = demoParties;
    const keys = await unlockKeystore(test.platform.credentials.customerKeystore, customer.pin);
    const signed = async (path: string) => ({
      authorization: await signRequest(
        { method: 'GET', path, body: '' },
        { issuer: customer.id, audience: test.fsp.id, key: keys.signing },
      ),
    });
    /** Opens the device's stream as a wallet would (the gateway records the form before answering), then leaves. */
    const openStream = async (path: string) => {
      const stream = await fetch(`${test.platform.urls.gateway}${path}`, { headers: await signed(path) });
      await stream.body?.cancel();
      return stream.status;
    };
    /** The push of one payment as the device gets it (the polling list), decrypted. */
    const pushOf = async (paymentId: string) => {
      const path = '/devices/payment-requests';
      const answer = await fetch(`${test.platform.urls.gateway}${path}`, { headers: await signed(path) });
      expect(answer.headers.get('content-encoding')).toBe('gzip');
      const page = (await answer.json()) as { requests: { paymentId: string; message: string }[] };
      const jwe = page.requests.find((pending) => pending.paymentId === paymentId)?.message;
      if (jwe === undefined) throw new Error(`payment ${paymentId} is not waiting for the device`);
      return { jwe, push: JSON.parse(new TextDecoder().decode(await decryptWith(jwe, [keys.encryption]))) };
    };
    const request = () =>
      test.merchant.requestPayment({ customer: customer.msisdn, amount: { currency: 'EUR', minor: 1_10n } });
    const wallet = test.wallet();
    await wallet.unlock(customer.pin);

    // The stream comes gzipped to a device that takes gzip (fetch asks for it and decodes it); the page too (pushOf).
    const zipped = await fetch(`${test.platform.urls.gateway}/devices/events`, {
      headers: await signed('/devices/events'),
    });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    await zipped.body?.cancel();
    // No HEAD twin of the stream: its head would never be sent, and it would hold one of the device's slots.
    const head = await fetch(`${test.platform.urls.gateway}/devices/events`, {
      method: 'HEAD',
      headers: await signed('/devices/events'),
    });
    expect(head.status).toBe(404);
    // A wallet that does not say it reads v2 (an older page): the whole message, both signatures attached.
    expect(await openStream('/devices/events')).toBe(200);
    const before = await request();
    const whole = await pushOf(before.paymentId);
    expect(whole.push.signatureClaims).toBeUndefined();
    expect(whole.push.ims.address.to.sign.split('.')[1]).not.toBe('');
    expect((await wallet.openPaymentRequest(whole.jwe)).paymentId).toBe(before.paymentId);

    // Once it says so, the requests encrypted to it from then on are compact, and open to the same view.
    expect(await openStream('/devices/events?push=v2&certificates=')).toBe(200);
    const after = await request();
    const compact = await pushOf(after.paymentId);
    expect(Object.keys(compact.push.signatureClaims).sort()).toEqual(['fsp', 'merchant']);
    expect(compact.push.ims.address.to.sign.split('.')[1]).toBe('');
    expect(compact.push.ims.address.fspSign.split('.')[1]).toBe('');
    expect(compact.jwe.length).toBeLessThan(whole.jwe.length);
    // It said it holds no certificate: this one came whole.
    const certificate: string = compact.push.merchantCertificate;
    expect(typeof certificate).toBe('string');
    const view = await wallet.openPaymentRequest(compact.jwe);
    expect([view.paymentId, view.amount.value]).toEqual([after.paymentId, '1.10']);

    // Once the device confirmed a payment whose push carried the certificate, the next push names it by
    // its reference (the SHA-256 of its text) instead, and the wallet that verified it fills it in.
    await wallet.confirm(view, customer.pin);
    const named = await request();
    const byReference = await pushOf(named.paymentId);
    expect(byReference.push.merchantCertificate).toBeUndefined();
    expect(byReference.push.merchantCertificateSha256).toBe(
      createHash('sha256').update(certificate, 'utf8').digest('base64url'),
    );
    expect(byReference.jwe.length).toBeLessThan(compact.jwe.length - 1_000);
    expect((await wallet.openPaymentRequest(byReference.jwe)).merchant).toEqual(view.merchant);
    // A wallet that lost it (a new page) fetches the merchant's certificate once and checks it is the one named.
    const fresh = test.wallet();
    await fresh.unlock(customer.pin);
    expect((await fresh.openPaymentRequest(byReference.jwe)).paymentId).toBe(named.paymentId);
    fresh.lock();
    // A stream opened listing what is recorded already (the page reconnecting) keeps it; one saying it
    // holds nothing: the certificate travels whole again; one that lists it again: by reference.
    const reference = byReference.push.merchantCertificateSha256;
    const certificateOfNext = async () => {
      const { push } = await pushOf((await request()).paymentId);
      return push.merchantCertificateSha256 ?? push.merchantCertificate;
    };
    expect(await openStream(`/devices/events?push=v2&certificates=${reference}`)).toBe(200);
    expect(await certificateOfNext()).toBe(reference);
    expect(await openStream('/devices/events?push=v2&certificates=')).toBe(200);
    expect(await certificateOfNext()).toBe(certificate);
    expect(await openStream(`/devices/events?push=v2&certificates=${reference}`)).toBe(200);
    expect(await certificateOfNext()).toBe(reference);
    // The list in the mpay-certificates header (as the SDK sends it: URLs are logged), which wins over the query.
    const openListing = async (listed: string, query = '') => {
      const path = `/devices/events?push=v2${query}`;
      const stream = await fetch(`${test.platform.urls.gateway}${path}`, {
        headers: { ...(await signed(path)), 'mpay-certificates': listed },
      });
      await stream.body?.cancel();
      return stream.status;
    };
    expect(await openListing('')).toBe(200);
    expect(await certificateOfNext()).toBe(certificate);
    expect(await openListing(reference)).toBe(200);
    expect(await certificateOfNext()).toBe(reference);
    expect(await openListing('', `&certificates=${reference}`)).toBe(200);
    expect(await certificateOfNext()).toBe(certificate);
    expect(await openListing(reference)).toBe(200);
    // A wallet that reads push/v2 but not references (it sends no `certificates`, as the SDK before them):
    // never a reference, even after it confirmed a payment whose push carried the certificate.
    expect(await openStream('/devices/events?push=v2')).toBe(200);
    const older = await request();
    const olderPush = await pushOf(older.paymentId);
    expect(olderPush.push.merchantCertificate).toBe(certificate);
    await wallet.confirm(await wallet.openPaymentRequest(olderPush.jwe), customer.pin);
    expect(await certificateOfNext()).toBe(certificate);
    // The stream's parameters are hints: a list that does not parse reads as not sent, an unknown form
    // as v1, and neither keeps the stream from opening (a newer wallet at an older gateway, or the reverse).
    for (const bad of ['x', `${reference},${reference}`]) {
      expect(await openStream(`/devices/events?push=v2&certificates=${bad}`)).toBe(200);
      expect(await certificateOfNext()).toBe(certificate);
    }

    // A stream refused for want of room (four are open) records nothing: the next push keeps the open ones' form.
    const held: ReadableStream<Uint8Array>[] = [];
    for (let index = 0; index < 4; index += 1) {
      const path = '/devices/events?push=v2&certificates=';
      const open = await fetch(`${test.platform.urls.gateway}${path}`, { headers: await signed(path) });
      if (open.body !== null) held.push(open.body);
    }
    const refused = await fetch(`${test.platform.urls.gateway}/devices/events`, {
      headers: await signed('/devices/events'),
    });
    expect(await refused.text()).toContain('REQUEST_RATE_LIMITED');
    expect((await pushOf((await request()).paymentId)).push.signatureClaims).toBeDefined();
    await Promise.all(held.map((body) => body.cancel()));
    await waitFor(() => !test.platform.gateway.context.hub.isConnected(customer.id), {
      deadlineMs: backgroundWorkDeadlineMs,
      what: 'the four streams to close',
    });

    // And back to the whole message when a wallet opens the stream without push=v2, or with a form unknown here.
    for (const path of ['/devices/events', '/devices/events?push=v3&certificates=&later=1']) {
      expect(await openStream(path)).toBe(200);
      expect((await pushOf((await request()).paymentId)).push.signatureClaims).toBeUndefined();
    }
    wallet.lock();
  });

  it('logs the completed payment: a receipt with an inclusion proof under a witness-cosigned checkpoint', async () => {
    const { wallet, view } = await payAndConfirm(3_00n);
    const receipt = await wallet.confirm(view, demoParties.customer.pin);
    const evidence = await evidenceOf(test, view.paymentId);
    const policy = {
      logVerifierKey: test.platform.log.logVerifierKey,
      witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
      witnessesRequired: 1,
    };
    const verified = await verifyReceipt(evidence, policy);
    expect(verified.receipt.transactionId).toBe(view.paymentId);
    // merchant, FSP, customer, the customer bank's signed answer, the FSP's receipt
    expect(verified.receipt.messages).toHaveLength(5);
    expect(verified.receipt.messages[4]).toBe(receipt.jws);
    expect(verified.proof.witnesses.map((witness) => witness.name)).toEqual(['witness.log.mpay.example']);
    // Any change to a logged message breaks the proof; a log key of someone else is refused.
    const tampered = JSON.parse(evidence) as { messages: string[] };
    const signed = tampered.messages[2]!;
    // Changed whatever its last two characters were ("AA" already would change nothing).
    tampered.messages[2] = `${signed.slice(0, -2)}${signed.endsWith('AA') ? 'AE' : 'AA'}`;
    await expect(verifyReceipt(JSON.stringify(tampered), policy)).rejects.toThrow();
    const stranger = await generateNoteKey('log.mpay.example/transactions');
    await expect(
      verifyReceipt(evidence, { ...policy, logVerifierKey: stranger.verifierKey }),
    ).rejects.toThrow();
    // Only the payment's parties get it.
    const outsider = await signRequest(
      { method: 'GET', path: `/payments/${view.paymentId}/evidence`, body: '' },
      {
        issuer: 'nobody@merchant.xbank',
        audience: test.fsp.id,
        key: (await generateSigningKeyPair('ES256')).privateJwk,
      },
    );
    const refused = await fetch(`${test.platform.urls.gateway}/payments/${view.paymentId}/evidence`, {
      headers: { authorization: outsider },
    });
    expect(refused.status).toBe(401);
  });

  it('moves the money once, notifies the merchant and gives the customer a signed receipt', async () => {
    const before = await test.balances();
    const { wallet, accepted, view } = await payAndConfirm(12_50n);
    expect(view.paymentId).toBe(accepted.paymentId);
    expect(view.merchant).toEqual({ id: demoParties.merchant.id, name: 'Merkur Trade' });
    expect(view.amount.value).toBe('12.50');
    const receipt = await wallet.confirm(view, demoParties.customer.pin);
    expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
    // The confirmation's answer carried the receipt: its push to the device, waiting out its grace, is cancelled
    // (marked delivered without an attempt; a push sent after its grace would have counted one).
    const receiptPush = async () =>
      (
        await test.platform.gateway.context.database.query<{ delivered: boolean; attempts: number }>(
          `SELECT delivered_at IS NOT NULL AS delivered, attempts FROM outbox
           WHERE payment_id = $1 AND kind = 'device_push' AND payload = '{"event":"receipt"}'`,
          [view.paymentId],
        )
      ).rows;
    await waitFor(async () => (await receiptPush())[0]?.delivered === true, {
      deadlineMs: paymentSettledDeadlineMs,
      what: 'the receipt push to be cancelled',
    });
    expect(await receiptPush()).toEqual([{ delivered: true, attempts: 0 }]);
    const notification = await test.platform.merchantShop.waitForNotification(
      view.paymentId,
      'completed',
      paymentSettledDeadlineMs,
    );
    expect(notification.event).toBe('payment.updated');
    const after = await test.balances();
    expect(after.customer).toBe(before.customer - 12_50n);
    expect(after.merchant).toBe(before.merchant + 12_50n);
    const status = await test.merchant.paymentStatus(view.paymentId);
    expect(status.status).toBe('completed');
    expect((status.history as { status: string }[]).map((h) => h.status)).toEqual([
      'requested',
      'awaiting_customer',
      'authorised',
      'completed',
    ]);
  });

  it('checks a confirmation against the payment as its request committed it, without reading it back', async () => {
    const recent = test.platform.gateway.context.recentPayments;
    if (recent === undefined) throw new Error('the gateway keeps no recent payments');
    const { wallet, view } = await payAndConfirm(3_10n);
    const remembered = recent.get(view.paymentId);
    expect(remembered?.state).toBe('awaiting_customer_signature');
    const asked = vi.spyOn(recent, 'get');
    try {
      const receipt = await wallet.confirm(view, demoParties.customer.pin);
      expect((receipt.payload.receipt as { status: string }).status).toBe('completed');
      // The confirmation was checked against the payment as the request's step left it ...
      expect(asked).toHaveBeenCalledWith(view.paymentId);
      expect(asked.mock.results.some(({ value }) => value === remembered)).toBe(true);
    } finally {
      asked.mockRestore();
    }
    // ... and, verified, forgotten: a later confirmation reads the payment as it stands.
    expect(recent.get(view.paymentId)).toBeUndefined();
  });

  it('accepts the iMS XML wire form of the paper (m-trade: the till takes the phone number)', async () => {
    const before = await test.balances();
    const { wallet, view } = await payAndConfirm(3_00n, 'xml', 'm-trade');
    expect(view.procedure).toBe('m-trade');
    await wallet.confirm(view, demoParties.customer.pin);
    expect((await test.balances()).customer).toBe(before.customer - 3_00n);
  });

  it('never debits twice: a replayed confirmation returns the first result', async () => {
    const { view } = await payAndConfirm(1_00n);
    const before = await test.balances();
    const trace: string[] = [];
    const tracing = new Wallet({
      gatewayUrl: test.platform.urls.gateway,
      keystore: structuredClone(test.platform.credentials.customerKeystore),
      fsp: test.fsp,
      trace: (m) => {
        if (m.step === 'customer-to-fsp (encrypted)') trace.push(m.compact);
      },
    });
    await tracing.confirm(view, demoParties.customer.pin);
    const replay = await postRaw(
      `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation`,
      trace[0]!,
    );
    expect(replay.status).toBe(200);
    expect(replay.body.status).toBe('completed');
    expect((await test.balances()).customer).toBe(before.customer - 1_00n);
    // Asked as the wallet asks (receipt/v3): the answer gzipped (fetch asks for gzip and decodes it), the receipt
    // under the confirmation's own answer key (dir: no ephemeral key of its own); v2: a JWE to the device's key.
    const algorithmOf = (jwe: string) =>
      (JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString('utf8')) as { alg: string }).alg;
    for (const [form, algorithm] of [
      ['v3', 'dir'],
      ['v2', 'ECDH-ES'],
    ] as const) {
      const answer = await fetch(
        `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation?receipt=${form}`,
        { method: 'POST', headers: { 'content-type': 'application/jose' }, body: trace[0]! },
      );
      expect(answer.status, form).toBe(200);
      expect(answer.headers.get('content-encoding'), form).toBe('gzip');
      // The confirmation may come gzipped too (RFC 9110 §12.5.3: the answer names the codings taken).
      expect(answer.headers.get('accept-encoding'), form).toBe('gzip');
      const { receipt } = (await answer.json()) as { receipt: string };
      expect(algorithmOf(receipt), form).toBe(algorithm);
    }
    // The same confirmation gzipped is the same replay; another coding is 415 and says which one it takes.
    const url = `${test.platform.urls.gateway}/payments/${view.paymentId}/confirmation?receipt=v3`;
    const zipped = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/jose', 'content-encoding': 'gzip' },
      body: gzipSync(trace[0]!),
    });
    expect(zipped.status).toBe(200);
    expect(((await zipped.json()) as { status: string }).status).toBe('completed');
    const brotli = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/jose', 'content-encoding': 'br' },
      body: trace[0]!,
    });
    expect(brotli.status).toBe(415);
    expect(brotli.headers.get('accept-encoding')).toBe('gzip');
    expect(((await brotli.json()) as { error: { code: string } }).error.code).toBe(
      'REQUEST_ENCODING_UNSUPPORTED',
    );
    expect((await test.balances()).customer).toBe(before.customer - 1_00n);
  });

  it('the wallet gzips its confirmation once the gateway’s stream said it takes one (about a fifth fewer bytes up)', async () => {
    const before = await test.balances();
    const { wallet, view } = await payAndConfirm(2_00n);
    const sent: { encoding: string | null; jwe: string; bytes: number }[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      if (String(input).includes('/confirmation')) {
        const body = init?.body;
        const bytes = body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(String(body));
        const encoding = new Headers(init?.headers).get('content-encoding');
        sent.push({
          encoding,
          jwe: (encoding === 'gzip' ? gunzipSync(bytes) : bytes).toString(),
          bytes: bytes.length,
        });
      }
      return original(input, init);
    };
    try {
      await wallet.confirm(view, demoParties.customer.pin);
    } finally {
      globalThis.fetch = original;
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]?.encoding).toBe('gzip');
    // A compact JWE with ECDH-ES (no encrypted key): header..iv.ciphertext.tag.
    expect(sent[0]?.jwe).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sent[0]?.bytes).toBeLessThan(sent[0]!.jwe.length * 0.85);
    expect((await test.balances()).customer).toBe(before.customer - 2_00n);
  });
});

describe('who may see a payment', () => {
  it('only its parties: anyone else is told it does not exist, an unsigned request is refused', async () => {
    const { view } = await payAndConfirm(1_00n);
    const stranger = {
      signing: await generateSigningKeyPair('ES256'),
      encryption: await generateEncryptionKeyPair(),
    };
    const registered = await postRaw(
      `${test.platform.urls.gateway}/admin/merchants`,
      JSON.stringify({
        id: 'eve.snoop@merchant.ybank',
        displayName: 'Eve',
        signingJwk: stranger.signing.publicJwk,
        encryptionJwk: stranger.encryption.publicJwk,
      }),
      'application/json',
      { authorization: `Bearer ${test.platform.operatorToken}` },
    );
    expect(registered.status).toBe(201);
    const path = `/payments/${view.paymentId}`;
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: 'eve.snoop@merchant.ybank', audience: test.fsp.id, key: stranger.signing.privateJwk },
    );
    const asStranger = await fetch(`${test.platform.urls.gateway}${path}`, { headers: { authorization } });
    expect(asStranger.status).toBe(404);
    expect(((await asStranger.json()) as { error: { code: string } }).error.code).toBe('PAYMENT_UNKNOWN');
    const impersonation = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: demoParties.customer.id, audience: test.fsp.id, key: stranger.signing.privateJwk },
    );
    const asImpostor = await fetch(`${test.platform.urls.gateway}${path}`, {
      headers: { authorization: impersonation },
    });
    expect(((await asImpostor.json()) as { error: { code: string } }).error.code).toBe(
      'AUTHENTICATION_FAILED',
    );
    const stream = await fetch(`${test.platform.urls.gateway}/devices/events`, {
      headers: {
        authorization: await signRequest(
          { method: 'GET', path: '/devices/events', body: '' },
          { issuer: demoParties.customer.id, audience: test.fsp.id, key: stranger.signing.privateJwk },
        ),
      },
    });
    expect(stream.status).toBe(401);
    await stream.body?.cancel();
    const unsigned = await fetch(`${test.platform.urls.gateway}${path}`);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe('AUTHENTICATION_FAILED');
    expect((await test.merchant.paymentStatus(view.paymentId)).status).toBe('awaiting_customer');
  });

  it('admin routes need the operator token', async () => {
    const { status, code } = await postRaw(
      `${test.platform.urls.gateway}/admin/banks`,
      JSON.stringify({ id: 'ybank', url: 'http://127.0.0.1:1' }),
      'application/json',
      { authorization: 'Bearer wrong-token-wrong-token' },
    );
    expect([status, code]).toEqual([401, 'AUTHENTICATION_FAILED']);
  });
});

describe('what bad input gets (stable code, no money moved)', () => {
  let before: { customer: bigint; merchant: bigint };
  const paymentsUrl = () => `${test.platform.urls.gateway}/payments`;
  const unchanged = async () => expect(await test.balances()).toEqual(before);
  beforeAll(async () => {
    before = await test.balances();
  });

  it('amount changed after signing', async () => {
    const { jwe } = await craftMerchantRequest(test, {
      mutate: (m) => ({ ...m, data: { ...m.data, amount: { currency: 'EUR', minor: 1n } } }),
    });
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_VERIFICATION_FAILED');
    await unchanged();
  });

  it('payee changed', async () => {
    const { jwe } = await craftMerchantRequest(test, {
      mutate: (m) => ({
        ...m,
        address: {
          ...m.address,
          to: { ...m.address.to, id: 'other.shop@merchant.xbank' as typeof m.address.to.id },
        },
      }),
    });
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_VERIFICATION_FAILED');
    await unchanged();
  });

  it('signature bit flipped', async () => {
    const { jwe } = await craftMerchantRequest(test, {
      mutate: (m) => {
        const sign = m.address.to.sign!;
        const flipped = `${sign.slice(0, -2)}${sign.at(-2) === 'A' ? 'B' : 'A'}${sign.at(-1)}`;
        return { ...m, address: { ...m.address, to: { ...m.address.to, sign: flipped } } };
      },
    });
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_VERIFICATION_FAILED');
    await unchanged();
  });

  it('replayed payment request: refused, or the first result with the same Idempotency-Key', async () => {
    const { jwe } = await craftMerchantRequest(test);
    const first = await postRaw(paymentsUrl(), jwe, 'application/jose', { 'idempotency-key': 'replay-1' });
    expect(first.status).toBe(201);
    const again = await postRaw(paymentsUrl(), jwe, 'application/jose', { 'idempotency-key': 'replay-1' });
    expect(again).toEqual(first);
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('MESSAGE_REPLAYED');
    const reused = await postRaw(paymentsUrl(), (await craftMerchantRequest(test)).jwe, 'application/jose', {
      'idempotency-key': 'replay-1',
    });
    expect(reused.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await unchanged();
  });

  it('expired message', async () => {
    const { jwe } = await craftMerchantRequest(test, { now: () => Date.now() - 3_600_000 });
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('MESSAGE_EXPIRED');
    await unchanged();
  });

  it('message encrypted to the wrong recipient', async () => {
    const { message } = await craftMerchantRequest(test);
    const customerPublic = test.platform.credentials.customerKeystore.encryptionPublicJwk;
    const jwe = await encryptTo(JSON.stringify({ ims: imsToJson(message) }), customerPublic);
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_DECRYPTION_FAILED');
    await unchanged();
  });

  it('unknown key', async () => {
    const stranger = await generateSigningKeyPair('ES256');
    const { jwe } = await craftMerchantRequest(test, { key: stranger.privateJwk });
    // Generic on purpose: which check failed (unknown key, revoked, expired) is not the sender's business.
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_VERIFICATION_FAILED');
    await unchanged();
  });

  it('alg none and HS256 tokens', async () => {
    for (const alg of ['none', 'HS256']) {
      const { jwe } = await craftMerchantRequest(test, {
        rawJson: (json) => {
          const to = (json.address as { to: { sign: string } }).to;
          const [, payload] = to.sign.split('.');
          const header = Buffer.from(
            JSON.stringify({ alg, kid: test.platform.credentials.merchantKeys.signing.kid, typ: 'mpay+jws' }),
          ).toString('base64url');
          const secret = Buffer.from(
            JSON.stringify(test.platform.credentials.merchantKeys.signing.publicJwk),
          );
          const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
          to.sign = `${header}.${payload}.${alg === 'none' ? '' : mac}`;
        },
      });
      const { code } = await postRaw(paymentsUrl(), jwe);
      expect(code, alg).toBe(alg === 'none' ? 'MESSAGE_INVALID' : 'CRYPTO_ALGORITHM_REJECTED');
    }
    await unchanged();
  });

  it('a body over the size limit', async () => {
    const { status, code } = await postRaw(paymentsUrl(), 'x'.repeat(200 * 1024));
    expect(status).toBe(413);
    expect(code).toBe('REQUEST_TOO_LARGE');
    await unchanged();
  });

  it('XML with a DTD or an external entity', async () => {
    const xml =
      '<?xml version="1.0"?><!DOCTYPE iMS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><iMS><type>&xxe;</type></iMS>';
    const jwe = await encryptTo(xml, test.fsp.keys.keys.find((k) => k.use === 'enc')!);
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('XML_FORBIDDEN_CONSTRUCT');
    await unchanged();
  });

  it('amounts that are negative, zero, fractional or non-numeric', async () => {
    for (const value of ['-1.00', '0.00', '1.001', 'abc', '1e3']) {
      const { jwe } = await craftMerchantRequest(test, {
        rawJson: (json) => {
          (json.data as { amount: { value: string } }).amount.value = value;
        },
      });
      expect((await postRaw(paymentsUrl(), jwe)).code, value).toBe('AMOUNT_INVALID');
    }
    await unchanged();
  });

  it('wrong PIN: nothing is signed or sent; the session locks after the last try, then custody counts', async () => {
    const { wallet, view } = await payAndConfirm(2_00n);
    expect(await expectCode(wallet.confirm(view, '0000'))).toBe('WALLET_PIN_INVALID');
    expect(await expectCode(wallet.confirm(view, '1111'))).toBe('WALLET_PIN_INVALID');
    expect(await expectCode(wallet.confirm(view, '2222'))).toBe('WALLET_LOCKED');
    // The keys went with the session: the next PIN is a login at custody, which checks and counts it.
    expect(wallet.unlocked).toBe(false);
    expect(await expectCode(wallet.confirm(view, '3333'))).toBe('PIN_REFUSED');
    expect((await test.merchant.paymentStatus(view.paymentId)).status).toBe('awaiting_customer');
    await unchanged();
  });

  it('insufficient funds: declined, merchant told, no money moved', async () => {
    const { wallet, view } = await payAndConfirm(99_000_00n);
    // A large payment: the customer gives the one-time code too; the bank checks it, then the funds.
    const secondFactorCode = authenticatorCode(test.platform.credentials.customerAuthenticator!, new Date());
    expect(await expectCode(wallet.confirm(view, demoParties.customer.pin, { secondFactorCode }))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect((await test.merchant.paymentStatus(view.paymentId)).status).toBe('declined');
    await test.platform.merchantShop.waitForNotification(
      view.paymentId,
      'declined',
      paymentSettledDeadlineMs,
    );
    await unchanged();
  });

  it('revoked key', async () => {
    const { certificate } = (await (
      await fetch(`${test.platform.urls.gateway}/parties/${demoParties.merchant.id}`)
    ).json()) as { certificate: string };
    const serial = (
      JSON.parse(Buffer.from(certificate.split('.')[1]!, 'base64url').toString()) as { serialNumber: string }
    ).serialNumber;
    const revoked = await postRaw(
      `${test.platform.urls.gateway}/admin/certificates/${serial}/revoke`,
      JSON.stringify({ reason: 'test' }),
      'application/json',
      { authorization: `Bearer ${test.platform.operatorToken}` },
    );
    expect(revoked.status).toBe(200);
    const { jwe } = await craftMerchantRequest(test);
    expect((await postRaw(paymentsUrl(), jwe)).code).toBe('CRYPTO_VERIFICATION_FAILED');
    await unchanged();
  });
});
