import { derivedId } from './ids.ts';

/**
 * The merchant's bank's transfer for refund `refundId`: the hold on the
 * merchant's account (customer at another bank) or the posted correction
 * (customer at this bank). Derived, never the refund id itself, so that a
 * refund id a merchant chose can never collide with another transfer's id.
 */
export function refundTransferId(refundId: string): string {
  return derivedId('refund-order', refundId);
}

/** The post or void that resolves the hold of refund order `refundId`. */
export function refundHoldResolutionId(refundId: string, resolution: 'post' | 'void'): string {
  return derivedId('refund-order', refundId, resolution);
}

/** The customer's bank's transfer that credits the customer for peer `debtorBank`'s refund `refundId`. */
export function refundCreditId(debtorBank: string, refundId: string): string {
  return derivedId('refund-credit', debtorBank, refundId);
}
