import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encryptTo, generateEncryptionKeyPair, generateSigningKeyPair, signPayload } from '@mpay/envelope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDeadlineMs, waitFor } from '../../../../test/support/deadlines.ts';
import { type FakeCustody, startFakeCustody } from '../custody/fake-custody.test-helper.ts';
import {
  customerId,
  type Parties,
  parties,
  paymentRequestPush,
} from '../payment-request/fixture.test-helper.ts';
import { createKeystore, type WalletKeystoreData } from './keystore.ts';
import { Wallet, type WalletOptions } from './wallet.ts';

const pin = '2468';
let custody: FakeCustody;
let setup: Parties;
let keystore: WalletKeystoreData;

beforeAll(async () => {
  custody = await startFakeCustody();
  setup = await parties();
  const keys = {
    signing: await generateSigningKeyPair('ES256'),
    encryption: await generateEncryptionKeyPair(),
  };
  keystore = await createKeystore({
    partyId: customerId,
    pin,
    keys,
    binding: 'bank.binding.jws',
    pinServer: { url: custody.url, custodyId: custody.trust.id },
  });
});
afterAll(async () => {
  await custody?.close();
});

/** A wallet of the test's keystore (a copy), at `options.gatewayUrl` or none that answers. */
function wallet(options: Partial<WalletOptions> = {}): Wallet {
  return new Wallet({
    gatewayUrl: 'http://gateway.invalid',
    keystore: structuredClone(keystore),
    fsp: setup.fsp,
    ...options,
  });
}

/** Calls to custody's PIN logins since `from`. */
function loginsSince(from: number): number {
  return custody.requests.slice(from).filter((request) => request === 'POST /pin-logins').length;
}

describe('createKeystore', () => {
  it('registers the PIN with a proof, signed by the device key, naming the registration and the party', async () => {
    const [walletPin] = custody.walletPins;
    expect(walletPin).toMatchObject({
      binding: 'bank.binding.jws',
      registrationId: keystore.pinServer.credentialId,
    });
    const [, payload] = String(walletPin?.proof).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      walletPin: { registrationId: keystore.pinServer.credentialId, partyId: customerId },
      iss: customerId,
      aud: custody.trust.id,
      txn: keystore.pinServer.credentialId,
    });
    expect(claims.exp - claims.iat).toBe(300);
  });
});

