import type { GatewayContext } from '../context.ts';
import type { OutboxRow } from '../payments/store.ts';

/** A log entry's row as the line holds it: leased until `until` (its claim's or its commit's lease). */
export interface LogLineRow {
  readonly row: OutboxRow;
  readonly until: Date;
}

/** Delivers a batch of log entry rows under one context (outbox/deliver.ts's deliverLogRows). */
export type DeliverLogRows = (context: GatewayContext, rows: readonly LogLineRow[]) => Promise<void>;

/**
 * The outbox's line for the transaction log's entries, beside the line of
 * rounds (service.ts). A round hands its log entry rows here and goes on
 * without waiting, so a log that is slow or hangs (each request may take up
 * to the log client's timeout) holds back no later round's pushes, bank
 * orders or webhooks. One delivery at a time: the rows that wait meanwhile go
 * in the next one together, as one batch to the log.
 *
 * Each delivery first gathers for `gatherMs` (limits' logLineGatherMs):
 * rows handed in meanwhile go in the same batch, so that one request to the
 * log carries the entries of many payments at a modest rate too. The gather
 * ends early once `waitingMax` rows wait, or when someone waits for the line
 * to drain (`drained`: a test, the service's close), which then delivers at
 * once.
 *
 * At most `waitingMax` rows wait; rows beyond are left, still leased, and
 * come due again when their lease ends (as for a worker that died). A row
 * handed in again (claimed again after its lease ended while the line was
 * held) replaces the one waiting, with its later lease. A row whose lease
 * ended before its turn is skipped by the delivery (deliver.ts checks each
 * row's lease as it starts it).
 */
export class LogLine {
  readonly #deliver: DeliverLogRows;
  readonly #onError: (error: unknown) => void;
  readonly #waitingMax: () => number;
  readonly #gatherMs: () => number;
  /** Ends the gather under way (and any gather while a drain is waited for). */
  #endGather: (() => void) | undefined;
  #draining = 0;
  #waiting = new Map<string, { readonly context: GatewayContext; readonly leased: LogLineRow }>();
  #running: Promise<void> | undefined;
  #left = 0;
  #said = 0;
  #saidAt = Number.NEGATIVE_INFINITY;

  constructor(options: {
    readonly deliver: DeliverLogRows;
    readonly onError: (error: unknown) => void;
    /** Read at each hand-in (limits reload). */
    readonly waitingMax: () => number;
    /** How long each delivery gathers rows first, in ms; read at each delivery (limits reload). Default 0. */
    readonly gatherMs?: () => number;
  }) {
    this.#deliver = options.deliver;
    this.#onError = options.onError;
    this.#waitingMax = options.waitingMax;
    this.#gatherMs = options.gatherMs ?? (() => 0);
  }

  /** Rows left since the start because the line was full (they came due again after their lease). */
  get left(): number {
    return this.#left;
  }

  /**
   * The rows left since the last call that returned some, once `intervalMs`
   * has passed since that call (0 otherwise): a line full for long is said
   * once in a while, not at every round.
   */
  leftToSay(nowMs: number, intervalMs: number): number {
    const unsaid = this.#left - this.#said;
    if (unsaid === 0 || nowMs - this.#saidAt < intervalMs) return 0;
    this.#said = this.#left;
    this.#saidAt = nowMs;
    return unsaid;
  }

  /** Rows waiting for their turn (not counting the delivery under way). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Whether a new row handed in now would be left (as many wait as the bound
   * allows): a step should then not lease its log entry to this start (the
   * gateway's leasedDelivery.accepts), since it would only wait out its lease.
   */
  get full(): boolean {
    return this.#waiting.size >= this.#waitingMax();
  }

  /** Queues `rows` for delivery under `context`; returns how many it left because the line was full. */
  add(context: GatewayContext, rows: readonly LogLineRow[]): number {
    let left = 0;
    for (const leased of rows) {
      const known = this.#waiting.get(leased.row.id);
      if (known === undefined && this.#waiting.size >= this.#waitingMax()) {
        left += 1;
        continue;
      }
      this.#waiting.delete(leased.row.id);
      this.#waiting.set(leased.row.id, { context, leased });
    }
    this.#left += left;
    if (this.#waiting.size >= this.#waitingMax()) this.#endGather?.();
    if (this.#waiting.size > 0 && this.#running === undefined) this.#running = this.#run();
    return left;
  }

  /**
   * Resolves once nothing waits and no delivery is under way (what was
   * handed in before, and since); the line does not gather meanwhile.
   */
  async drained(): Promise<void> {
    this.#draining += 1;
    this.#endGather?.();
    try {
      while (this.#running !== undefined) await this.#running;
    } finally {
      this.#draining -= 1;
    }
  }

  /** Whether a delivery starting now gathers first (not when the line is full or a drain is waited for). */
  #gathers(): boolean {
    return this.#gatherMs() > 0 && this.#draining === 0 && this.#waiting.size < this.#waitingMax();
  }

  /** Waits up to `gatherMs` for more rows: less once `waitingMax` wait or a drain is asked for. */
  async #gather(): Promise<void> {
    const gatherMs = this.#gatherMs();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#endGather?.(), gatherMs);
      // A line that gathers holds no process open: a close drains it first.
      timer.unref();
      this.#endGather = () => {
        clearTimeout(timer);
        this.#endGather = undefined;
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    try {
      while (this.#waiting.size > 0) {
        // Without a gather the rows are taken at once, in the turn that handed them in.
        if (this.#gathers()) await this.#gather();
        const taken = [...this.#waiting.values()];
        this.#waiting = new Map();
        // Rows of one context go together (a test may hand in rows under contexts of its own).
        for (let start = 0; start < taken.length; ) {
          const context = taken[start]?.context;
          let end = start;
          while (end < taken.length && taken[end]?.context === context) end += 1;
          const batch = taken.slice(start, end).map(({ leased }) => leased);
          start = end;
          if (context === undefined) continue;
          try {
            await this.#deliver(context, batch);
          } catch (error) {
            // What reaches here is the database failing under the delivery: the rows come due again.
            this.#onError(error);
          }
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}
