import { certificateReference, decodeBase64url, encryptTo, signPayload } from '@mpay/envelope';
import {
  assessSecurity,
  fspSignedContent,
  higherLevel,
  type ImsMessage,
  MpayError,
  merchantSignedContent,
  type PaymentState,
  paymentStates,
  publicStatusOf,
  type RecentPayment,
  type SecurityAssessment,
  stepPayment,
} from '@mpay/protocol';
import { commitWithLastStatements, type Sql, together } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import { custodianOf } from '../devices/custody-redirect.ts';
import { checkTradeClaim } from '../m-trade/check.ts';
import { deliverAfterCommit, outboxLeaseOf } from '../outbox/deliver.ts';
import { activeBindingOf, type BoundKey, type DevicePushForm, devicePushForm } from '../registry/bindings.ts';
import { cachedAt } from '../registry/key-cache.ts';
import { keyLookup, partyEncryptionKey } from '../registry/keys.ts';
import { findParty, type Party, resolveParty } from '../registry/parties.ts';
import { materialiseEffects } from './effects.ts';
import { claimIdempotencyKey, type IdempotencyClaim, storeIdempotentAnswer } from './idempotency.ts';
import { recordNonce } from './nonces.ts';
import { devicePushContent } from './push.ts';
import { rateRetryAfterSeconds } from './rate-window.ts';
import { observeRequestAfterCommit, observeStepAfterCommit } from './statistics.ts';
import {
  insertedPayment,
  insertPayment,
  lockCustomer,
  lockMerchant,
  type Payment,
  persistStep,
  type RequestsInWindow,
  recentPaymentsOf,
  requestsInWindow,
} from './store.ts';
import { openMessageToFsp, verifyChainSignature } from './verify.ts';

export interface PaymentRequestAccepted {
  readonly paymentId: string;
  readonly status: 'awaiting_customer';
  readonly securityLevel: string;
  readonly protections: readonly string[];
  readonly expiresAt: string;
  readonly delivered: boolean;
}

/** A merchant request whose signature, certificate and parties have been verified (nothing stored yet). */
export interface VerifiedPaymentRequest {
  readonly message: ImsMessage;
  readonly merchant: Party;
  readonly customer: Party;
  /** The customer's key as the customer's bank bound it: its device gets the request, its account pays. */
  readonly binding: BoundKey;
  readonly nonce: string;
  readonly expiresAtSeconds: number;
}

function requireUnsignedByOthers(message: ImsMessage): void {
  if (message.address.from.sign !== undefined || message.address.fspSign !== undefined) {
    throw new MpayError('MESSAGE_INVALID', 'address.sign');
  }
  if (message.data.accountPayable !== undefined || message.data.accountReceivable !== undefined) {
    throw new MpayError('MESSAGE_INVALID', 'data.account');
  }
}

/**
 * iMS step 1, read-only part: decrypt, verify the merchant's signature under
 * its certified key, resolve both parties and the customer's bound key, and
 * check the security level the merchant put in <type>.
 */
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
  const merchant = await findParty(context.database, message.address.to.id, cachedAt(context));
  if (merchant?.kind !== 'merchant') throw new MpayError('FORBIDDEN', 'payee');
  const customer = await resolveParty(context.database, message.address.from.id, cachedAt(context));
  if (customer.kind !== 'person' || customer.id !== message.address.from.id)
    throw new MpayError('PARTY_UNKNOWN', 'payer');
  const binding = await activeBindingOf(
    context.database,
    customer.id,
    context.clock(),
    context.keyCache,
  ).catch(() => {
    throw new MpayError('PARTY_UNKNOWN', 'payer');
  });
  if (message.protections !== undefined) throw new MpayError('MESSAGE_INVALID', 'protections');
  const { nonce, exp } = merchantSignature.claims;
  return { message, merchant, customer, binding, nonce, expiresAtSeconds: exp };
}

