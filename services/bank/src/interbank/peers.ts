import type { PrivateJwk, PublicJwk } from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';

/** Another bank this bank exchanges funds-transfer messages with. */
export interface InterbankPeer {
  /** The peer's bank id, e.g. 'ybank'. */
  readonly id: string;
  /** Base URL of the peer's bank API. */
  readonly url: string;
  /** The key the peer signs funds-transfer messages and answers with. */
  readonly signingJwk: PublicJwk;
  /**
   * Most this bank lets the peer owe it (minor units, per currency) before
   * settlement: credits beyond it are refused with LIMIT_EXCEEDED. Undefined: no cap.
   */
  readonly netDebitCap?: bigint | undefined;
}

export interface InterbankOptions {
  /** This bank's signing key for funds-transfer messages and answers. */
  readonly signingKey: PrivateJwk;
  readonly peers: readonly InterbankPeer[];
  /**
   * How long a hold on the customer's account lasts (default 7 days). It is
   * resolved by the merchant bank's signed answer long before; the timeout
   * only bounds a peer that never answers (the expiry sweep skips holds of
   * orders still being delivered).
   */
  readonly holdTimeoutSeconds?: number | undefined;
  /** After this many seconds the merchant bank refuses to credit (default 60); its answer is then final. */
  readonly deadlineSeconds?: number | undefined;
  /** One delivery attempt's HTTP timeout (default 5 000 ms). */
  readonly deliveryTimeoutMs?: number | undefined;
  /** Longest wait between delivery attempts (default 60 s; attempts back off from 1 s). */
  readonly retryDelaySecondsMax?: number | undefined;
}

export interface Interbank {
  readonly self: string;
  readonly signingKey: PrivateJwk;
  readonly holdTimeoutSeconds: number;
  readonly deadlineSeconds: number;
  readonly deliveryTimeoutMs: number;
  readonly retryDelaySecondsMax: number;
  peer(id: string): InterbankPeer;
  findPeerByKid(kid: string): InterbankPeer | undefined;
  readonly peers: readonly InterbankPeer[];
  /**
   * Settlement accounts found stored in this bank's database (ensureSettlementAccount):
   * their insert is not sent again. One set per bank service, as its database is.
   */
  readonly settlementAccountsSeen: Set<string>;
}

function bounded(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`interbank options: ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

export function createInterbank(self: string, options: InterbankOptions): Interbank {
  const byId = new Map(options.peers.map((peer) => [peer.id, peer]));
  if (byId.has(self) || byId.size !== options.peers.length) {
    throw new Error('interbank options: peers must be distinct and not this bank');
  }
  return Object.freeze({
    self,
    signingKey: options.signingKey,
    peers: options.peers,
    settlementAccountsSeen: new Set<string>(),
    holdTimeoutSeconds: bounded(
      'holdTimeoutSeconds',
      options.holdTimeoutSeconds ?? 7 * 86_400,
      60,
      30 * 86_400,
    ),
    deadlineSeconds: bounded('deadlineSeconds', options.deadlineSeconds ?? 60, 1, 3_600),
    deliveryTimeoutMs: bounded('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 5_000, 100, 60_000),
    retryDelaySecondsMax: bounded('retryDelaySecondsMax', options.retryDelaySecondsMax ?? 60, 1, 3_600),
    peer(id: string): InterbankPeer {
      const peer = byId.get(id);
      if (peer === undefined) throw new MpayError('BANK_UNKNOWN', id);
      return peer;
    },
    findPeerByKid: (kid: string) => options.peers.find((peer) => peer.signingJwk.kid === kid),
  });
}
