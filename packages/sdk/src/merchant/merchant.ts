import { encryptTo, type PrivateJwk, signPayload, verifyPayload } from '@mpay/envelope';
import { requestObject, signRequest } from '@mpay/http-client';
import {
  type Amount,
  type ImsMessage,
  type ImsOrderLine,
  imsToJson,
  imsToXml,
  isMsisdn,
  MpayError,
  merchantSignedContent,
  type SecurityLevel,
} from '@mpay/protocol';
import { type FspTrust, fspEncryptionKey, fspKeyResolver } from '../fsp.ts';
import type { MessageTrace } from '../trace.ts';
import { aliasPartyOf, cancellationOf, paymentRequestAcceptedOf, paymentStatusOf } from './answers.ts';
import { type RefundAnswer, type RefundInput, readRefund, requestRefund } from './refund.ts';
import { type BankTrust, sealForPayment } from './seal.ts';
import { createTillQr, fetchTillClaim, type TillClaim, type TillQr, type TillQrInput } from './till.ts';

export interface MerchantClientOptions {
  gatewayUrl: string;
  merchantId: string;
  signingKey: PrivateJwk;
  fsp: FspTrust;
  trace?: MessageTrace;
  /** Lifetime of the merchant's signature on a payment request. */
  signatureLifetimeSeconds?: number;
  /**
   * The banks this merchant seals private fields for (its own and its
   * customers'), pinned or from `fetchBankTrust`. With them, a request's
   * description and order lines travel sealed (see `seal`).
   */
  banks?: readonly BankTrust[];
}

export interface PaymentRequestInput {
  /** The customer: a party id (`john.bernard@person.xbank`) or an MSISDN alias (`+38970123456`). */
  customer: string;
  amount: Amount;
  procedure?: 'm-commerce' | 'm-trade';
  /** A higher security level than the FSP would give, if the merchant wants one (the FSP never gives less than its own assessment). */
  minimumLevel?: SecurityLevel;
  description?: string;
  /** What is bought, shown to the customer; travels sealed only (needs `banks`). */
  orderLines?: readonly ImsOrderLine[];
  /**
   * Seal the description and order lines for the customer and the banks (the
   * `private_data_sealed` protection). Default: whenever there is something to
   * seal and the client knows the banks. A level that asks for sealing refuses
   * a description in clear (PRIVATE_DATA_NOT_SEALED).
   */
  seal?: boolean;
  /** Wire form inside the encryption: JSON (default) or the iMS XML of the paper. */
  format?: 'json' | 'xml';
  idempotencyKey?: string;
  transactionId?: string;
}

export interface PaymentRequestAccepted {
  paymentId: string;
  status: string;
  securityLevel: string;
  /** What that level requires (iMS: the protections the FSP applied). */
  protections: string[];
  expiresAt: string;
  delivered: boolean;
}

/**
 * A payment as the FSP shows it to its parties (GET /payments/:id), checked
 * before it is returned (`paymentStatusOf`).
 */
export interface PaymentStatus {
  id: string;
  /** The public status: requested, awaiting_customer, authorised, completed, declined, cancelled, expired, failed, refunded, partially_refunded. */
  status: string;
  procedure: string;
  securityLevel: string;
  /** The amount in the currency's major unit, as the message carries it ("12.50"). */
  amount: { currency: string; value: string };
  payer: string;
  payee: string;
  failureCode: string | null;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  /** Each protocol step the payment took, oldest first. */
  history: { status: string; step: string | null; at: string }[];
}

export class MerchantClient {
  readonly #options: MerchantClientOptions;

  constructor(options: MerchantClientOptions) {
    this.#options = options;
  }

  /** True when this client knows the banks, so the description and order lines of its requests travel sealed. */
  get sealsPrivateData(): boolean {
    return this.#options.banks !== undefined;
  }

