import { decodeBase64url, encodeBase64url, encryptAnswer, encryptTo } from '@mpay/envelope';
import {
  attachPayload,
  canonicalBytes,
  canonicalize,
  consentPayload,
  customerSignedContent,
  type DetachedConsent,
  errorCategoryOf,
  type ImsMessage,
  imsFromJson,
  imsFromXml,
  isErrorCode,
  isMpayError,
  MpayError,
  type PaymentState,
  parseDetachedConsent,
} from '@mpay/protocol';
import { together } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { custodianOf } from '../devices/custody-redirect.ts';
import { deliverAfterCommit, type deliverPaymentEffects, outboxLeaseOf } from '../outbox/deliver.ts';
import { activeBindingOf, recordDeviceCertificate } from '../registry/bindings.ts';
import { keyLookup, partySigningKeyResolver } from '../registry/keys.ts';
import { deviceReceiptContent } from './device-receipt.ts';
import { claimIdempotencyKey, type IdempotencyClaim, storeIdempotentAnswer } from './idempotency.ts';
import { insertNonce } from './nonces.ts';
import { cancelReceiptPushes } from './receipt-cancellations.ts';
import { findPayment, lockPayment, type Payment } from './store.ts';
import { applyEvent, applyEventIn } from './transition.ts';
import { jsonMember, openToFsp, verifyChainSignature } from './verify.ts';

export type ConfirmationResult =
  | { readonly status: 'completed'; readonly paymentId: string; readonly receipt: string }
  | { readonly status: 'authorised'; readonly paymentId: string };

export interface VerifiedConfirmation {
  readonly payment: Payment;
  /** The customer's signature (compact JWS), verified over the FSP's own copy of the message. */
  readonly sign: string;
  /** The one-time code sealed to the customer's bank, when the level asks for one (covered by `sign`). */
  readonly secondFactor: string | undefined;
  readonly nonce: string;
  readonly expiresAtSeconds: number;
}

/**
 * iMS steps 4–6 at the FSP, read-only: the customer's signed and encrypted
 * message must be the very message the FSP sent (content, account, merchant
 * and FSP signatures) plus a valid signature by the customer's bound key.
 * An unknown payment and someone else's payment get the same answer.
 */
export async function verifyConfirmation(
  context: GatewayContext,
  paymentId: string,
  jwe: string,
): Promise<VerifiedConfirmation> {
  const plaintext = await openToFsp(context, jwe);
  if (plaintext.trimStart().startsWith('<'))
    return verifyMessageConfirmation(context, paymentId, imsFromXml(plaintext));
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'json');
  }
  if (typeof parsed === 'object' && parsed !== null && Object.hasOwn(parsed, 'consent'))
    return verifyDetachedConfirmation(context, paymentId, jsonMember(plaintext, 'consent'));
  return verifyMessageConfirmation(context, paymentId, imsFromJson(jsonMember(plaintext, 'ims')));
}

/**
 * The payment a confirmation names: as this instance committed its request a
 * moment ago (payments/recent.ts), or read. confirmPayment's lockPayment
 * checks, under the row's lock, that no step came in between.
 */
async function paymentToConfirm(context: GatewayContext, paymentId: string): Promise<Payment> {
  return context.recentPayments?.get(paymentId) ?? (await findPayment(context.database, paymentId));
}

