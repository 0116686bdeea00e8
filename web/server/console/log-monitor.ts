import { fetchCheckpoint } from '@mpay/log-client';
import type { Checkpoint, WitnessPolicy } from '@mpay/merkle';
import { type ErrorCode, isMpayError } from '@mpay/protocol';
import type { ConsoleLimits } from './limits.ts';

/**
 * Answers of the log that are alarms, not outages: a checkpoint that does
 * not verify under the configured keys, lacks its witnesses, or does not
 * extend the one the console saw before (the log forked or rolled back).
 */
const alarmCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CHECKPOINT_FORK',
  'CHECKPOINT_ROLLBACK',
  'CHECKPOINT_INVALID',
  'NOTE_INVALID',
  'NOTE_SIGNATURE_INVALID',
  'NOTE_KEY_UNKNOWN',
  'NOTE_TOO_MANY_SIGNATURES',
  'WITNESS_QUORUM_NOT_MET',
  'PROOF_INVALID',
]);

/** The log's latest checkpoint as the console last verified it, and what went wrong since. */
export interface LogStatus {
  /** The signed note as the log served it (the page verifies it again itself). */
  readonly signedNote: string | null;
  readonly treeSize: string | null;
  readonly checkedAt: string | null;
  /** Since when the console has seen every checkpoint extend the previous one (its first check). */
  readonly watchingSince: string | null;
  /** The first alarm seen (kept until the console restarts: it needs a person). */
  readonly alarm: { readonly code: string; readonly detail: string; readonly at: string } | null;
  /** The last check's failure to reach the log (an outage, not an alarm). */
  readonly lastError: { readonly code: string; readonly at: string } | null;
}

/**
 * A monitor of the transaction log: fetches the latest checkpoint, checks
 * the log's signature and the witnesses' cosignatures under the configured
 * keys, and that it extends the previous one by a consistency proof
 * (@mpay/log-client's fetchCheckpoint). A failure of those checks is an
 * alarm; an unreachable log is only an error.
 */
export class LogMonitor {
  readonly #logUrl: string;
  readonly #policy: WitnessPolicy;
  readonly #limits: ConsoleLimits;
  readonly #clock: () => Date;
  #previous: Checkpoint | undefined;
  #signedNote: string | null = null;
  #checkedAt: Date | null = null;
  #watchingSince: Date | null = null;
  #alarm: LogStatus['alarm'] = null;
  #lastError: LogStatus['lastError'] = null;
  #inFlight: Promise<void> | undefined;

  constructor(logUrl: string, policy: WitnessPolicy, limits: ConsoleLimits, clock: () => Date) {
    this.#logUrl = logUrl;
    this.#policy = policy;
    this.#limits = limits;
    this.#clock = clock;
  }

  check(): Promise<void> {
    this.#inFlight ??= this.#checkOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #checkOnce(): Promise<void> {
    const at = this.#clock();
    try {
      const fetched = await fetchCheckpoint(this.#logUrl, this.#policy, {
        previous: this.#previous,
        timeoutMs: this.#limits.serviceTimeoutMs,
      });
      this.#previous = fetched.checkpoint;
      this.#signedNote = fetched.signedNote;
      this.#checkedAt = at;
      this.#watchingSince ??= at;
      this.#lastError = null;
    } catch (error) {
      const code = isMpayError(error) ? error.code : 'INTERNAL';
      if (isMpayError(error) && alarmCodes.has(error.code)) {
        this.#alarm ??= { code, detail: error.detail ?? '', at: at.toISOString() };
      } else {
        this.#lastError = { code, at: at.toISOString() };
      }
    }
  }

  status(): LogStatus {
    return {
      signedNote: this.#signedNote,
      treeSize: this.#previous?.treeSize.toString() ?? null,
      checkedAt: this.#checkedAt?.toISOString() ?? null,
      watchingSince: this.#watchingSince?.toISOString() ?? null,
      alarm: this.#alarm,
      lastError: this.#lastError,
    };
  }
}