describe('a wallet session', () => {
  it('logs in at custody once; later PINs are checked in memory', async () => {
    const session = wallet();
    expect(session.unlocked).toBe(false);
    const from = custody.requests.length;
    await session.unlock(pin);
    expect(session.unlocked).toBe(true);
    await session.unlock(pin);
    await session.unlock(pin);
    expect(loginsSince(from)).toBe(1);
  });

  it('two unlocks at once make one login', async () => {
    const session = wallet();
    const from = custody.requests.length;
    await Promise.all([session.unlock(pin), session.unlock(pin)]);
    expect(loginsSince(from)).toBe(1);
  });

  it('a lock while a login is running opens no session', async () => {
    const session = wallet();
    const unlocking = session.unlock(pin);
    session.lock();
    await expect(unlocking).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
    expect(session.unlocked).toBe(false);
  });

  it('locks after three wrong PINs in a row; the next unlock is a login at custody again', async () => {
    const session = wallet();
    await session.unlock(pin);
    const from = custody.requests.length;
    await expect(session.unlock('0000')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
    await expect(session.unlock('1111')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
    await expect(session.unlock('2222')).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
    expect(session.unlocked).toBe(false);
    expect(loginsSince(from)).toBe(0);
    await expect(session.unlock('3333')).rejects.toMatchObject({ code: 'PIN_REFUSED' });
    expect(loginsSince(from)).toBe(1);
    await session.unlock(pin);
    expect(session.unlocked).toBe(true);
  });

  it('shows a payment request only while unlocked, with the key in memory', async () => {
    const session = wallet();
    const { push, message } = await paymentRequestPush(setup);
    const jwe = await encryptTo(JSON.stringify(push), keystore.encryptionPublicJwk);
    await expect(session.openPaymentRequest(jwe)).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
    await session.unlock(pin);
    expect((await session.openPaymentRequest(jwe)).paymentId).toBe(message.transactionId);
    session.lock();
    expect(session.unlocked).toBe(false);
    await expect(session.openPaymentRequest(jwe)).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
  });

  it('opens a receipt only while unlocked, and only the FSP’s for this payment', async () => {
    const session = wallet();
    const paymentId = crypto.randomUUID();
    const receipt = await signPayload(
      { receipt: { paymentId, status: 'completed' } },
      { issuer: setup.fsp.id, audience: customerId, transactionId: paymentId, expiresInSeconds: 86_400 },
      setup.fspKeys.signing.privateJwk,
    );
    const jwe = await encryptTo(receipt, keystore.encryptionPublicJwk);
    await expect(session.openReceipt(jwe, paymentId)).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
    await session.unlock(pin);
    expect((await session.openReceipt(jwe, paymentId)).jws).toBe(receipt);
    await expect(session.openReceipt(jwe, crypto.randomUUID())).rejects.toMatchObject({
      code: 'CLAIMS_INVALID',
    });
  });

  it('refuses a version-1 keystore at construction', () => {
    const v1 = { version: 1, partyId: customerId } as unknown as WalletKeystoreData;
    expect(() => new Wallet({ gatewayUrl: 'http://gateway.invalid', keystore: v1, fsp: setup.fsp })).toThrow(
      expect.objectContaining({ code: 'CRYPTO_KEY_INVALID' }),
    );
  });
});

/** A gateway on loopback answering what `handle` says; the wallet's signed requests are only checked for their scheme. */
async function fakeGateway(
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    if (!request.headers.authorization?.startsWith('MPay ')) {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'AUTHENTICATION_FAILED' } }));
      return;
    }
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the device event stream', () => {
  it('gives up opening a stream the gateway never answers (SERVICE_UNAVAILABLE), and keeps one that answers open', async () => {
    let answer = false;
    const gateway = await fakeGateway((_request, response) => {
      // Takes the request, and answers only when told to: the head, then no event at all.
      if (answer) response.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
    });
    try {
      const session = wallet({ gatewayUrl: gateway.url, eventStreamOpenTimeoutMs: 200 });
      await session.unlock(pin);
      await expect(session.paymentRequests(pin).next()).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        detail: 'the event stream did not open in time',
      });
      // Answered in time: the stream stays open well past the open deadline, until the caller gives up.
      answer = true;
      const caller = new AbortController();
      let opened = false;
      const next = session
        .events(pin, caller.signal, undefined, () => {
          opened = true;
        })
        .next();
      const outcome = next.then(
        () => 'ended',
        (error: unknown) => (error instanceof Error ? error.name : 'failed'),
      );
      await waitFor(() => opened, { deadlineMs: requestDeadlineMs, what: 'the stream to open' });
      // Twice the open deadline, set after it: an open timer left running would have fired first, however
      // busy the machine (timers run in the order they are due).
      await new Promise((resolve) => setTimeout(resolve, 400));
      caller.abort();
      expect(await outcome).toBe('AbortError');
    } finally {
      await gateway.close();
    }
    expect(
      () =>
        new Wallet({
          gatewayUrl: 'http://gateway.invalid',
          keystore,
          fsp: setup.fsp,
          eventStreamOpenTimeoutMs: 0,
        }),
    ).toThrow();
  });

  it('ends an open stream that goes silent, heartbeats included (SERVICE_UNAVAILABLE), to reconnect from', async () => {
    let opens = 0;
    const gateway = await fakeGateway((_request, response) => {
      // Answers, says it is connected, then nothing: a connection dropped on the way, not closed.
      opens += 1;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(': connected\n\n');
    });
    try {
      const session = wallet({ gatewayUrl: gateway.url, eventStreamSilenceMsMax: 200 });
      await session.unlock(pin);
      await expect(session.events(pin).next()).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        detail: 'event stream silent',
      });
      // The session reconnects without the PIN, and the next silence ends that stream too.
      await expect(session.resumeEvents().next()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(opens).toBe(2);
    } finally {
      await gateway.close();
    }
    for (const eventStreamSilenceMsMax of [0, 1.5, 600_001])
      expect(
        () =>
          new Wallet({
            gatewayUrl: 'http://gateway.invalid',
            keystore,
            fsp: setup.fsp,
            eventStreamSilenceMsMax,
          }),
      ).toThrow(expect.objectContaining({ code: 'CONFIGURATION_INVALID' }));
  });

  it('never yields a request that does not verify: it ends the stream, or is reported when the caller listens', async () => {
    const good = await paymentRequestPush(setup);
    const forged = await paymentRequestPush(setup, { fspSigningKey: await generateSigningKeyPair('ES256') });
    const events = [
      await encryptTo(JSON.stringify(forged.push), keystore.encryptionPublicJwk),
      await encryptTo(JSON.stringify(good.push), keystore.encryptionPublicJwk),
    ];
    const gateway = await fakeGateway((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        events.map((data, index) => `event: payment-request\nid: event-${index}\ndata: ${data}\n\n`).join(''),
      );
    });
    try {
      const session = wallet({ gatewayUrl: gateway.url });
      await session.unlock(pin);
      const strict = session.paymentRequests(pin);
      await expect(strict.next()).rejects.toMatchObject({ code: 'CRYPTO_VERIFICATION_FAILED' });

      const refused: { eventId: string; code: string }[] = [];
      const shown: string[] = [];
      for await (const view of session.paymentRequests(pin, undefined, (refusal) => refused.push(refusal)))
        shown.push(view.paymentId);
      expect(refused).toEqual([
        { eventId: 'event-0', code: 'CRYPTO_VERIFICATION_FAILED', event: 'payment-request' },
      ]);
      expect(shown).toEqual([good.message.transactionId]);
    } finally {
      await gateway.close();
    }
  });
});

describe('a payment’s evidence', () => {
  it('is asked for with a request signed by the session’s key: pending, the file as sent, or the gateway’s code', async () => {
    const paymentId = crypto.randomUUID();
    const file = '{"version":"mpay-receipt/v1"}';
    const answers = [
      { status: 202, body: '{"state":"pending"}' },
      { status: 200, body: file },
      { status: 404, body: '{"error":{"code":"EVIDENCE_UNKNOWN"}}' },
    ];
    const paths: string[] = [];
    const gateway = await fakeGateway((request, response) => {
      paths.push(request.url ?? '');
      const answer = answers.shift() ?? { status: 500, body: '' };
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(answer.body);
    });
    try {
      const session = wallet({ gatewayUrl: gateway.url });
      await expect(session.paymentEvidence(paymentId)).rejects.toMatchObject({ code: 'WALLET_LOCKED' });
      await expect(session.paymentEvidence('../admin')).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
      await session.unlock(pin);
      expect(await session.paymentEvidence(paymentId)).toBeUndefined();
      expect(await session.paymentEvidence(paymentId)).toBe(file);
      await expect(session.paymentEvidence(paymentId)).rejects.toMatchObject({ code: 'EVIDENCE_UNKNOWN' });
      expect(paths).toEqual(Array(3).fill(`/payments/${paymentId}/evidence`));
    } finally {
      await gateway.close();
    }
  });
});
