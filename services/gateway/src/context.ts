import type { GeneratedKeyPair as KeyPair } from '@mpay/envelope';
import type { Database } from '@mpay/storage';
import type { DeviceHub } from './devices/hub.ts';
import type { TransactionLogLink } from './log/outbox.ts';
import type { WebhookLimits } from './webhooks/outbox.ts';

/** The FSP's own identity: its party id and its signing and encryption keys. */
export interface FspIdentity {
  id: string;
  signing: KeyPair;
  encryption: KeyPair;
}

export interface GatewayLimits {
  /** How long a customer has to answer a payment request. */
  paymentExpirySeconds: number;
  /** Largest lifetime (exp − iat) accepted on a signed message. */
  messageAgeSecondsMax: number;
  clockSkewSeconds: number;
  /** Validity of key certificates issued at registration. */
  certificateValidityDays: number;
  bodyLimitBytes: number;
  /** Bank transfers without an outcome after this long are retried. */
  settlementRetryAfterSeconds: number;
  webhooks: WebhookLimits;
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface GatewayContext {
  database: Database;
  /** The third-party transaction log completed payments are logged to (none: not logged). */
  transactionLog?: TransactionLogLink | undefined;
  fsp: FspIdentity;
  hub: DeviceHub;
  limits: GatewayLimits;
  log: Logger;
}
