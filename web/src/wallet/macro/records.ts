import type { Amount, ErrorCode, MacroPaymentStatusContent } from '@mpay/protocol';
import type { MacroPaymentStarted } from '@mpay/sdk';
import type { VerifiedMerchant } from './merchant.ts';
import type { MacroPaymentPhase, MacroPaymentRecord } from './store.ts';

/** Pure helpers over the device's record of a macro payment. */

const finalPhases: ReadonlySet<MacroPaymentPhase> = new Set(['declined', 'completed', 'failed']);

export function isFinalPhase(phase: MacroPaymentPhase): boolean {
  return finalPhases.has(phase);
}

/** Steps 1–2 answered: ID_T, T_iS and T_EXP, with what the device asked to pay. */
export function recordOfStarted(
  started: MacroPaymentStarted,
  merchant: VerifiedMerchant,
  amount: Amount,
  now: string,
): MacroPaymentRecord {
  return {
    transactionId: started.transactionId,
    clientId: started.clientId,
    merchant: { id: merchant.id, name: merchant.name },
    amount: { currency: amount.currency, minor: amount.minor.toString() },
    transactionData: started.transactionData,
    challengedAt: started.challengedAt,
    expiresAt: started.expiresAt,
    phase: 'requested',
    createdAt: now,
    updatedAt: now,
  };
}

export function withPhase(
  record: MacroPaymentRecord,
  phase: MacroPaymentPhase,
  now: string,
  extra: Partial<Pick<MacroPaymentRecord, 'sessionId' | 'failureCode' | 'status'>> = {},
): MacroPaymentRecord {
  return { ...record, ...extra, phase, updatedAt: now };
}

/**
 * The MPASP's final word in its status (opened and checked by the SDK): the
 * stable code of a payment that ended without paying, or undefined while it
 * is still under way or once it completed.
 */
export function failureOfStatus(status: MacroPaymentStatusContent): ErrorCode | undefined {
  if (status.status === 'expired') return status.outcome ?? 'PAYMENT_EXPIRED';
  if (status.status === 'declined' || status.status === 'failed') return status.outcome ?? 'PAYMENT_DECLINED';
  return undefined;
}

/** T_EXP as the person reads it: "4:32 left", or undefined once past. */
export function timeLeft(expiresAt: string, nowMs: number): string | undefined {
  const leftMs = Date.parse(expiresAt) - nowMs;
  if (!(leftMs > 0)) return undefined;
  const seconds = Math.floor(leftMs / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} left`;
}
