import type { SecurityLevel } from '@mpay/protocol';

/** What the customer's bank checked itself before it approved a debit. */
export type ApprovalCheck = 'customer_signature' | 'private_data' | 'second_factor';

/**
 * The customer's bank's explicit approval of a payment order (iMS large
 * level: "explicit approval by the customer's bank"), signed into its answer
 * to the FSP as `paymentOrder.approval`:
 *
 *   { level: 'large', checks: ['customer_signature', 'private_data', 'second_factor'], approvedAt: '2026-…Z' }
 *
 * `level` is the level the customer signed (the bank refused it if it was
 * below what the amount asks for), `checks` what the bank verified itself,
 * in that order (`private_data`: it opened the sealed private fields), and `approvedAt` when it accepted the order (its ledger
 * clock, ISO 8601 with milliseconds).
 */
export interface OrderApproval {
  readonly level: SecurityLevel;
  readonly checks: readonly ApprovalCheck[];
  readonly approvedAt: string;
}

const levels: readonly string[] = ['small', 'medium', 'large'];
const checkOrder: readonly ApprovalCheck[] = ['customer_signature', 'private_data', 'second_factor'];

export function approvalToText(approval: OrderApproval): string {
  return JSON.stringify({ level: approval.level, checks: approval.checks, approvedAt: approval.approvedAt });
}

/** An approval as stored (payment_orders.approval), checked for shape: the bank signs what it reads. */
export function approvalFromText(text: string): OrderApproval {
  const value = JSON.parse(text) as Record<string, unknown>;
  const { level, checks, approvedAt } = value;
  const wellFormed =
    Object.keys(value).length === 3 &&
    typeof level === 'string' &&
    levels.includes(level) &&
    Array.isArray(checks) &&
    checks.length >= 1 &&
    checks[0] === 'customer_signature' &&
    // Each known check once, in checkOrder's order (some may be absent).
    checks.every(
      (check, index) =>
        checkOrder.includes(check) &&
        (index === 0 || checkOrder.indexOf(check) > checkOrder.indexOf(checks[index - 1])),
    ) &&
    typeof approvedAt === 'string' &&
    new Date(approvedAt).toISOString() === approvedAt;
  if (!wellFormed) throw new Error('assertion failed: a stored approval');
  return Object.freeze({
    level: level as SecurityLevel,
    checks: Object.freeze([...(checks as ApprovalCheck[])]),
    approvedAt,
  });
}