  /** A phone number's party, asked of the FSP with the merchant's signed token (only merchants may ask). */
  async #resolveCustomer(customer: string): Promise<string> {
    if (!isMsisdn(customer)) return customer;
    const path = `/aliases/${encodeURIComponent(customer)}`;
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.#options.merchantId, audience: this.#options.fsp.id, key: this.#options.signingKey },
    );
    const { body } = await requestObject<Record<string, unknown>>(`${this.#options.gatewayUrl}${path}`, {
      headers: { authorization },
    });
    return aliasPartyOf(body);
  }

  /** Builds the iMS message (merchant's part), signs the content and encrypts it to the FSP. */
  async buildPaymentRequest(input: PaymentRequestInput): Promise<{ message: ImsMessage; jwe: string }> {
    const transactionId = input.transactionId ?? crypto.randomUUID();
    const customerId = await this.#resolveCustomer(input.customer);
    const unsigned: ImsMessage = {
      // The least the merchant asks for; the FSP alone assesses the level (amount and the customer's history).
      type: input.minimumLevel ?? 'small',
      transactionId,
      procedure: input.procedure ?? 'm-commerce',
      address: {
        from: { id: customerId as ImsMessage['address']['from']['id'] },
        to: { id: this.#options.merchantId as ImsMessage['address']['to']['id'] },
        timestamp: new Date().toISOString(),
      },
      data: { amount: input.amount, ...(await this.#privateFields(input, customerId, transactionId)) },
    };
    const sign = await signPayload(
      merchantSignedContent(unsigned),
      {
        issuer: this.#options.merchantId,
        audience: this.#options.fsp.id,
        transactionId: unsigned.transactionId,
        expiresInSeconds: this.#options.signatureLifetimeSeconds ?? 300,
      },
      this.#options.signingKey,
    );
    this.#options.trace?.({
      step: 'merchant-signature',
      kind: 'jws',
      party: this.#options.merchantId,
      compact: sign,
    });
    const message: ImsMessage = {
      ...unsigned,
      address: { ...unsigned.address, to: { ...unsigned.address.to, sign } },
    };
    const plaintext =
      input.format === 'xml' ? imsToXml(message) : JSON.stringify({ ims: imsToJson(message) });
    const jwe = await encryptTo(plaintext, fspEncryptionKey(this.#options.fsp));
    this.#options.trace?.({
      step: 'merchant-to-fsp (encrypted)',
      kind: 'jwe',
      party: this.#options.fsp.id,
      compact: jwe,
    });
    return { message, jwe };
  }

  /** The data section's private fields: sealed (`data.sealed`), or the description in clear. */
  async #privateFields(
    input: PaymentRequestInput,
    customerId: string,
    transactionId: string,
  ): Promise<Pick<ImsMessage['data'], 'description' | 'sealed'>> {
    const { description, orderLines } = input;
    if (description === undefined && orderLines === undefined) return {};
    const banks = this.#options.banks;
    const seal = input.seal ?? banks !== undefined;
    if (!seal) {
      if (orderLines !== undefined) throw new MpayError('PRIVATE_DATA_NOT_SEALED', 'orderLines');
      return { description };
    }
    if (banks === undefined) throw new MpayError('KEY_UNKNOWN', 'banks to seal for');
    const sealed = await sealForPayment({ ...this.#options, banks }, customerId, {
      transactionId,
      ...(description === undefined ? {} : { description }),
      ...(orderLines === undefined ? {} : { orderLines }),
    });
    return { sealed };
  }

  /** iMS step 1: sends the signed, encrypted payment request to the FSP. */
  async requestPayment(input: PaymentRequestInput): Promise<PaymentRequestAccepted> {
    const { jwe } = await this.buildPaymentRequest(input);
    return this.submit(jwe, input.idempotencyKey);
  }

  async submit(jwe: string, idempotencyKey?: string): Promise<PaymentRequestAccepted> {
    const { body } = await requestObject<Record<string, unknown>>(`${this.#options.gatewayUrl}/payments`, {
      body: jwe,
      contentType: 'application/jose',
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    });
    return paymentRequestAcceptedOf(body);
  }

  /** Withdraws a request the customer has not answered yet (signed request; logged as the cancellation). */
  async cancel(paymentId: string, reason?: string): Promise<{ paymentId: string; status: string }> {
    const path = `/payments/${paymentId}/cancellation`;
    const body = JSON.stringify(reason === undefined ? {} : { reason });
    const authorization = await signRequest(
      { method: 'POST', path, body },
      { issuer: this.#options.merchantId, audience: this.#options.fsp.id, key: this.#options.signingKey },
    );
    const answer = await requestObject<Record<string, unknown>>(`${this.#options.gatewayUrl}${path}`, {
      body,
      contentType: 'application/json',
      headers: { authorization },
    });
    return cancellationOf(answer.body);
  }

  /** m-trade at the till (iMS §2.2): an EMV QR code for one payment, signed with this merchant's key. */
  createTillQr(input: TillQrInput): Promise<TillQr> {
    return createTillQr(
      { merchantId: this.#options.merchantId, signingKey: this.#options.signingKey },
      input,
    );
  }

  /** Who claimed a till code (then request the payment from that customer); undefined until someone did. */
  tillClaim(transactionId: string): Promise<TillClaim | undefined> {
    return fetchTillClaim(this.#options, transactionId, (body) => this.verifyNotification(body));
  }

  /** Gives back all or part of a completed payment, with a refund this merchant signs (see refund.ts). */
  refund(paymentId: string, input: RefundInput): Promise<RefundAnswer> {
    return requestRefund(this.#options, paymentId, input);
  }

  /** A refund of one of this merchant's payments, as it stands. */
  refundStatus(paymentId: string, refundId: string): Promise<RefundAnswer> {
    return readRefund(this.#options, paymentId, refundId);
  }

  /** The public status of one of this merchant's payments. */
  async paymentStatus(paymentId: string): Promise<PaymentStatus> {
    const path = `/payments/${paymentId}`;
    const authorization = await signRequest(
      { method: 'GET', path, body: '' },
      { issuer: this.#options.merchantId, audience: this.#options.fsp.id, key: this.#options.signingKey },
    );
    const { body } = await requestObject<Record<string, unknown>>(`${this.#options.gatewayUrl}${path}`, {
      headers: { authorization },
    });
    return paymentStatusOf(body, paymentId);
  }

  /**
   * Verifies a webhook body: signed by the FSP, addressed to this merchant,
   * fresh; then reads the event it carries. An event of an unknown name, or
   * whose object is missing, is refused (MESSAGE_INVALID) rather than guessed at.
   */
  async verifyNotification(body: string): Promise<MerchantEvent> {
    const verified = await verifyPayload(
      body.trim(),
      fspKeyResolver(this.#options.fsp),
      { issuer: this.#options.fsp.id, audience: this.#options.merchantId },
      { maxAgeSeconds: 86_400 },
    );
    return merchantEventOf(verified.payload);
  }
}

/** What the FSP notifies a merchant of (each a signed webhook body). */
export type MerchantEvent =
  /** iMS step 9: a payment's public status changed. */
  | { readonly event: 'payment.updated'; readonly payment: Readonly<Record<string, unknown>> }
  /** m-trade: a customer scanned the till's signed QR code and asks to be sent the payment request. */
  | { readonly event: 'trade.claimed'; readonly claim: Readonly<Record<string, unknown>> }
  /** A refund's status changed. */
  | { readonly event: 'refund.updated'; readonly refund: Readonly<Record<string, unknown>> };

const eventObjectNames = {
  'payment.updated': 'payment',
  'trade.claimed': 'claim',
  'refund.updated': 'refund',
} as const;

function merchantEventOf(payload: Readonly<Record<string, unknown>>): MerchantEvent {
  const event = payload.event;
  if (typeof event !== 'string' || !Object.hasOwn(eventObjectNames, event))
    throw new MpayError('MESSAGE_INVALID', 'event');
  const name = eventObjectNames[event as keyof typeof eventObjectNames];
  const object = payload[name];
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    throw new MpayError('MESSAGE_INVALID', name);
  return { event, [name]: object } as MerchantEvent;
}
