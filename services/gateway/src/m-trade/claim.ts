import { signPayload } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { GatewayContext } from '../context.ts';
import type { Party } from '../registry/parties.ts';
import type { TradeClaimLimits } from './limits.ts';
import {
  claimsOf,
  enqueueClaimWebhook,
  findClaim,
  insertClaim,
  lockParty,
  paymentExists,
  type TradeClaim,
} from './store.ts';
import type { VerifiedTillCode } from './verify.ts';

/** The FSP's answer to the customer's claim. */
export interface TradeClaimAccepted {
  readonly transactionId: string;
  readonly status: 'claimed';
  readonly claimedAt: string;
}

function accepted(claim: TradeClaim): TradeClaimAccepted {
  return { transactionId: claim.transactionId, status: 'claimed', claimedAt: claim.claimedAt.toISOString() };
}

/** The merchant's notification: the FSP vouches that this customer claimed this code, for this amount. */
async function signClaimNotification(
  context: GatewayContext,
  claim: Omit<TradeClaim, 'notification'>,
): Promise<string> {
  return signPayload(
    {
      event: 'trade.claimed',
      claim: {
        transactionId: claim.transactionId,
        customer: claim.customerId,
        amount: { currency: claim.amount.currency, minor: claim.amount.minor.toString() },
        claimedAt: claim.claimedAt.toISOString(),
      },
    },
    {
      issuer: context.fsp.id,
      audience: claim.merchantId,
      transactionId: claim.transactionId,
      expiresInSeconds: context.limits.receiptLifetimeSeconds,
    },
    context.fsp.signing.privateJwk,
  );
}

/** An existing claim: the same customer with the same code again is a retry (the same answer); anyone else conflicts. */
function answerExisting(
  existing: TradeClaim,
  customer: Party,
  verified: VerifiedTillCode,
): TradeClaimAccepted {
  if (existing.customerId !== customer.id || existing.payload !== verified.code.payload)
    throw new MpayError('TRADE_CLAIMED');
  return accepted(existing);
}

async function checkClaimLimits(
  limits: TradeClaimLimits,
  sql: Sql,
  customer: Party,
  now: Date,
): Promise<void> {
  const since = new Date(now.getTime() - limits.claimWindowSeconds * 1000);
  const { open, recent, oldestRecent } = await claimsOf(sql, customer.id, since, now);
  if (open >= limits.openClaimsPerCustomerMax) throw new MpayError('TRADE_CLAIM_LIMIT_EXCEEDED', 'open');
  if (recent >= limits.claimsPerCustomerPerWindowMax) {
    const freeAtMs = (oldestRecent ?? now).getTime() + limits.claimWindowSeconds * 1000;
    throw new MpayError('TRADE_CLAIM_LIMIT_EXCEEDED', 'window', {
      retryAfterSeconds: Math.max(1, Math.ceil((freeAtMs - now.getTime()) / 1000)),
    });
  }
}

/**
 * m-trade (iMS §2.2), in one transaction: the customer claims a verified
 * till code. The first claim of a transaction id wins; a code whose payment
 * exists already, or that another customer claimed, is TRADE_CLAIMED. Claims
 * are bounded per customer. The merchant's signed notification is stored
 * with the claim and queued for its webhook (the outbox delivers it with retries).
 */
export async function claimTradeCode(
  context: GatewayContext,
  limits: TradeClaimLimits,
  sql: Sql,
  customer: Party,
  verified: VerifiedTillCode,
  now: Date,
): Promise<TradeClaimAccepted> {
  const { code, merchant } = verified;
  await lockParty(sql, customer.id);
  const existing = await findClaim(sql, code.transactionId);
  if (existing !== undefined) return answerExisting(existing, customer, verified);
  if (await paymentExists(sql, code.transactionId)) throw new MpayError('TRADE_CLAIMED', 'payment exists');
  await checkClaimLimits(limits, sql, customer, now);
  const unsigned = {
    transactionId: code.transactionId,
    merchantId: merchant.id,
    customerId: customer.id,
    amount: code.amount,
    payload: code.payload,
    keyId: code.keyId,
    codeExpiresAt: code.expiresAt,
    claimedAt: now,
    requestedAt: null,
  };
  const claim: TradeClaim = { ...unsigned, notification: await signClaimNotification(context, unsigned) };
  if (!(await insertClaim(sql, claim))) {
    // Another customer's claim committed between the read and the insert: theirs is the first.
    const winner = await findClaim(sql, code.transactionId);
    if (winner === undefined) throw new Error('assertion failed: a conflicting claim exists');
    return answerExisting(winner, customer, verified);
  }
  if (merchant.webhookUrl !== null) {
    await enqueueClaimWebhook(
      sql,
      claim.transactionId,
      { url: merchant.webhookUrl, body: claim.notification },
      now,
    );
  }
  return accepted(claim);
}