/** The payments that still count towards a customer's level: those not ended without money moving. */
const countingStates: readonly PaymentState[] = paymentStates.filter((state) =>
  ['requested', 'awaiting_customer', 'authorised', 'completed'].includes(publicStatusOf(state)),
);

/**
 * The level this payment gets: the gateway's own assessment from the amount
 * and the customer's recent payments (`history`, read under the customer's
 * lock, so requests at once are assessed in turn; so that splitting a
 * purchase does not lower it), raised to the merchant's <type> when the
 * merchant asks for more.
 */
function assessLevel(
  context: GatewayContext,
  verified: VerifiedPaymentRequest,
  history: readonly RecentPayment[],
  now: Date,
): SecurityAssessment {
  const { amount } = verified.message.data;
  const assessed = assessSecurity(amount, history, context.securityPolicy, now);
  const level = higherLevel(assessed.level, verified.message.type);
  if (level === assessed.level) return assessed;
  return {
    ...assessed,
    level,
    protections: context.securityPolicy.levels[level],
    reason: `the merchant asked for ${level} (${assessed.reason})`,
  };
}

/** The customer's payments that count towards the level, from the start of the policy's window to `now`. */
function historyOf(context: GatewayContext, sql: Sql, verified: VerifiedPaymentRequest, now: Date) {
  const { currency } = verified.message.data.amount;
  const windowSeconds = context.securityPolicy.currencies[currency]?.windowSeconds ?? 0;
  return recentPaymentsOf(
    sql,
    verified.customer.id,
    currency,
    new Date(now.getTime() - windowSeconds * 1000),
    countingStates,
  );
}

/** How the push reaches the customer's device (push.ts): custody and a device without a key id get push/v1. */
async function pushFormOf(
  context: GatewayContext,
  sql: Sql,
  verified: VerifiedPaymentRequest,
  reference: string | undefined,
): Promise<DevicePushForm> {
  const device = verified.binding.signingJwk.kid;
  if (custodianOf(context, verified.binding) !== undefined || device === undefined)
    return { pushFormat: 'v1', holdsCertificate: false };
  return devicePushForm(sql, device, reference);
}

/**
 * iMS step 2's content: the FSP writes the level and its protections, fills
 * in the payer's account (from the bank's binding, never from the merchant),
 * countersigns the content and the merchant's signature, and encrypts the
 * message to the customer's device key. No receivable account: the
 * merchant's bank alone resolves the payee.
 */
async function countersign(
  context: GatewayContext,
  verified: VerifiedPaymentRequest,
  security: SecurityAssessment,
  merchantKey: { readonly certificate?: string | undefined },
  delivery: { readonly form: DevicePushForm; readonly reference: string | undefined },
) {
  const payerAccount = verified.binding.accounts[0];
  if (payerAccount === undefined)
    throw new Error('assertion failed: a key binding names at least one account');
  const sealing = security.protections.includes('private_data_sealed');
  checkSealedData(verified, sealing);
  const filled: ImsMessage = {
    ...verified.message,
    type: security.level,
    protections: security.protections,
    // At a sealing level no account travels in clear: the customer's bank debits what its binding names.
    data: sealing ? verified.message.data : { ...verified.message.data, accountPayable: payerAccount },
  };
  const fspSign = await signPayload(
    fspSignedContent(filled),
    {
      issuer: context.fsp.id,
      audience: verified.customer.id,
      transactionId: filled.transactionId,
      expiresInSeconds: context.limits.paymentExpirySeconds,
    },
    context.fsp.signing.privateJwk,
  );
  const countersigned: ImsMessage = { ...filled, address: { ...filled.address, fspSign } };
  // Custody reads the whole message; a wallet the compact one only once it said so (GET /devices/events?push=v2),
  // and a certificate by reference only when it said it reads them and holds this one (pushFormOf).
  const { form, reference } = delivery;
  const content = devicePushContent(countersigned, merchantKey.certificate, {
    fspId: context.fsp.id,
    format: form.pushFormat,
    ...(form.holdsCertificate && reference !== undefined ? { heldCertificate: reference } : {}),
  });
  const push = await encryptTo(JSON.stringify(content), verified.binding.encryptionJwk);
  // A push/v2 that carried the certificate: the device's confirmation records that it holds it.
  const carried = !form.holdsCertificate && 'signatureClaims' in content ? reference : undefined;
  return { countersigned, push, payerAccount, pushCertificateSha256: carried };
}

