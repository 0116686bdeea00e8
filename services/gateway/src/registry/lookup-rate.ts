import { MpayError } from '@mpay/protocol';

/**
 * A sliding-window count of one kind of request per caller, in memory: the
 * phone-number lookups of each merchant. At most `countMax` per
 * `windowSeconds`; above it REQUEST_RATE_LIMITED with the seconds until the
 * oldest counted one leaves the window. At most `callersMax` callers are
 * tracked; the one seen longest ago is forgotten first. Per process: a
 * gateway behind a load balancer counts per instance.
 */
export class LookupRate {
  readonly #times = new Map<string, number[]>();

  constructor(
    private readonly countMax: number,
    private readonly windowSeconds: number,
    private readonly callersMax = 10_000,
  ) {}

  /** Counts one lookup of `caller` at `now`, or throws REQUEST_RATE_LIMITED without counting it. */
  take(caller: string, now: Date): void {
    const nowMs = now.getTime();
    const since = nowMs - this.windowSeconds * 1000;
    const times = (this.#times.get(caller) ?? []).filter((time) => time > since);
    if (times.length >= this.countMax) {
      const retryAfterSeconds = Math.max(1, Math.ceil((times[0]! - since) / 1000));
      this.#times.set(caller, times);
      throw new MpayError('REQUEST_RATE_LIMITED', 'lookups', { retryAfterSeconds });
    }
    times.push(nowMs);
    this.#times.delete(caller);
    this.#times.set(caller, times);
    if (this.#times.size > this.callersMax) {
      const oldest = this.#times.keys().next().value;
      if (oldest !== undefined) this.#times.delete(oldest);
    }
  }
}
