import { openCosignedCheckpoint, parseReceipt, parseTlogProof, type WitnessPolicy } from '@mpay/merkle';
import type { ClientLimits } from './http.ts';
import { type FetchedCheckpoint, fetchCheckpoint } from './proofs.ts';

/**
 * The latest checkpoint a client has verified, shared by every receipt it
 * builds, and the log's append-only promise checked across them.
 *
 * A receipt needs a cosigned checkpoint whose tree holds its entry. Fetched
 * for each receipt, that is one request to the log and its signatures
 * verified again for every payment, while one checkpoint holds every entry
 * the log integrated before it. Here the checkpoint held serves every entry
 * it holds; an entry past it fetches a fresh one (one request at a time,
 * however many receipts wait for it), which must extend the one held:
 * CHECKPOINT_FORK for another root at the same size or a consistency proof
 * that fails, CHECKPOINT_ROLLBACK for a smaller tree. So a log that showed
 * this client two histories is caught at the next receipt, not only by an
 * auditor later.
 */
export class CheckpointFollower {
  readonly #logUrl: string;
  readonly #policy: WitnessPolicy;
  readonly #limits: ClientLimits;
  #held: FetchedCheckpoint | undefined;
  #fetching: Promise<FetchedCheckpoint> | undefined;

  constructor(logUrl: string, policy: WitnessPolicy, limits: ClientLimits = {}) {
    this.#logUrl = logUrl;
    this.#policy = policy;
    this.#limits = limits;
  }

  /** The keys and quorum every checkpoint it holds was opened with. */
  get policy(): WitnessPolicy {
    return this.#policy;
  }

  /** The checkpoint held (the largest verified so far), if any. */
  get held(): FetchedCheckpoint | undefined {
    return this.#held;
  }

  /**
   * A verified checkpoint whose tree holds leaf `index`: the one held when it
   * does, else a fresh one, which may still not hold it (the log has not
   * integrated it yet: the caller waits and asks again).
   */
  covering(index: bigint): Promise<FetchedCheckpoint> {
    const held = this.#held;
    if (held !== undefined && held.checkpoint.treeSize > index) return Promise.resolve(held);
    this.#fetching ??= this.#fetch().finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  /**
   * Holds the checkpoint of a receipt this client stored before (its latest),
   * opened again with the policy's keys, unless it holds a larger one
   * already: after a restart the log must still extend what it showed
   * before, not merely whatever it serves first. Throws what reading the
   * receipt or opening its note throws.
   */
  async rememberReceipt(receiptText: string): Promise<void> {
    const signedNote = parseTlogProof(parseReceipt(receiptText).proof).checkpoint;
    const opened = await openCosignedCheckpoint(signedNote, this.#policy);
    const held = this.#held;
    if (held === undefined || opened.checkpoint.treeSize > held.checkpoint.treeSize)
      this.#held = Object.freeze({ ...opened, signedNote });
  }

  async #fetch(): Promise<FetchedCheckpoint> {
    const previous = this.#held;
    const fresh = await fetchCheckpoint(this.#logUrl, this.#policy, {
      ...this.#limits,
      previous: previous?.checkpoint,
    });
    // It extends the one held (checked above): the larger is kept.
    if (previous === undefined || fresh.checkpoint.treeSize > previous.checkpoint.treeSize)
      this.#held = fresh;
    return fresh;
  }
}

const followers = new WeakMap<object, CheckpointFollower>();

/**
 * The follower of a service's link to its log (its URL and witness policy):
 * one for the link object's life, so that every receipt the service builds
 * shares it.
 */
export function checkpointFollowerOf(link: { readonly url: string } & WitnessPolicy): CheckpointFollower {
  let follower = followers.get(link);
  if (follower === undefined) {
    follower = new CheckpointFollower(link.url, link);
    followers.set(link, follower);
  }
  return follower;
}
