import type { GeneratedKeyPair, PublicJwk, PublicJwkSet } from '@mpay/envelope';
import type { Hsm } from '@mpay/hsm';
import type { Database } from '@mpay/storage';
import type { CustodyLimits } from './limits.ts';
import type { CustodyObservations } from './metrics.ts';
import type { PinServer } from './pin/opaque-server.ts';

/** Custody's own identity: its id and its service keys (forwards to phones, requests to the FSP, log entries). */
export interface CustodyIdentity {
  readonly id: string;
  readonly signing: GeneratedKeyPair;
  /** Messages to custody customers are encrypted to this key (it is in their bindings). */
  readonly encryption: GeneratedKeyPair;
}

/** The FSP custody works for: where it is and its public keys (pinned, iMS §5 "bears the FSP's certificate"). */
export interface FspLink {
  readonly id: string;
  readonly url: string;
  readonly keys: PublicJwkSet;
}

/** A customer's bank: where it enrols custody keys, and the key its bindings and requests verify under. */
export interface BankLink {
  readonly id: string;
  readonly url: string;
  readonly signingJwk: PublicJwk;
}

/** The third-party log every delegate signature is appended to. */
export interface LogLink {
  readonly url: string;
  readonly origin: string;
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface CustodyContext {
  readonly database: Database;
  readonly custody: CustodyIdentity;
  readonly fsp: FspLink;
  readonly banks: readonly BankLink[];
  readonly transactionLog: LogLink | undefined;
  readonly hsm: Hsm;
  readonly pins: PinServer;
  readonly limits: CustodyLimits;
  readonly log: Logger;
  readonly clock: () => Date;
  /**
   * This start's boot id as the owner of the outbox rows it claims (@mpay/storage's outbox-leases.ts):
   * the next start of the same named instance takes back at once what this one held. Undefined
   * (an unnamed instance): claimed rows carry no owner and wait out their lease.
   */
  readonly outboxLeaseOwner?: string | undefined;
  /** Asks the outbox to deliver what is due now (after a commit that queued effects). */
  readonly kickOutbox: () => void;
  /** Wakes the long polls of a customer's phones after an inbox event committed. */
  readonly notifyInbox: (partyId: string) => void;
  /** Where the procedure's steps are counted for the metrics once committed (metrics.ts); none: not counted. */
  readonly observations?: CustodyObservations | undefined;
}
