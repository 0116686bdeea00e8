/**
 * Every limit of custody (the trusted mobile certificate server), as named
 * options: validated once at start, frozen. Units are last in the name.
 */
export interface CustodyLimits {
  /** Wrong PINs per customer, across all devices, before the key is blocked (the issue: at most 5). */
  readonly pinTriesMax: number;
  /**
   * Failed tries stay counted until no try was made for this long: a correct
   * PIN gives back only its own try, so guesses between the owner's logins add up.
   */
  readonly pinTriesWindowSeconds: number;
  /** Long polls one phone may hold open at once (more answer at once, without waiting). */
  readonly inboxPollsPerDeviceMax: number;
  /** How long a started PIN login (or delegation) may be finished. */
  readonly pinLoginLifetimeSeconds: number;
  /** How long a credential id handed out for an OPAQUE registration stays usable. */
  readonly pinRegistrationLifetimeSeconds: number;
  /** Unused registrations kept at once (a flood of them is refused, not stored). */
  readonly pinRegistrationsPendingMax: number;
  /** Lifetime of the customer's consent signature custody makes (the bank accepts up to 300 s). */
  readonly delegateSignatureLifetimeSeconds: number;
  /** Lifetime of custody's signed forwards to the phone. */
  readonly forwardLifetimeSeconds: number;
  /** Longest lifetime accepted on a signed request (the FSP's, a bank's, a device's proof). */
  readonly messageAgeSecondsMax: number;
  readonly clockSkewSeconds: number;
  /** How long step 6 waits for the FSP's answer (the bank behind it) before answering `authorised`. */
  readonly fspAnswerWaitMs: number;
  /** Timeout of one call to the FSP, a bank or the log. */
  readonly callTimeoutMs: number;
  /** Inbox events per page, and the longest a device's long poll waits. */
  readonly inboxPageSize: number;
  readonly inboxWaitMsMax: number;
  readonly bodyLimitBytes: number;
  readonly inFlightRequestsMax: number;
  readonly outboxBackoffBaseMs: number;
  readonly outboxBackoffMaxMs: number;
  readonly outboxBatchSizeMax: number;
  readonly outboxLeaseMs: number;
  /** Devices one custody customer may have. */
  readonly devicesPerCustomerMax: number;
  /**
   * Largest evidence file custody passes on from the FSP (the wallet's own
   * limit, @mpay/merkle's receipt of 32 messages and a proof): the answer is
   * read up to this and no further.
   */
  readonly evidenceBytesMax: number;
  /**
   * Evidence requests one customer's phones may have open at once: each costs
   * a signature in the HSM and a call to the FSP; more are REQUEST_RATE_LIMITED.
   */
  readonly evidenceRequestsPerCustomerMax: number;
}

export const defaultCustodyLimits: CustodyLimits = Object.freeze({
  pinTriesMax: 5,
  pinTriesWindowSeconds: 86_400,
  inboxPollsPerDeviceMax: 2,
  pinLoginLifetimeSeconds: 120,
  pinRegistrationLifetimeSeconds: 600,
  pinRegistrationsPendingMax: 10_000,
  delegateSignatureLifetimeSeconds: 300,
  forwardLifetimeSeconds: 86_400,
  messageAgeSecondsMax: 600,
  clockSkewSeconds: 60,
  fspAnswerWaitMs: 10_000,
  callTimeoutMs: 10_000,
  inboxPageSize: 50,
  inboxWaitMsMax: 25_000,
  bodyLimitBytes: 64 * 1024,
  inFlightRequestsMax: 256,
  outboxBackoffBaseMs: 250,
  outboxBackoffMaxMs: 5 * 60_000,
  outboxBatchSizeMax: 32,
  outboxLeaseMs: 30_000,
  devicesPerCustomerMax: 10,
  evidenceBytesMax: 4 * 1024 * 1024,
  evidenceRequestsPerCustomerMax: 4,
});

/** Inclusive bounds of every limit: a value outside them is a configuration error at start. */
const bounds: Readonly<Record<keyof CustodyLimits, readonly [number, number]>> = {
  pinTriesMax: [1, 5],
  pinTriesWindowSeconds: [60, 30 * 86_400],
  inboxPollsPerDeviceMax: [1, 16],
  pinLoginLifetimeSeconds: [10, 900],
  pinRegistrationLifetimeSeconds: [10, 86_400],
  pinRegistrationsPendingMax: [1, 10_000_000],
  delegateSignatureLifetimeSeconds: [10, 300],
  forwardLifetimeSeconds: [10, 86_400],
  messageAgeSecondsMax: [10, 86_400],
  clockSkewSeconds: [0, 300],
  fspAnswerWaitMs: [0, 120_000],
  callTimeoutMs: [100, 120_000],
  inboxPageSize: [1, 500],
  inboxWaitMsMax: [0, 60_000],
  bodyLimitBytes: [1_024, 1024 * 1024],
  inFlightRequestsMax: [1, 100_000],
  outboxBackoffBaseMs: [1, 60_000],
  outboxBackoffMaxMs: [1, 86_400_000],
  outboxBatchSizeMax: [1, 1_000],
  outboxLeaseMs: [1_000, 3_600_000],
  devicesPerCustomerMax: [1, 100],
  evidenceBytesMax: [1_024, 4 * 1024 * 1024],
  evidenceRequestsPerCustomerMax: [1, 64],
};

/** Validates and freezes custody's limits; throws naming the first limit out of bounds. */
export function createCustodyLimits(options: Partial<CustodyLimits> = {}): CustodyLimits {
  const limits: CustodyLimits = { ...defaultCustodyLimits, ...options };
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(bounds, name)) throw new Error(`custody limits: unknown limit ${name}`);
  }
  for (const name of Object.keys(bounds) as (keyof CustodyLimits)[]) {
    const value = limits[name];
    const [min, max] = bounds[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`custody limits: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
  if (limits.outboxBackoffBaseMs > limits.outboxBackoffMaxMs) {
    throw new Error('custody limits: outboxBackoffBaseMs must not exceed outboxBackoffMaxMs');
  }
  return Object.freeze(limits);
}
