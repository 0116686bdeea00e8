import { type KeyBinding, verifyKeyBinding, verifyPayload } from '@mpay/envelope';
import {
  isLevelAtLeast,
  isMpayError,
  parseDecimalAmount,
  type SecurityLevel,
  type SecurityPolicy,
  securityLevelFloor,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { BankIdentity } from '../bank-identity.ts';
import { selectKeyBindingByKid } from '../key-depository/store.ts';
import type { BankLimits } from '../limits.ts';
import { checkSecondFactor } from '../second-factor/check.ts';
import type { ApprovalCheck, OrderApproval } from './approval.ts';
import type { PaymentOrderInput } from './order.ts';
import { checkPrivateData } from './private-data.ts';
import { OrderRefusal } from './refusal.ts';

export interface ConsentContext {
  readonly bank: BankIdentity;
  readonly limits: BankLimits;
  /** The security levels: the least level an amount may be signed at, and what each level requires here. */
  readonly securityPolicy: SecurityPolicy;
}

/** What the bank established about an order's consent. */
export interface CustomerConsent {
  /** The binding whose key signed the authorisation. */
  readonly keyBindingSerial: string;
  /** Its explicit approval, when the signed level asks for one ('bank_approval'). */
  readonly approval: OrderApproval | undefined;
}

function recordOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function amountOf(value: unknown, currency: string): bigint | undefined {
  try {
    return typeof value === 'string' ? parseDecimalAmount(value, currency).minor : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What in the customer's signed content (customerSignedContent of the iMS
 * message) differs from the order, by field path; undefined when it names
 * exactly this debit: the customer as signer and payer, the payee, the
 * amount and currency, the transaction (the account: `checkDebitedAccount`,
 * once the signed level is known). The amount is compared
 * in minor units, after parsing the signed decimal text with the currency's
 * exponent, never as text or as a float.
 */
export function authorisationMismatch(
  payload: Readonly<Record<string, unknown>>,
  order: PaymentOrderInput,
): string | undefined {
  const address = recordOf(payload.address);
  const data = recordOf(payload.data);
  const amount = recordOf(data?.amount);
  const checks: readonly [string, boolean][] = [
    ['signer', payload.signer === 'customer'],
    ['transactionId', payload.transactionId === order.id],
    ['address.from.id', recordOf(address?.from)?.id === order.payerId],
    ['address.to.id', recordOf(address?.to)?.id === order.payeeId],
    ['data.amount.currency', amount?.currency === order.currency],
    ['data.amount.value', amountOf(amount?.value, order.currency) === order.amount],
  ];
  return checks.find(([, holds]) => !holds)?.[0];
}

/**
 * The debited account as the customer consented to it. Where this bank's
 * policy does not seal the level's private fields, the customer signed the
 * account (`data.accountPayable`) and the order must debit exactly that one.
 * Where it does, no account travels in clear (checkPrivateData refuses one),
 * and the debit is the first account of the binding that signed (bindings
 * list their accounts sorted; the FSP fills in the same), so an FSP cannot
 * move the debit onto another account the binding names. The rule comes from
 * this bank's policy, never from the protections the FSP wrote.
 */
function checkDebitedAccount(
  payload: Readonly<Record<string, unknown>>,
  order: PaymentOrderInput,
  binding: KeyBinding,
  sealingRequired: boolean,
): void {
  const refuse = (reason: string) => new OrderRefusal('CUSTOMER_AUTHORISATION_INVALID', reason);
  if (sealingRequired) {
    if (order.debitAccountId !== binding.accounts[0])
      throw refuse('at a sealing level the debit is the first account of the binding');
    return;
  }
  if (recordOf(payload.data)?.accountPayable !== order.debitAccountId)
    throw refuse('signed data.accountPayable differs from the order');
}

function reasonOf(error: unknown): string {
  return isMpayError(error)
    ? `${error.code}${error.detail === undefined ? '' : ` ${error.detail}`}`
    : 'error';
}

/**
 * The binding of a signing key (by kid, from the signature's header, which
 * says nothing until the signature verifies under the key found here),
 * checked as the bank issued it: its own signature over it, active now (no
 * clock skew: the bank's own records and clock), not revoked. Its row stays
 * locked until the order commits, so a revocation cannot commit in between.
 */
async function bindingOf(
  sql: Sql,
  context: ConsentContext,
  kid: string,
  now: Date,
): Promise<{ serial: string; binding: KeyBinding }> {
  const record = await selectKeyBindingByKid(sql, kid, true);
  if (record === undefined) {
    throw new OrderRefusal('CUSTOMER_AUTHORISATION_INVALID', `key ${kid} is not bound at this bank`);
  }
  try {
    const binding = await verifyKeyBinding(record.binding, (bankKid) => context.bank.resolveKey(bankKid), {
      isRevoked: () => record.revocation !== undefined,
      issuer: context.bank.id,
      clockSkewSeconds: 0,
      now: () => now.getTime(),
    });
    return { serial: record.serial, binding };
  } catch (error) {
    throw new OrderRefusal('CUSTOMER_AUTHORISATION_INVALID', `binding ${record.serial}: ${reasonOf(error)}`);
  }
}

/**
 * The customer's signature over this debit: the signature under the key of
 * an active binding of this bank's depository (found by the signature's
 * kid), issued by the payer, addressed to the FSP that orders (`orderedBy`),
 * for this order id, short-lived and not expired now; the binding's subject
 * is the payer and its accounts include the debited one; the signed content
 * names this debit. Returns the binding's serial and the signed content.
 */
async function verifySignedDebit(
  sql: Sql,
  context: ConsentContext,
  order: PaymentOrderInput,
  orderedBy: string,
  now: Date,
): Promise<{ serial: string; binding: KeyBinding; payload: Readonly<Record<string, unknown>> }> {
  if (order.authorisation === undefined) {
    throw new OrderRefusal('CUSTOMER_AUTHORISATION_REQUIRED', 'no customer authorisation');
  }
  const refuse = (reason: string) => new OrderRefusal('CUSTOMER_AUTHORISATION_INVALID', reason);
  let bound: { serial: string; binding: KeyBinding } | undefined;
  let payload: Readonly<Record<string, unknown>>;
  try {
    ({ payload } = await verifyPayload(
      order.authorisation,
      async (kid) => {
        bound = await bindingOf(sql, context, kid, now);
        return bound.binding.signingJwk;
      },
      { audience: orderedBy, issuer: order.payerId, transactionId: order.id },
      {
        maxAgeSeconds: context.limits.customerAuthorisationLifetimeSecondsMax,
        clockSkewSeconds: context.limits.customerAuthorisationClockSkewSeconds,
        now: () => now.getTime(),
      },
    ));
  } catch (error) {
    if (error instanceof OrderRefusal) throw error;
    throw refuse(
      `signature${bound === undefined ? '' : ` under binding ${bound.serial}`}: ${reasonOf(error)}`,
    );
  }
  if (bound === undefined) throw new Error('assertion failed: a verified signature has its binding');
  const { serial, binding } = bound;
  if (binding.subject !== order.payerId) throw refuse(`binding ${serial} is of another party`);
  if (!binding.accounts.includes(order.debitAccountId)) {
    throw refuse(`binding ${serial} does not name the debited account`);
  }
  const mismatch = authorisationMismatch(payload, order);
  if (mismatch !== undefined) throw refuse(`signed ${mismatch} differs from the order`);
  return { serial, binding, payload };
}

const securityLevels: readonly string[] = ['small', 'medium', 'large'];

/**
 * The level the customer signed (the iMS <type>, which the FSP chose), at
 * least the floor this bank computes from the amount alone: an FSP that
 * writes a lower level to skip a protection is refused here.
 */
function signedLevelOf(
  payload: Readonly<Record<string, unknown>>,
  order: PaymentOrderInput,
  policy: SecurityPolicy,
): SecurityLevel {
  const level = payload.type;
  if (typeof level !== 'string' || !securityLevels.includes(level)) {
    throw new OrderRefusal('CUSTOMER_AUTHORISATION_INVALID', 'signed type is no security level');
  }
  const floor = securityLevelFloor({ currency: order.currency, minor: order.amount }, policy);
  if (!isLevelAtLeast(level as SecurityLevel, floor)) {
    throw new OrderRefusal('SECURITY_LEVEL_TOO_LOW', `signed ${level}, the amount asks for ${floor}`);
  }
  return level as SecurityLevel;
}

/** The sealed one-time code inside the customer's signed content (address.from.secondFactor), if any. */
function sealedSecondFactorOf(payload: Readonly<Record<string, unknown>>): unknown {
  return recordOf(recordOf(payload.address)?.from)?.secondFactor;
}

/**
 * The rule everything else serves (DESIGN.md, "Who must see the customer's
 * consent"): no account is debited unless the account holder's own signature
 * over that exact debit verifies here, under a key this bank bound to that
 * account (`verifySignedDebit`). Then the security level: the signed level
 * must be at least the floor of the amount (SECURITY_LEVEL_TOO_LOW), and
 * what the policy asks at that level is done here: the second factor, sealed
 * by the customer inside the signed content so that the FSP can neither read
 * nor swap it (`checkSecondFactor`), and the bank's explicit approval,
 * returned for the signed answer. Throws OrderRefusal:
 * CUSTOMER_AUTHORISATION_REQUIRED without an authorisation,
 * CUSTOMER_AUTHORISATION_INVALID whatever failed in the signature (the
 * reason is for the log), SECURITY_LEVEL_TOO_LOW, SECOND_FACTOR_REQUIRED,
 * SECOND_FACTOR_INVALID, PRIVATE_DATA_NOT_SEALED, PRIVATE_DATA_INVALID.
 */
export async function verifyCustomerAuthorisation(
  sql: Sql,
  context: ConsentContext,
  order: PaymentOrderInput,
  orderedBy: string,
  now: Date,
): Promise<CustomerConsent> {
  const { serial, binding, payload } = await verifySignedDebit(sql, context, order, orderedBy, now);
  const level = signedLevelOf(payload, order, context.securityPolicy);
  const required = context.securityPolicy.levels[level];
  const checks: ApprovalCheck[] = ['customer_signature'];
  const sealingRequired = required.includes('private_data_sealed');
  checkDebitedAccount(payload, order, binding, sealingRequired);
  const privateData = await checkPrivateData(context.bank, payload, order, sealingRequired);
  if (privateData !== undefined) checks.push('private_data');
  if (required.includes('second_factor')) {
    await checkSecondFactor(sql, context, order, sealedSecondFactorOf(payload), now);
    checks.push('second_factor');
  }
  const approval = required.includes('bank_approval')
    ? Object.freeze({ level, checks: Object.freeze(checks), approvedAt: now.toISOString() })
    : undefined;
  return { keyBindingSerial: serial, approval };
}
