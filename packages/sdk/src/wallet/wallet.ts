import {
  decryptWith,
  encryptTo,
  type PrivateJwk,
  signPayload,
  verifyKeyCertificate,
  verifyPayload,
} from '@mpay/envelope';
import { requestJson, signRequest } from '@mpay/http-client';
import {
  customerDeclineContent,
  customerSignedContent,
  formatDecimalAmount,
  fspSignedContent,
  type ImsMessage,
  imsFromJson,
  imsToJson,
  MpayError,
  merchantSignedContent,
  signedContentMatches,
} from '@mpay/protocol';
import { type FspTrust, fspEncryptionKey, fspKeyResolver } from '../fsp.ts';
import { readServerSentEvents } from '../sse.ts';
import type { MessageTrace } from '../trace.ts';
import { unlockSigningKey, type WalletKeystoreData } from './keystore.ts';

/** What the customer is shown before confirming (iMS: "presents merchant and amount"). */
export interface PaymentRequestView {
  paymentId: string;
  merchant: { id: string; name: string };
  amount: { currency: string; value: string; minor: bigint };
  description: string | undefined;
  procedure: string;
  securityLevel: string;
  message: ImsMessage;
}

export interface Receipt {
  jws: string;
  payload: Record<string, unknown>;
}

export interface WalletOptions {
  gatewayUrl: string;
  keystore: WalletKeystoreData;
  fsp: FspTrust;
  trace?: MessageTrace;
  /** Longest accepted lifetime of a message from the FSP. */
  messageAgeSecondsMax?: number;
  /** Lifetime of the customer's signature. */
  signatureLifetimeSeconds?: number;
}

/** Signed confirmations a wallet keeps to resend after a lost answer. */
const confirmationsKeptMax = 64;

export class Wallet {
  readonly #options: WalletOptions;
  readonly #confirmations = new Map<string, string>();

  constructor(options: WalletOptions) {
    this.#options = options;
  }

  get partyId(): string {
    return this.#options.keystore.partyId;
  }