/** The `kid` in a compact JWE's protected header (what the FSP can see of a sealed part). */
function sealedKid(jwe: string): unknown {
  const header = decodeBase64url(jwe.split('.')[0] ?? '');
  if (header === undefined) return undefined;
  try {
    return (JSON.parse(new TextDecoder().decode(header)) as { kid?: unknown } | null)?.kid;
  } catch {
    return undefined;
  }
}

/**
 * The private fields at this level: sealed when the level asks for it
 * (PRIVATE_DATA_NOT_SEALED for a description in clear: the merchant seals and
 * asks again), and when sealed, for the device the customer's bank bound
 * (PRIVATE_DATA_INVALID otherwise: the customer could not read what it is
 * asked to sign). The FSP opens nothing; it reads the header's key id only.
 */
function checkSealedData(verified: VerifiedPaymentRequest, sealing: boolean): void {
  const { description, sealed } = verified.message.data;
  if (sealing && description !== undefined)
    throw new MpayError('PRIVATE_DATA_NOT_SEALED', 'data.description');
  if (sealed !== undefined && sealedKid(sealed.customer) !== verified.binding.encryptionJwk.kid)
    throw new MpayError('PRIVATE_DATA_INVALID', 'data.sealed.customer');
}

/**
 * 429 with Retry-After when a merchant asks too often, or a customer is asked
 * too often (burying a real request), on counts read before this request is
 * stored. The exact check, with this request counted, is `insertPayment`'s
 * own statement (its `refuseOver`), which answers the same.
 */
function refuseOverRate(
  context: GatewayContext,
  windows: { merchant: RequestsInWindow; customer: RequestsInWindow },
  now: Date,
): void {
  const { rateWindowSeconds, paymentRequestsPerMerchantMax, paymentRequestsPerCustomerMax } = context.limits;
  // The merchant's limit first, then the customer's.
  for (const [party, max] of [
    ['merchant', paymentRequestsPerMerchantMax],
    ['customer', paymentRequestsPerCustomerMax],
  ] as const) {
    const { count, oldest } = windows[party];
    if (count >= max) {
      const retryAfterSeconds = rateRetryAfterSeconds(oldest ?? now, now, rateWindowSeconds);
      throw new MpayError('REQUEST_RATE_LIMITED', party, { retryAfterSeconds });
    }
  }
}

/**
 * The rate limits before any work: a party already at its limit is refused
 * without the request's cryptography. Requests in flight together all pass
 * here; the exact check is `insertPayment`'s statement itself (its
 * `refuseOver`), on the count with this request in it.
 */
async function checkRates(context: GatewayContext, sql: Sql, verified: VerifiedPaymentRequest, now: Date) {
  const windows = await requestsInWindow(
    sql,
    { merchantId: verified.merchant.id, customerId: verified.customer.id },
    now,
    context.limits.rateWindowSeconds,
  );
  refuseOverRate(context, windows, now);
}

/**
 * iMS steps 1–2 for a verified request, in one transaction: the Idempotency-Key,
 * the rate limits, the merchant's nonce, the payment, its countersignature and
 * the push to the device (an outbox row), and the stored answer. A retry with
 * the same key, even after a crash, gets this answer and nothing else.
 */
