import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { EntrySubmission } from '../store/entries.ts';
import { type Submitted, submitEntries } from '../store/submit.ts';

interface Waiting {
  readonly submission: EntrySubmission;
  readonly submitter: string;
  resolve(result: Submitted): void;
  reject(error: unknown): void;
}

export interface GroupCommitOptions {
  /** Most entries written by one transaction. */
  readonly batchSizeMax: number;
  /** Most submissions waiting; beyond it SERVICE_UNAVAILABLE at once. */
  readonly queueMax: number;
  readonly pendingEntriesMax: number;
  readonly clock: () => Date;
}

/**
 * Group commit for POST /entries: submissions that arrive while a batch is
 * being written wait and are written together by the next transaction (one
 * per submitter and batch), so concurrent clients share one commit instead of
 * one each. Each caller gets its own index; a failed batch fails its callers.
 */
export class GroupCommit {
  private readonly waiting: Waiting[] = [];
  private writing = false;
  private readonly database: Database;
  private readonly options: GroupCommitOptions;

  constructor(database: Database, options: GroupCommitOptions) {
    this.database = database;
    this.options = options;
  }

  submit(submission: EntrySubmission, submitter: string): Promise<Submitted> {
    return this.submitAll([submission], submitter).then((results) => results[0] as Submitted);
  }

  /**
   * Several submissions of one submitter, queued together: all, or none
   * (SERVICE_UNAVAILABLE) when the queue has no room for them all. Written
   * in one transaction when they fit in one batch (batchSizeMax).
   */
  submitAll(submissions: readonly EntrySubmission[], submitter: string): Promise<Submitted[]> {
    if (this.waiting.length + submissions.length > this.options.queueMax) {
      return Promise.reject(new MpayError('SERVICE_UNAVAILABLE', 'submission queue full'));
    }
    const results = submissions.map(
      (submission) =>
        new Promise<Submitted>((resolve, reject) => {
          this.waiting.push({ submission, submitter, resolve, reject });
        }),
    );
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => void this.drain());
    }
    return Promise.all(results);
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.batchSizeMax);
      const bySubmitter = new Map<string, Waiting[]>();
      for (const waiting of batch) {
        const group = bySubmitter.get(waiting.submitter);
        if (group === undefined) bySubmitter.set(waiting.submitter, [waiting]);
        else group.push(waiting);
      }
      for (const [submitter, group] of bySubmitter) await this.write(submitter, group);
    }
    this.writing = false;
  }

  private async write(submitter: string, group: readonly Waiting[]): Promise<void> {
    try {
      const results = await submitEntries(
        this.database,
        group.map((waiting) => waiting.submission),
        submitter,
        { now: this.options.clock(), pendingEntriesMax: this.options.pendingEntriesMax },
      );
      for (const [i, waiting] of group.entries()) waiting.resolve(results[i]!);
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
    }
  }
}
