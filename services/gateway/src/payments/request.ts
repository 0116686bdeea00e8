import { encryptTo, signPayload } from '@mpay/envelope';
import {
  fspSignedContent,
  type ImsMessage,
  imsToJson,
  isLevelAtLeast,
  MpayError,
  merchantSignedContent,
  securityLevelFor,
} from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import { partyEncryptionKey } from '../registry/keys.ts';
import { type Party, resolveParty } from '../registry/parties.ts';
import { recordNonce } from './nonces.ts';
import { insertPayment, type PaymentRecord, transitionPayment } from './store.ts';
import { openMessageToFsp, verifyChainSignature } from './verify.ts';

export interface PaymentRequestAccepted {
  paymentId: string;
  status: 'awaiting_customer';
  securityLevel: string;
  expiresAt: string;
  delivered: boolean;
}

function requireUnsignedByOthers(message: ImsMessage): void {
  if (message.address.from.sign !== undefined || message.address.fspSign !== undefined) {
    throw new MpayError('MESSAGE_INVALID', 'address.sign');
  }
  if (message.data.accountPayable !== undefined || message.data.accountReceivable !== undefined) {
    throw new MpayError('MESSAGE_INVALID', 'data.account');
  }
}

async function loadParties(
  context: GatewayContext,
  message: ImsMessage,
): Promise<{ merchant: Party; customer: Party }> {
  const merchant = await resolveParty(context.database, message.address.to.id);
  const customer = await resolveParty(context.database, message.address.from.id);
  if (merchant.kind !== 'merchant' || merchant.id !== message.address.to.id)
    throw new MpayError('FORBIDDEN', 'payee');
  if (customer.kind !== 'person' || customer.id !== message.address.from.id)
    throw new MpayError('PARTY_UNKNOWN', 'payer');
  if (merchant.accountId === null || customer.accountId === null) throw new MpayError('ACCOUNT_UNKNOWN');
  return { merchant, customer };
}

/**
 * iMS step 1: the FSP receives the merchant's signed and encrypted message,
 * decrypts it, verifies the merchant and its certificate, checks the security
 * level, and records the payment (its nonce makes a replay fail).
 */
/** A merchant request whose signature, certificate and parties have been verified (nothing stored yet). */
export interface VerifiedPaymentRequest {
  message: ImsMessage;
  merchant: Party;
  customer: Party;
  nonce: string;
  expiresAtSeconds: number;
}

/** iMS step 1, read-only part: decrypt, verify the merchant and its certificate, check the parties and level. */
export async function verifyPaymentRequest(
  context: GatewayContext,
  jwe: string,
): Promise<VerifiedPaymentRequest> {
  const { message } = await openMessageToFsp(context, jwe);
  requireUnsignedByOthers(message);
  const merchantSignature = await verifyChainSignature(context, context.database, message.address.to.sign, {
    signer: message.address.to.id,
    transactionId: message.transactionId,
    content: merchantSignedContent(message),
  });
  const { merchant, customer } = await loadParties(context, message);
  const required = securityLevelFor(message.data.amount.minor, message.data.amount.currency);
  if (!isLevelAtLeast(message.type, required)) throw new MpayError('MESSAGE_INVALID', 'type');
  const { nonce, exp } = merchantSignature.claims;
  return { message, merchant, customer, nonce, expiresAtSeconds: exp };
}

async function acceptMerchantRequest(
  context: GatewayContext,
  verified: VerifiedPaymentRequest,
): Promise<{ message: ImsMessage; customer: Party; merchant: Party }> {
  const { message, merchant, customer } = verified;
  await context.database.transaction(async (sql) => {
    await recordNonce(sql, merchant.id, verified.nonce, verified.expiresAtSeconds);
    await insertPayment(sql, {
      id: message.transactionId,
      merchantId: merchant.id,
      customerId: customer.id,
      procedure: message.procedure,
      currency: message.data.amount.currency,
      amountMinor: message.data.amount.minor,
      securityLevel: message.type,
      state: 'merchant_request_verified',
      message: JSON.stringify(imsToJson(message)),
      expiresAt: new Date(Date.now() + context.limits.paymentExpirySeconds * 1000),
    });
  });
  return { message, customer, merchant };
}

/**
 * iMS steps 1–2: the FSP fills in the accounts, countersigns the content and
 * the merchant's signature, encrypts the message to the customer's device key
 * and sends it (stored, so a device that connects later still gets it).
 */
async function countersignAndPush(
  context: GatewayContext,
  accepted: { message: ImsMessage; customer: Party; merchant: Party },
): Promise<PaymentRecord> {
  const { customer, merchant } = accepted;
  const filled: ImsMessage = {
    ...accepted.message,
    data: {
      ...accepted.message.data,
      accountPayable: customer.accountId!,
      accountReceivable: merchant.accountId!,
    },
  };
  const fspSign = await signPayload(
    fspSignedContent(filled),
    {
      issuer: context.fsp.id,
      audience: customer.id,
      transactionId: filled.transactionId,
      expiresInSeconds: context.limits.paymentExpirySeconds,
    },
    context.fsp.signing.privateJwk,
  );
  const countersigned: ImsMessage = { ...filled, address: { ...filled.address, fspSign } };
  const customerKey = await partyEncryptionKey(
    context.database,
    context.fsp,
    customer.id,
    context.limits.clockSkewSeconds,
  );
  const merchantCertificate = (
    await partyEncryptionKey(context.database, context.fsp, merchant.id, context.limits.clockSkewSeconds)
  ).certificate;
  const push = await encryptTo(
    JSON.stringify({
      ims: imsToJson(countersigned),
      merchantCertificate,
      merchantName: merchant.displayName,
    }),
    customerKey.jwk,
  );
  return context.database.transaction((sql) =>
    transitionPayment(sql, filled.transactionId, 'merchant_request_verified', 'awaiting_customer_signature', {
      message: JSON.stringify(imsToJson(countersigned)),
      pushMessage: push,
      detail: 'FSP countersigned and sent the message to the customer device',
    }),
  );
}

/** iMS steps 1–2 for a verified request: record it (once), countersign, push to the device. */
export async function requestPayment(
  context: GatewayContext,
  verified: VerifiedPaymentRequest,
): Promise<PaymentRequestAccepted> {
  const accepted = await acceptMerchantRequest(context, verified);
  const payment = await countersignAndPush(context, accepted);
  const delivered =
    context.hub.push(payment.customerId, {
      event: 'payment-request',
      id: payment.id,
      data: payment.pushMessage!,
    }) > 0;
  return {
    paymentId: payment.id,
    status: 'awaiting_customer',
    securityLevel: payment.securityLevel,
    expiresAt: payment.expiresAt.toISOString(),
    delivered,
  };
}