export async function requestPayment(
  context: GatewayContext,
  verified: VerifiedPaymentRequest,
  idempotency: IdempotencyClaim | undefined,
): Promise<{ statusCode: number; body: unknown }> {
  const now = context.clock();
  // Read before the transaction: with one connection (PGlite) a read outside it would wait for it.
  const merchantKey = await partyEncryptionKey(keyLookup(context), verified.merchant);
  const lease = outboxLeaseOf(context, now);
  const reference =
    merchantKey.certificate === undefined ? undefined : await certificateReference(merchantKey.certificate);
  // The payment as its step left it, remembered once the transaction committed (payments/recent.ts).
  let committed: Payment | undefined;
  const answer = await context.database.transaction(async (sql) => {
    if (idempotency !== undefined) {
      const stored = await claimIdempotencyKey(sql, idempotency, now);
      if (stored !== undefined) return stored;
    }
    // Read and checked together (one round trip on PostgreSQL), refused in this order: the rates, an
    // m-trade claim, the merchant's nonce; then the customer's lock and, under it, the customer's history.
    const [, , , , history, form] = await together([
      checkRates(context, sql, verified, now),
      checkTradeClaim(sql, verified, now),
      recordNonce(sql, verified.merchant.id, verified.nonce, verified.expiresAtSeconds),
      lockCustomer(sql, verified.customer.id),
      historyOf(context, sql, verified, now),
      pushFormOf(context, sql, verified, reference),
    ]);
    const security = assessLevel(context, verified, history, now);
    const { countersigned, push, payerAccount, pushCertificateSha256 } = await countersign(
      context,
      verified,
      security,
      merchantKey,
      { form, reference },
    );
    const expiresAt = new Date(now.getTime() + context.limits.paymentExpirySeconds * 1000);
    const stored = {
      message: countersigned,
      merchantId: verified.merchant.id,
      customerId: verified.customer.id,
      payerAccount,
      expiresAt,
      now,
      rateWindowSeconds: context.limits.rateWindowSeconds,
    };
    const payment = insertedPayment(stored, verified, 'merchant_request_verified');
    const result = stepPayment(payment, 'countersigned', now);
    const { outbox, writes } = await materialiseEffects(
      context,
      sql,
      payment,
      result.next,
      result.effects,
      {},
      now,
      lease,
    );
    const body: PaymentRequestAccepted = {
      paymentId: payment.id,
      status: 'awaiting_customer',
      securityLevel: payment.securityLevel,
      protections: security.protections,
      expiresAt: expiresAt.toISOString(),
      delivered: context.hub.isConnected(verified.customer.id),
    };
    const created = { statusCode: 201, body };
    // Written together, in this order: the merchant's lock (the customer's is held since the reads), the
    // payment with its exact count (store.ts), its countersigned step, the stored answer, the effects'
    // writes; and the COMMIT with them (each is one statement). A count over a limit fails the payment's
    // statement itself, so the COMMIT does not run and the rollback takes all of it back out.
    const { paymentRequestsPerMerchantMax, paymentRequestsPerCustomerMax } = context.limits;
    const written = together([
      lockMerchant(sql, verified.merchant.id),
      insertPayment(sql, stored, 'merchant_request_verified', {
        merchantMax: paymentRequestsPerMerchantMax,
        customerMax: paymentRequestsPerCustomerMax,
      }),
      persistStep(
        sql,
        payment,
        'countersigned',
        result,
        {
          message: countersigned,
          pushMessage: push,
          ...(pushCertificateSha256 === undefined ? {} : { pushCertificateSha256 }),
          detail: `FSP countersigned and sent the message to the customer device; level ${security.level}: ${security.reason}`,
        },
        outbox,
        now,
        lease,
      ),
      idempotency === undefined ? Promise.resolve() : storeIdempotentAnswer(sql, idempotency, created),
      ...writes.map((write) => write()),
    ]);
    commitWithLastStatements(sql, 3 + (idempotency === undefined ? 0 : 1) + writes.length);
    const [, , stepped] = await written;
    committed = stepped;
    // The request verified and, in the same transaction, countersigned and pushed: both steps counted once committed.
    observeRequestAfterCommit(sql, context.statistics, now);
    observeStepAfterCommit(sql, context.statistics, payment, result.next, outbox, now);
    return created;
  });
  if (committed !== undefined) context.recentPayments?.remember(committed);
  deliverAfterCommit(context, lease);
  return answer;
}
