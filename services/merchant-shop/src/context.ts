import type { MerchantClient } from '@mpay/sdk';
import type { Database } from '@mpay/storage';
import type { Catalogue } from './catalogue/catalogue.ts';
import type { ShopLimits } from './limits.ts';

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** What a hook gets besides the event's object: the notification it came in, to act on it once. */
export interface HookNotification {
  /** The stored notification's id: the same on every retry of the hook (an idempotency key). */
  readonly notificationId: string;
  /** The FSP's signed webhook exactly as received. */
  readonly jws: string;
  readonly receivedAt: string;
}

export interface RefundHookNotification extends HookNotification {
  /** The order whose payment the refund refers to, if it is one of the shop's. */
  readonly orderId: string | null;
}

/**
 * Where the till (m-trade) and refunds plug in. Each is called after the
 * notification is committed, from the outbox, at least once: retried with a
 * backoff while it throws (up to `hookAttemptsMax`), so it must be idempotent
 * by `notificationId`. Events that arrive while no hook is configured are
 * stored, not handed over later.
 */
export interface ShopHooks {
  /** m-trade: a customer scanned the till's signed QR code (verified `trade.claimed`). */
  readonly onTradeClaimed?: (
    claim: Readonly<Record<string, unknown>>,
    notification: HookNotification,
  ) => Promise<void> | void;
  /** A refund's status changed (verified `refund.updated`); its status is also stored on the order's payment. */
  readonly onRefundUpdated?: (
    refund: Readonly<Record<string, unknown>>,
    notification: RefundHookNotification,
  ) => Promise<void> | void;
}

export interface ShopContext {
  readonly database: Database;
  /** The merchant's SDK client: signs the payment requests, verifies the FSP's webhooks. */
  readonly merchant: MerchantClient;
  readonly catalogue: Catalogue;
  readonly limits: ShopLimits;
  readonly hooks: ShopHooks;
  readonly log: Logger;
  /** The service's clock; tests move it. */
  readonly clock: () => Date;
  /**
   * This start's boot id as the owner of the outbox rows it claims or queues for itself
   * (@mpay/storage's outbox-leases.ts): the next start of the same named instance takes back at
   * once what this one held. Undefined (an unnamed instance): those rows wait out their lease.
   */
  readonly outboxLeaseOwner?: string | undefined;
  /** Asks the outbox to deliver what is due now (after a commit that queued work). */
  readonly kickOutbox: () => void;
  /** Wakes whoever waits for a notification (after a commit that stored one). */
  readonly notificationStored: () => void;
}