  #trace(step: string, kind: 'jws' | 'jwe', party: string, compact: string): void {
    this.#options.trace?.({ step, kind, party, compact });
  }

  /**
   * Opens the device's event stream. The subscription is signed with the device
   * key, so opening the wallet takes the PIN once per session (as a banking
   * app's login does); every payment needs it again.
   */
  async *paymentRequests(pin: string, signal?: AbortSignal): AsyncGenerator<PaymentRequestView> {
    const signingKey = await unlockSigningKey(this.#options.keystore, pin);
    const path = '/devices/events';
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.partyId, audience: this.#options.fsp.id, key: signingKey },
    );
    const response = await fetch(`${this.#options.gatewayUrl}${path}`, {
      headers: { authorization, accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
    if (!response.ok || response.body === null)
      throw new MpayError(response.status === 401 ? 'AUTHENTICATION_FAILED' : 'SERVICE_UNAVAILABLE');
    for await (const event of readServerSentEvents(response.body)) {
      if (event.event !== 'payment-request') continue;
      this.#trace('fsp-to-customer (encrypted)', 'jwe', this.partyId, event.data);
      yield await this.openPaymentRequest(event.data);
    }
  }

  /** iMS step 3: decrypt, verify the FSP's countersignature and the merchant's signature and certificate. */
  async openPaymentRequest(jwe: string): Promise<PaymentRequestView> {
    const plaintext = await decryptWith(jwe, [this.#options.keystore.encryptionPrivateJwk]);
    const push = JSON.parse(new TextDecoder().decode(plaintext)) as {
      ims: unknown;
      merchantCertificate: string;
      merchantName: string;
    };
    const message = imsFromJson(push.ims);
    if (message.address.from.id !== this.partyId) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    const options = { clockSkewSeconds: 60, maxAgeSeconds: this.#options.messageAgeSecondsMax ?? 600 };
    const fsp = await verifyPayload(
      message.address.fspSign ?? '',
      fspKeyResolver(this.#options.fsp),
      { issuer: this.#options.fsp.id, audience: this.partyId, transactionId: message.transactionId },
      options,
    );
    if (!signedContentMatches(fsp.payload, fspSignedContent(message)))
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    const certificate = await verifyKeyCertificate(
      push.merchantCertificate,
      fspKeyResolver(this.#options.fsp),
      { isRevoked: () => false },
    );
    if (certificate.subject !== message.address.to.id) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    const merchant = await verifyPayload(
      message.address.to.sign ?? '',
      async () => certificate.signingJwk,
      { issuer: message.address.to.id, audience: this.#options.fsp.id, transactionId: message.transactionId },
      options,
    );
    if (!signedContentMatches(merchant.payload, merchantSignedContent(message)))
      throw new MpayError('CRYPTO_VERIFICATION_FAILED');
    this.#trace('fsp-countersignature', 'jws', this.#options.fsp.id, message.address.fspSign!);
    return {
      paymentId: message.transactionId,
      merchant: { id: message.address.to.id, name: push.merchantName },
      amount: {
        currency: message.data.amount.currency,
        value: formatDecimalAmount(message.data.amount),
        minor: message.data.amount.minor,
      },
      description: message.data.description,
      procedure: message.procedure,
      securityLevel: message.type,
      message,
    };
  }

  /**
   * iMS steps 4–5 and 10: one action plus the PIN signs the message; the FSP
   * answers with a receipt. The signed confirmation is kept per payment and
   * sent again, byte for byte, when an answer was lost or the bank has not
   * answered yet, so a retry never signs twice and gets the same receipt.
   */
  async confirm(
    request: PaymentRequestView,
    pin: string,
    options: { waitMs?: number } = {},
  ): Promise<Receipt> {
    let jwe = this.#confirmations.get(request.paymentId);
    if (jwe === undefined) {
      jwe = await this.#signConfirmation(request, pin);
      this.#remember(request.paymentId, jwe);
    }
    const deadline = Date.now() + (options.waitMs ?? 60_000);
    for (let attempt = 0; ; attempt += 1) {
      const { body } = await requestJson<{ status: string; receipt?: string }>(
        `${this.#options.gatewayUrl}/payments/${request.paymentId}/confirmation`,
        { body: jwe, contentType: 'application/jose', timeoutMs: 30_000 },
      );
      if (body.receipt !== undefined) {
        this.#trace('receipt (encrypted)', 'jwe', this.partyId, body.receipt);
        return this.openReceipt(body.receipt, request.paymentId);
      }
      // Authorised: the customer's bank has not answered yet. Ask again with the same confirmation.
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new MpayError('SERVICE_UNAVAILABLE', `payment ${body.status}`);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(remainingMs, 250 * 2 ** Math.min(attempt, 4))),
      );
    }
  }

  async #signConfirmation(request: PaymentRequestView, pin: string): Promise<string> {
    const signingKey: PrivateJwk = await unlockSigningKey(this.#options.keystore, pin);
    const sign = await signPayload(
      customerSignedContent(request.message),
      {
        issuer: this.partyId,
        audience: this.#options.fsp.id,
        transactionId: request.paymentId,
        expiresInSeconds: this.#options.signatureLifetimeSeconds ?? 300,
      },
      signingKey,
    );
    this.#trace('customer-signature', 'jws', this.partyId, sign);
    const signed: ImsMessage = {
      ...request.message,
      address: { ...request.message.address, from: { ...request.message.address.from, sign } },
    };
    const jwe = await encryptTo(
      JSON.stringify({ ims: imsToJson(signed) }),
      fspEncryptionKey(this.#options.fsp),
    );
    this.#trace('customer-to-fsp (encrypted)', 'jwe', this.#options.fsp.id, jwe);
    return jwe;
  }

  #remember(paymentId: string, jwe: string): void {
    // Bounded: the oldest confirmations are forgotten first (their payments are long settled).
    if (this.#confirmations.size >= confirmationsKeptMax) {
      const oldest = this.#confirmations.keys().next().value;
      if (oldest !== undefined) this.#confirmations.delete(oldest);
    }
    this.#confirmations.set(paymentId, jwe);
  }

  /**
   * The customer declines: a signature over the decline content (which can
   * never stand for a confirmation), encrypted to the FSP.
   */
  async decline(request: PaymentRequestView, pin: string): Promise<void> {
    const signingKey: PrivateJwk = await unlockSigningKey(this.#options.keystore, pin);
    const decline = await signPayload(
      customerDeclineContent(request.message),
      {
        issuer: this.partyId,
        audience: this.#options.fsp.id,
        transactionId: request.paymentId,
        expiresInSeconds: this.#options.signatureLifetimeSeconds ?? 300,
      },
      signingKey,
    );
    this.#trace('customer-decline', 'jws', this.partyId, decline);
    const jwe = await encryptTo(JSON.stringify({ decline }), fspEncryptionKey(this.#options.fsp));
    await requestJson(`${this.#options.gatewayUrl}/payments/${request.paymentId}/decline`, {
      body: jwe,
      contentType: 'application/jose',
      timeoutMs: 30_000,
    });
  }

  async openReceipt(jwe: string, paymentId: string): Promise<Receipt> {
    const jws = new TextDecoder().decode(
      await decryptWith(jwe, [this.#options.keystore.encryptionPrivateJwk]),
    );
    const verified = await verifyPayload(
      jws,
      fspKeyResolver(this.#options.fsp),
      { issuer: this.#options.fsp.id, audience: this.partyId, transactionId: paymentId },
      { maxAgeSeconds: 86_400 },
    );
    this.#trace('receipt', 'jws', this.#options.fsp.id, jws);
    return { jws, payload: verified.payload };
  }
}
