import { encryptTo, signPayload } from '@mpay/envelope';
import {
  formatDecimalAmount,
  imsFromJson,
  type PaymentState,
  publicStatusOf,
  signatureValue,
} from '@mpay/protocol';
import { orderTransfer } from '../banks/client.ts';
import type { GatewayContext } from '../context.ts';
import { enqueueLogEntry } from '../log/outbox.ts';
import { partyEncryptionKey } from '../registry/keys.ts';
import { bankUrl, findParty } from '../registry/parties.ts';
import { enqueueWebhook } from '../webhooks/outbox.ts';
import { findPayment, type PaymentRecord, transitionPayment } from './store.ts';

/** Receipts are evidence kept for years; their signature lifetime is the envelope's maximum. */
const receiptLifetimeSeconds = 86_400;

export type SettlementResult =
  | { kind: 'completed'; payment: PaymentRecord; receipt: string }
  | { kind: 'refused'; payment: PaymentRecord; code: string }
  | { kind: 'pending'; payment: PaymentRecord; code: string };

async function signReceipt(
  context: GatewayContext,
  payment: PaymentRecord,
  transferId: string,
): Promise<string> {
  const message = imsFromJson(JSON.parse(payment.message));
  return signPayload(
    {
      receipt: {
        paymentId: payment.id,
        status: 'completed',
        payer: payment.customerId,
        payee: payment.merchantId,
        accountPayable: message.data.accountPayable,
        accountReceivable: message.data.accountReceivable,
        amount: { currency: payment.currency, value: formatDecimalAmount(message.data.amount) },
        bankTransferId: transferId,
        customerSignature: signatureValue(message.address.from.sign!),
        completedAt: new Date().toISOString(),
      },
    },
    {
      issuer: context.fsp.id,
      audience: payment.customerId,
      transactionId: payment.id,
      expiresInSeconds: receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** iMS step 9: the merchant's notification, signed by the FSP, queued with the state change. */
async function merchantNotification(
  context: GatewayContext,
  payment: PaymentRecord,
  state: PaymentState,
): Promise<string> {
  return signPayload(
    {
      event: 'payment.updated',
      payment: {
        id: payment.id,
        status: publicStatusOf(state),
        amount: { currency: payment.currency, minor: payment.amountMinor.toString() },
        payer: payment.customerId,
        ...(payment.failureCode ? { failureCode: payment.failureCode } : {}),
      },
    },
    {
      issuer: context.fsp.id,
      audience: payment.merchantId,
      transactionId: payment.id,
      expiresInSeconds: receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** What the log commits to for a completed payment: every signature of the iMS chain, then the receipt. */
function loggedMessages(payment: PaymentRecord, receipt: string): string[] {
  const { address } = imsFromJson(JSON.parse(payment.message));
  return [address.to.sign, address.fspSign, address.from.sign, receipt].filter(
    (jws): jws is string => typeof jws === 'string',
  );
}

async function finish(
  context: GatewayContext,
  payment: PaymentRecord,
  to: PaymentState,
  changes: { receipt?: string; failureCode?: string; detail: string },
): Promise<PaymentRecord> {
  const merchant = await findParty(context.database, payment.merchantId);
  return context.database.transaction(async (sql) => {
    const updated = await transitionPayment(sql, payment.id, 'customer_signature_verified', to, changes);
    if (to === 'funds_transferred' && changes.receipt !== undefined && context.transactionLog !== undefined) {
      await enqueueLogEntry(sql, payment.id, loggedMessages(payment, changes.receipt), new Date());
    }
    if (merchant?.webhookUrl) {
      const body = await merchantNotification(context, updated, to);
      await enqueueWebhook(sql, { paymentId: payment.id, url: merchant.webhookUrl, body });
    }
    return updated;
  });
}

/**
 * iMS steps 7–10 for a payment the customer authorised: order the transfer,
 * record the bank's answer, notify the merchant, sign the customer's receipt.
 * Safe to run again (after a crash, or by the retry loop): the transfer id is
 * the payment id and the transition is guarded.
 */
export async function settlePayment(context: GatewayContext, paymentId: string): Promise<SettlementResult> {
  const payment = await findPayment(context.database, paymentId);
  const message = imsFromJson(JSON.parse(payment.message));
  const customer = await findParty(context.database, payment.customerId);
  const merchant = await findParty(context.database, payment.merchantId);
  const bankId = customer!.bankId!;
  const outcome = await orderTransfer(context.fsp, {
    bankId,
    bankUrl: await bankUrl(context.database, bankId),
    transferId: payment.id,
    debitAccountId: message.data.accountPayable!,
    creditBankId: merchant!.bankId!,
    creditAccountId: message.data.accountReceivable!,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    reference: `iMS ${payment.id}`,
  });
  if (outcome.kind === 'unavailable') return { kind: 'pending', payment, code: outcome.code };
  if (outcome.kind === 'failed') {
    const failed = await finish(context, payment, 'transfer_failed', {
      failureCode: outcome.code,
      detail: `bank answered ${outcome.code}`,
    });
    context.log.error({ paymentId: payment.id, code: outcome.code }, 'bank transfer failed for good');
    return { kind: 'refused', payment: failed, code: outcome.code };
  }
  if (outcome.kind === 'refused') {
    const refused = await finish(context, payment, 'funds_refused', {
      failureCode: outcome.code,
      detail: `bank refused: ${outcome.code}`,
    });
    context.hub.push(payment.customerId, { event: 'payment-status', id: payment.id, data: 'declined' });
    return { kind: 'refused', payment: refused, code: outcome.code };
  }
  const receipt = await signReceipt(context, payment, outcome.transferId);
  const completed = await finish(context, payment, 'funds_transferred', {
    receipt,
    detail: `bank transfer ${outcome.transferId}`,
  });
  const customerKey = await partyEncryptionKey(
    context.database,
    context.fsp,
    payment.customerId,
    context.limits.clockSkewSeconds,
  );
  context.hub.push(payment.customerId, {
    event: 'receipt',
    id: payment.id,
    data: await encryptTo(receipt, customerKey.jwk),
  });
  return { kind: 'completed', payment: completed, receipt };
}
