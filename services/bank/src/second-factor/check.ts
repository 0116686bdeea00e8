import { isMpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { BankIdentity } from '../bank-identity.ts';
import { OrderRefusal } from '../interbank/refusal.ts';
import type { BankLimits } from '../limits.ts';
import { openSecondFactor } from './sealed-code.ts';
import { openTotpSecret } from './secret.ts';
import {
  countSecondFactorFailure,
  isSecondFactorSpentOn,
  selectSecondFactor,
  spendSecondFactorStep,
} from './store.ts';
import { matchTotpStep } from './totp.ts';

export interface SecondFactorContext {
  readonly bank: BankIdentity;
  readonly limits: BankLimits;
}

/**
 * A one-time code the customer presented and the bank refused: counted
 * against the party. Thrown inside the order's transaction, which the
 * order path commits with the count (see `countedRefusal`) instead of rolling
 * it back, so that no number of concurrent wrong codes escapes the limit.
 */
export class SecondFactorRefusal extends OrderRefusal {
  readonly partyId: string;

  constructor(partyId: string, reason: string) {
    super('SECOND_FACTOR_INVALID', reason);
    this.name = 'SecondFactorRefusal';
    this.partyId = partyId;
  }
}

/**
 * Checks the customer's second factor for a payment order, in the order's
 * transaction: `sealed` is the address.from.secondFactor the customer signed.
 * Under the lock of the party's second-factor row: refused
 * SECOND_FACTOR_REQUIRED without a sealed code; SECOND_FACTOR_INVALID (not
 * counted) when the party has none or it is blocked, or the bank has no key
 * to open it; SecondFactorRefusal (counted) when the sealed code does not
 * open, names another transaction or payer, is wrong, or is of a time step
 * already used (RFC 6238 §5.2: a code is accepted once; no step older than
 * the newest used either). Accepted: the step is spent on this order, in
 * this transaction, so of two orders racing with one code only one commits.
 * A concurrent copy of an order whose code was spent on that same order
 * passes: the order path then answers the placed order.
 */
export async function checkSecondFactor(
  sql: Sql,
  context: SecondFactorContext,
  order: { readonly id: string; readonly payerId: string },
  sealed: unknown,
  now: Date,
): Promise<void> {
  if (sealed === undefined) throw new OrderRefusal('SECOND_FACTOR_REQUIRED', 'no second factor');
  const key = context.bank.encryption;
  if (key === undefined) throw new OrderRefusal('SECOND_FACTOR_INVALID', 'this bank has no encryption key');
  const stored = await selectSecondFactor(sql, order.payerId, true);
  if (stored === undefined) throw new OrderRefusal('SECOND_FACTOR_INVALID', 'no second factor provisioned');
  // A copy of this order that waited on the lock while the first placed it: the order path answers the
  // placed order (or refuses different fields); its code was spent once, on this order.
  if (await isSecondFactorSpentOn(sql, order.payerId, order.id)) return;
  if (stored.state === 'blocked') throw new OrderRefusal('SECOND_FACTOR_INVALID', 'second factor blocked');
  const counted = (reason: string) => new SecondFactorRefusal(order.payerId, reason);
  let opened: Awaited<ReturnType<typeof openSecondFactor>>;
  try {
    opened = await openSecondFactor(sealed, key.privateJwk);
  } catch (error) {
    if (isMpayError(error, 'SECOND_FACTOR_INVALID')) throw counted('sealed code does not open');
    throw error;
  }
  if (opened.transactionId !== order.id) throw counted('code sealed for another transaction');
  if (opened.payerId !== order.payerId) throw counted('code sealed for another payer');
  const secret = await openTotpSecret(stored.sealedSecret, key, order.payerId);
  const step = matchTotpStep(secret.secret, opened.code, now, context.limits.secondFactorWindowSteps, secret);
  if (step === undefined) {
    // A code the authenticator showed within the authorisation's lifetime but outside the window (a
    // resend of an order that was refused or rolled back after its check): the customer knew it, so it
    // is no guess and is not counted; else a faulty FSP could block the customer with old codes.
    const late = matchTotpStep(secret.secret, opened.code, now, staleCodeStepsMax, secret);
    if (late !== undefined)
      throw new OrderRefusal('SECOND_FACTOR_INVALID', `code of time step ${late} is too old (not counted)`);
    throw counted('wrong code');
  }
  if (stored.lastUsedStep !== null && step <= stored.lastUsedStep) {
    throw counted(`code of time step ${step} replayed (newest used ${stored.lastUsedStep})`);
  }
  await spendSecondFactorStep(sql, order.payerId, step, order.id, now);
}

/** How far back a code is recognised as a real but stale one: the customer authorisation's lifetime (300 s) in 30 s steps. */
const staleCodeStepsMax = 10;

/**
 * Counts a refused code in the order's transaction (the party's row is
 * locked since the check) and returns the refusal to throw once that
 * transaction has committed. Nothing else was written in it: the check runs
 * before the order writes anything. The attempt that reaches the limit
 * blocks the second factor; its reason says so.
 */
export async function countedRefusal(
  sql: Sql,
  context: SecondFactorContext,
  refusal: SecondFactorRefusal,
  now: Date,
): Promise<OrderRefusal> {
  const { failedAttempts, state } = await countSecondFactorFailure(
    sql,
    refusal.partyId,
    context.limits.secondFactorAttemptsMax,
    now,
  );
  const blocked = state === 'blocked' ? '; second factor blocked' : '';
  return new OrderRefusal(
    'SECOND_FACTOR_INVALID',
    `${refusal.reason} (wrong codes in a row: ${failedAttempts}${blocked})`,
  );
}