/** The kid of a detached JWS's protected header (undefined when it does not parse: the signature then fails). */
function kidOf(detachedSign: string): string | undefined {
  const bytes = decodeBase64url(detachedSign.split('.')[0] ?? '');
  if (bytes === undefined) return undefined;
  try {
    const header: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    const kid = typeof header === 'object' && header !== null ? (header as { kid?: unknown }).kid : undefined;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The compact consent (`{"consent": {sign, iat, exp, nonce, secondFactor?}}`,
 * @mpay/protocol's consent.ts): the device sends the customer's JWS with its
 * payload detached; the FSP rebuilds the payload from its own copy of the
 * message and the claims it knows, byte for byte, and verifies the whole JWS
 * exactly as a full one. The re-attached JWS is what it stores and forwards
 * to the customer's bank, which verifies it as before. A key that is not the
 * payer's gets the answer of an unknown payment.
 */
async function verifyDetachedConfirmation(
  context: GatewayContext,
  paymentId: string,
  sent: unknown,
): Promise<VerifiedConfirmation> {
  const consent: DetachedConsent = parseDetachedConsent(sent);
  const payment = await paymentToConfirm(context, paymentId);
  const kid = kidOf(consent.sign);
  if (kid !== undefined) {
    const owner: { partyId?: string } = {};
    const resolve = partySigningKeyResolver(keyLookup(context), undefined, owner);
    try {
      await resolve(kid, { alg: 'ES256', kid, typ: 'mpay+jws' });
    } catch (error) {
      if (!isMpayError(error, 'KEY_UNKNOWN')) throw error;
    }
    if (owner.partyId !== undefined && owner.partyId !== payment.customer.id)
      throw new MpayError('PAYMENT_UNKNOWN');
  }
  const { secondFactor } = consent;
  if (payment.message.protections?.includes('second_factor') && secondFactor === undefined) {
    throw new MpayError('SECOND_FACTOR_REQUIRED');
  }
  const content = customerSignedContent(withCustomerAdditions(payment.message, { secondFactor }));
  const payload = consentPayload(
    content,
    { iss: payment.customer.id, aud: context.fsp.id, txn: paymentId },
    consent,
  );
  const sign = attachPayload(consent, encodeBase64url(canonicalBytes(payload)));
  const verified = await verifyChainSignature(context, context.database, sign, {
    signer: payment.customer.id,
    transactionId: paymentId,
    content,
  });
  return { payment, sign, secondFactor, nonce: verified.claims.nonce, expiresAtSeconds: verified.claims.exp };
}

/** The full message as the customer signed it (`{"ims": …}` or the paper's XML): the original wire format. */
async function verifyMessageConfirmation(
  context: GatewayContext,
  paymentId: string,
  message: ImsMessage,
): Promise<VerifiedConfirmation> {
  const payment = await paymentToConfirm(context, paymentId);
  if (message.transactionId !== paymentId || message.address.from.id !== payment.customer.id) {
    throw new MpayError('PAYMENT_UNKNOWN');
  }
  // The level's second factor: the customer seals it to its bank, which alone checks it; the FSP
  // only sees that it is there, and the customer's signature covers it.
  const { secondFactor } = message.address.from;
  if (payment.message.protections?.includes('second_factor') && secondFactor === undefined) {
    throw new MpayError('SECOND_FACTOR_REQUIRED');
  }
  const sent = withCustomerAdditions(payment.message, { secondFactor });
  if (canonicalize(customerSignedContent(message)) !== canonicalize(customerSignedContent(sent))) {
    throw new MpayError('PAYMENT_MESSAGE_MISMATCH');
  }
  const verified = await verifyChainSignature(context, context.database, message.address.from.sign, {
    signer: payment.customer.id,
    transactionId: paymentId,
    content: customerSignedContent(sent),
  });
  const sign = message.address.from.sign;
  if (sign === undefined) throw new Error('assertion failed: a verified signature is present');
  return {
    payment,
    sign,
    secondFactor,
    nonce: verified.claims.nonce,
    expiresAtSeconds: verified.claims.exp,
  };
}

/**
 * The customer's message: the FSP's own copy plus what the customer adds (its
 * verified signature, the sealed second factor), nothing else from the client.
 */
function withCustomerAdditions(
  sent: ImsMessage,
  additions: { sign?: string | undefined; secondFactor?: string | undefined },
): ImsMessage {
  const from = {
    ...sent.address.from,
    ...(additions.sign === undefined ? {} : { sign: additions.sign }),
    ...(additions.secondFactor === undefined ? {} : { secondFactor: additions.secondFactor }),
  };
  return { ...sent, address: { ...sent.address, from } };
}

/** What a closed payment answers the customer. */
const closedAnswer: Readonly<
  Partial<Record<PaymentState, 'PAYMENT_EXPIRED' | 'PAYMENT_CANCELLED' | 'PAYMENT_STATE_INVALID'>>
> = {
  request_expired: 'PAYMENT_EXPIRED',
  merchant_cancelled: 'PAYMENT_CANCELLED',
  customer_declined: 'PAYMENT_STATE_INVALID',
};

/** A refusal tells the customer the bank's code when it is a decision (funds, limits, consent), else PAYMENT_DECLINED. */
function refusalError(code: string | null): MpayError {
  if (code !== null && isErrorCode(code) && errorCategoryOf(code) === 'refused') return new MpayError(code);
  return new MpayError('PAYMENT_DECLINED');
}

/**
 * One delivery of the receipt: an answer that carried it has been handed to
 * the device's connection (the route calls this on the response's `finish`,
 * never before: an answer to a device that gave up waiting, or whose
 * connection broke, finishes not and cancels nothing), so its push to the
 * device's stream, still waiting out its grace (effects.ts), is not sent. A
 * device that loses the answer after that sends its confirmation again (the
 * wallet keeps it) and gets the same receipt while its signature is fresh.
 * Custody's customers get their receipt through custody, never cancelled.
 */
export async function receiptAnswerDelivered(
  context: GatewayContext,
  paymentId: string,
  customerId: string,
): Promise<void> {
  const binding = await activeBindingOf(context.database, customerId, context.clock(), context.keyCache);
  if (custodianOf(context, binding) !== undefined) return;
  // With the service's line, in one statement with the others of the moment; alone without it.
  if (context.receiptCancellations !== undefined) context.receiptCancellations.cancel(paymentId);
  else await cancelReceiptPushes(context.database, [paymentId], context.clock(), context.statistics);
}

/**
 * The receipt's wire format in the confirmation's answer: `v1` the whole JWS,
 * `v2` (@mpay/protocol ims/receipt.ts) when the wallet asks for it
 * (`?receipt=v2`) and can be sent it. Both encrypted to the device's key.
 * `v3` (`?receipt=v3`): v2's content, encrypted under the confirmation's own
 * answer key (@mpay/envelope jwe/answer-key.ts: `dir`, no ephemeral key of
 * its own, about 250 characters less) for a device that holds its key;
 * custody's customers get v1 to custody's key whatever is asked.
 */
export type ReceiptFormat = 'v1' | 'v2' | 'v3';

/** How the answer's receipt is sent: its format and, for `v3`, the confirmation's answer key. */
export type ReceiptAnswer =
  | { readonly format: 'v1' | 'v2' }
  | { readonly format: 'v3'; readonly answerKey: Uint8Array };

/** The receipt form a wallet asked for (`?receipt=`): any value other than v2 and v3 reads as v1, which every wallet reads. */
export function receiptFormatOf(asked: unknown): ReceiptFormat {
  return asked === 'v2' || asked === 'v3' ? asked : 'v1';
}

/**
 * The answer to the customer from the payment's state: the receipt once the
 * bank paid (the same receipt on every retry), `authorised` while the bank has
 * not answered, or why the payment ended otherwise.
 */
export async function confirmationAnswer(
  context: GatewayContext,
  payment: Payment,
  receipt: ReceiptAnswer = { format: 'v1' },
): Promise<ConfirmationResult> {
  if (payment.state === 'funds_transferred') {
    if (payment.receipt === null) throw new Error('assertion failed: a completed payment has its receipt');
    const binding = await activeBindingOf(
      context.database,
      payment.customer.id,
      context.clock(),
      context.keyCache,
    );
    const toCustody = custodianOf(context, binding) !== undefined;
    // receipt/v2 only to a wallet that asked for it (an older one reads the whole JWS alone).
    const content =
      receipt.format === 'v1'
        ? payment.receipt
        : deviceReceiptContent(payment.receipt, payment.message, { fspId: context.fsp.id, toCustody });
    return {
      status: 'completed',
      paymentId: payment.id,
      receipt:
        receipt.format === 'v3' && !toCustody
          ? await encryptAnswer(content, receipt.answerKey)
          : await encryptTo(content, binding.encryptionJwk),
    };
  }
  if (payment.state === 'customer_signature_verified') return { status: 'authorised', paymentId: payment.id };
  if (payment.state === 'funds_refused' || payment.state === 'transfer_failed')
    throw refusalError(payment.failureCode);
  throw new MpayError(closedAnswer[payment.state] ?? 'PAYMENT_STATE_INVALID');
}

/**
 * iMS steps 6–10 for a verified confirmation: in one transaction the
 * customer's nonce, the signature and the order to the bank (an outbox row);
 * then the order is delivered at once and the customer waits for the bank's
 * answer, up to a named limit. A confirmation of a payment already confirmed
 * (a retry after a lost answer, even signed again) moves nothing and gets the
 * same receipt.
 */
export async function confirmPayment(
  context: GatewayContext,
  confirmation: VerifiedConfirmation,
  idempotency: IdempotencyClaim | undefined,
  deliver: typeof deliverPaymentEffects,
  receipt: ReceiptAnswer = { format: 'v1' },
): Promise<ConfirmationResult> {
  const { payment } = confirmation;
  // Verified: a later confirmation of this payment reads it as it stands.
  context.recentPayments?.forget(payment.id);
  const now = context.clock();
  const lease = outboxLeaseOf(context, now);
  let confirmed: Payment | undefined;
  try {
    await context.database.transaction(async (sql) => {
      // The answer is the payment's state, not a stored copy: only the key's request hash is kept.
      if (idempotency !== undefined && (await claimIdempotencyKey(sql, idempotency, now)) === undefined) {
        await storeIdempotentAnswer(sql, idempotency, { statusCode: 200, body: { paymentId: payment.id } });
      }
      // Read a moment ago (the confirmation's check): kept unless a step came in between. The device's
      // nonce goes in the same round trip; a replay matters only for a payment still awaiting it (a
      // confirmation sent again after its payment moved on is answered with the payment as it stands).
      const [locked, fresh] = await together([
        lockPayment(sql, payment),
        insertNonce(sql, payment.customer.id, confirmation.nonce, confirmation.expiresAtSeconds),
      ]);
      if (locked.state !== 'awaiting_customer_signature') return;
      if (!fresh) throw new MpayError('MESSAGE_REPLAYED');
      // The device verified the certificate its push carried: the next push to it names it by reference.
      const device = kidOf(confirmation.sign);
      const certificateVerified = locked.pushCertificateSha256 !== null && device !== undefined;
      const authorised = await applyEventIn(
        context,
        sql,
        payment.id,
        {
          locked,
          lease,
          // Else the certificate's record follows the step.
          lastInTransaction: !certificateVerified,
          event: 'customer_confirmed',
          changes: {
            message: withCustomerAdditions(locked.message, {
              sign: confirmation.sign,
              secondFactor: confirmation.secondFactor,
            }),
            detail: 'customer signature verified; order queued for the customer bank',
          },
        },
        now,
      );
      if (certificateVerified && locked.pushCertificateSha256 !== null && device !== undefined)
        await recordDeviceCertificate(sql, device, locked.pushCertificateSha256, now);
      confirmed = authorised;
    });
  } catch (error) {
    if (!isMpayError(error, 'PAYMENT_EXPIRED')) throw error;
    await applyEvent(context, payment.id, { event: 'expiry_due' }).catch(() => undefined);
    throw error;
  }
  // The order is delivered here and now; the step's other effects, if any, in the outbox's line.
  const others = lease && { ...lease, rows: lease.rows.filter((row) => row.kind !== 'bank_order') };
  deliverAfterCommit(context, others);
  // The payment as this transaction committed it: the order goes to the bank without reading it again.
  const after = await deliver(
    context,
    payment.id,
    'bank_order',
    context.limits.confirmationWaitMs,
    confirmed,
    lease,
  );
  return confirmationAnswer(context, after ?? (await findPayment(context.database, payment.id)), receipt);
}
