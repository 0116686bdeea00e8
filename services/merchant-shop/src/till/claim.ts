import { type ErrorCode, isMpayError, MpayError } from '@mpay/protocol';
import { type PaymentRequestAccepted, type TillClaim, tillClaimOf } from '@mpay/sdk';
import type { HookNotification, ShopContext } from '../context.ts';
import type { TillConfig } from './config.ts';
import { stepLocked } from './step.ts';
import { findSale, markRequestAttempted, type Sale } from './store.ts';

/**
 * Answers of the FSP that may mean an earlier attempt of this same request
 * got through (its answer lost): the next attempt asks for the payment first.
 */
const maybeAlreadyRequested: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_REQUEST_IN_PROGRESS',
  'MESSAGE_REPLAYED',
  'PAYMENT_STATE_INVALID',
]);

type Attempt =
  | { readonly kind: 'accepted'; readonly answer?: PaymentRequestAccepted }
  | { readonly kind: 'refused'; readonly code: ErrorCode }
  | { readonly kind: 'retry'; readonly error: string };

function classify(error: unknown): Attempt {
  if (!isMpayError(error)) return { kind: 'retry', error: error instanceof Error ? error.message : 'error' };
  if (error.category === 'retryable' || maybeAlreadyRequested.has(error.code))
    return { kind: 'retry', error: error.code };
  return { kind: 'refused', code: error.code };
}

/** The payment the FSP holds under the sale's transaction id, if an earlier attempt reached it. */
async function earlierRequest(context: ShopContext, sale: Sale): Promise<Attempt | undefined> {
  try {
    await context.merchant.paymentStatus(sale.id);
    return { kind: 'accepted' };
  } catch (error) {
    if (isMpayError(error, 'PAYMENT_UNKNOWN')) return undefined;
    return { kind: 'retry', error: isMpayError(error) ? error.code : 'payment status unavailable' };
  }
}

function descriptionOf(sale: Sale): string {
  return sale.reference === null ? 'At the till' : `At the till: ${sale.reference}`;
}

/**
 * iMS §2.2 step 1 for a claimed sale: the ordinary payment request, m-trade,
 * under the sale's transaction id, to the customer the FSP's signed claim
 * named, for the sale's amount (the FSP checks it is what was claimed). An
 * attempt after a first one asks the FSP for the payment before asking again.
 */
async function requestSalePayment(context: ShopContext, sale: Sale): Promise<void> {
  const customer = sale.customer;
  if (customer === null) throw new Error('assertion failed: a claimed sale names its customer');
  let attempt = sale.requestAttemptedAt === null ? undefined : await earlierRequest(context, sale);
  if (attempt === undefined) {
    await markRequestAttempted(context.database, sale.id, context.clock());
    try {
      const answer = await context.merchant.requestPayment({
        customer,
        amount: sale.amount,
        procedure: 'm-trade',
        transactionId: sale.id,
        description: descriptionOf(sale),
        idempotencyKey: sale.id,
      });
      attempt = { kind: 'accepted', answer };
    } catch (error) {
      attempt = classify(error);
    }
  }
  switch (attempt.kind) {
    case 'accepted':
      await stepLocked(context, sale.id, 'payment_requested', {
        actor: 'shop',
        securityLevel: attempt.answer?.securityLevel,
        paymentExpiresAt: attempt.answer?.expiresAt,
      });
      return;
    case 'refused':
      context.log.warn({ saleId: sale.id, code: attempt.code }, 'till payment request refused');
      await stepLocked(context, sale.id, 'payment_request_failed', {
        actor: 'shop',
        detail: attempt.code,
        failureCode: attempt.code,
      });
      return;
    case 'retry':
      // The outbox calls the hook again after a backoff (hookAttemptsMax).
      throw new MpayError('SERVICE_UNAVAILABLE', `till payment request: ${attempt.error}`);
  }
}

/** The claim, strictly as the FSP sends it; undefined for a claim of some other shape (not the till's). */
function readClaim(context: ShopContext, claim: Readonly<Record<string, unknown>>): TillClaim | undefined {
  try {
    return tillClaimOf({ event: 'trade.claimed', claim });
  } catch {
    context.log.warn({ claim: Object.keys(claim) }, 'a trade claim the till cannot read');
    return undefined;
  }
}

/**
 * The shop's `onTradeClaimed` for its own till: a verified `trade.claimed`
 * for one of its sales records the customer, then sends that customer the
 * payment request. Called from the outbox at least once per notification,
 * so it is idempotent: a sale past `claimed` is left alone, a claimed one is
 * asked for again only after the FSP says it holds no payment for it.
 * Claims of codes the till did not make (the CLI's demo) are not its own.
 */
export async function onSaleClaimed(
  context: ShopContext,
  _till: TillConfig,
  claimObject: Readonly<Record<string, unknown>>,
  notification: HookNotification,
): Promise<void> {
  const claim = readClaim(context, claimObject);
  if (claim === undefined) return;
  const existing = await findSale(context.database, claim.transactionId);
  if (existing === undefined) return;
  const matches =
    claim.amount.currency === existing.amount.currency && claim.amount.minor === existing.amount.minor;
  const sale = await stepLocked(
    context,
    claim.transactionId,
    matches ? 'claimed' : 'claim_mismatched',
    {
      actor: 'fsp',
      notificationId: notification.notificationId,
      customer: claim.customer,
      claimedAt: claim.claimedAt,
      ...(matches ? {} : { detail: 'amount differs from the sale', failureCode: 'TRADE_CLAIM_MISMATCH' }),
    },
    (current) => {
      // One customer per code: the FSP refuses a second claimant; a claim naming another is not believed.
      if (current.customer !== null && current.customer !== claim.customer) {
        context.log.warn({ saleId: current.id }, 'a second claim of a till code names another customer');
        return false;
      }
      return current.state === 'waiting' || current.state === 'claimed';
    },
  ).catch((error: unknown) => {
    // A claim that arrives after the sale ended (cancelled, expired): nothing to ask for.
    if (isMpayError(error, 'PAYMENT_STATE_INVALID')) return undefined;
    throw error;
  });
  if (sale?.state !== 'claimed' || sale.customer !== claim.customer) return;
  await requestSalePayment(context, sale);
}
