import type { GeneratedKeyPair as KeyPair, PublicJwk } from '@mpay/envelope';
import type { Mailer } from '@mpay/mail';
import type { SecurityPolicy } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { DeviceHub } from './devices/hub.ts';
import type { GatewayLimits } from './limits.ts';
import type { TransactionLogLink } from './log/outbox.ts';
import type { LogLine } from './outbox/log-line.ts';
import type { ReceiptPushCancellations } from './payments/receipt-cancellations.ts';
import type { RecentPayments } from './payments/recent.ts';
import type { PaymentObservations } from './payments/statistics.ts';
import type { OutboxLease } from './payments/store.ts';
import type { RegistryKeyCache } from './registry/key-cache.ts';

/** The FSP's own identity: its party id and its signing and encryption keys. */
export interface FspIdentity {
  readonly id: string;
  readonly signing: KeyPair;
  readonly encryption: KeyPair;
}

/**
 * A trusted mobile certificate server (iMS §5) the FSP redirects messages to:
 * a customer whose binding names this server's encryption key has the key in
 * custody, so the FSP's messages for them go to it instead of to a phone.
 */
export interface CustodianLink {
  readonly id: string;
  readonly url: string;
  readonly encryptionJwk: PublicJwk;
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface GatewayContext {
  readonly database: Database;
  /** The third-party transaction log every payment outcome is logged to (none: not logged). */
  readonly transactionLog?: TransactionLogLink | undefined;
  readonly fsp: FspIdentity;
  readonly hub: DeviceHub;
  /** Custody servers messages of custody customers are redirected to (step 1 of iMS §5). */
  readonly custodians: readonly CustodianLink[];
  readonly limits: GatewayLimits;
  /** What each security level requires and which amounts and histories reach it (validated at start). */
  readonly securityPolicy: SecurityPolicy;
  readonly log: Logger;
  /** The service's clock; tests move it. */
  readonly clock: () => Date;
  /**
   * This start's boot id as the owner of the outbox rows it claims (@mpay/storage's outbox-leases.ts): the next
   * start of the same instance hands them back at once. None: rows are claimed for their lease only.
   */
  readonly outboxLeaseOwner?: string | undefined;
  /** Asks the outbox to deliver what is due now (after a commit that queued effects). */
  readonly kickOutbox: () => void;
  /**
   * How this start delivers, after their commit, the effects a step wrote
   * leased to it (outbox/deliver.ts's outboxLeaseOf), without a round's claim.
   * None: steps write their effects due at once and kick a round instead.
   */
  readonly leasedDelivery?: LeasedDelivery | undefined;
  /**
   * The outbox's line for the transaction log's entries (outbox/log-line.ts),
   * beside the rounds: a round hands them to it and goes on. None: a round
   * delivers them itself, beside its other rows, and waits for both.
   */
  readonly logLine?: LogLine | undefined;
  /** Sends the out-of-band mail (macro §3: client id and mPIN); none: such mails wait in the outbox. */
  readonly mailer?: Mailer | undefined;
  /** The registry's checked keys, kept a few seconds (registry/key-cache.ts); none: every lookup reads. */
  readonly keyCache?: RegistryKeyCache | undefined;
  /**
   * The receipt pushes cancelled because the confirmation's answer carried
   * the receipt, written together (payments/receipt-cancellations.ts); none:
   * each is written alone.
   */
  readonly receiptCancellations?: ReceiptPushCancellations | undefined;
  /** Payment requests committed here a moment ago, for their confirmation (payments/recent.ts); none: it reads them. */
  readonly recentPayments?: RecentPayments | undefined;
  /** Where steps and deliveries are counted for the metrics as they commit (payments/statistics.ts); none: not counted. */
  readonly statistics?: PaymentObservations | undefined;
}

/** The outbox's line for effects leased as they are written (service.ts). */
export interface LeasedDelivery {
  /**
   * False while the line is backed up (`outboxBatchSizeMax` rows waiting: a slow
   * delivery holds it) or the service is closing: a step then writes its effects
   * due at once, for any instance's round, instead of holding them here.
   */
  accepts(): boolean;
  /** Queues the rows of `lease` after the commit that wrote them; each is delivered in turn while its lease holds. */
  deliver(lease: OutboxLease): void;
}

export type { GatewayLimits } from './limits.ts';
