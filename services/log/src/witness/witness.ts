import type { AddCheckpointRequest } from '@mpay/log-client';
import {
  type Cosigner,
  openCheckpoint,
  parseCosignerKey,
  signNote,
  verifyCheckpointConsistency,
} from '@mpay/merkle';
import { isMpayError, MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import { type HeldCheckpoint, readHeldCheckpoint, recordAlarm, replaceHeldCheckpoint } from './store.ts';

/** A log this witness follows: its origin and its note verifier key. */
export interface WitnessedLog {
  readonly origin: string;
  readonly verifierKey: string;
}

export interface WitnessAlarm {
  readonly origin: string;
  readonly code: 'CHECKPOINT_FORK' | 'CHECKPOINT_ROLLBACK';
  readonly heldTreeSize: bigint;
  readonly refusedTreeSize: bigint;
}

export interface WitnessOptions {
  readonly database: Database;
  /** The witness's cosigner key (`PRIVATE+KEY+<witness name>+…`, type 0x04: c2sp.org/tlog-cosignature v1). */
  readonly signerKey: string | Cosigner;
  readonly logs: readonly WitnessedLog[];
  /** Called for every alarm, after it is counted and stored (log it, page someone). */
  readonly onAlarm?: ((alarm: WitnessAlarm) => void) | undefined;
  /** Time of the cosignatures (and of stored records). */
  readonly clock?: (() => Date) | undefined;
}

export interface Cosigned {
  /** The witness's cosignature line, with its newline. */
  readonly cosignature: string;
  /** The log's signed note with the witness's line appended. */
  readonly checkpoint: string;
  readonly treeSize: bigint;
}

/** Details of CHECKPOINT_FORK, so the HTTP edge can answer as c2sp.org/tlog-witness asks (409 or 422). */
export const forkDetails = Object.freeze({ sameSize: 'same size, other root', proof: 'consistency proof' });

/**
 * A witness (c2sp.org/tlog-witness semantics): holds the last checkpoint it
 * cosigned of each log, cosigns a new one only if it is signed by the log,
 * `oldSize` is the size it holds and the consistency proof from there
 * verifies; the cosignature is c2sp.org/tlog-cosignature v1. A checkpoint
 * smaller than the held one, or inconsistent with it, raises an alarm
 * (counted, stored with both notes, reported) and is refused.
 */
export class Witness {
  readonly alarmCounts = new Map<string, number>();
  private readonly options: WitnessOptions;
  private readonly cosigner: Cosigner;

  private constructor(options: WitnessOptions, cosigner: Cosigner) {
    this.options = options;
    this.cosigner = cosigner;
  }

  static async create(options: WitnessOptions): Promise<Witness> {
    const { signerKey } = options;
    const clock = () => (options.clock ?? (() => new Date()))();
    const cosigner = typeof signerKey === 'string' ? await parseCosignerKey(signerKey, clock) : signerKey;
    return new Witness(options, cosigner);
  }

  get name(): string {
    return this.cosigner.name;
  }

  /** The origins of the logs this witness follows. */
  get origins(): readonly string[] {
    return this.options.logs.map((log) => log.origin);
  }

  get alarmCount(): number {
    return [...this.alarmCounts.values()].reduce((sum, count) => sum + count, 0);
  }

  async held(origin: string): Promise<HeldCheckpoint | undefined> {
    return readHeldCheckpoint(this.options.database, origin);
  }

  /**
   * Checks in the order of c2sp.org/tlog-witness: known origin (LOG_UNKNOWN),
   * log signature (NOTE_*), no extension lines (CHECKPOINT_INVALID), a
   * smaller tree than held (CHECKPOINT_ROLLBACK, alarm), old size above the
   * checkpoint's (REQUEST_INVALID), old size not the held one
   * (CHECKPOINT_OLD_SIZE_MISMATCH, detail = held size), then consistency
   * (CHECKPOINT_FORK, alarm).
   */
  async addCheckpoint(request: AddCheckpointRequest): Promise<Cosigned> {
    const log = this.logOf(request.checkpoint);
    const { checkpoint, note } = await openCheckpoint(request.checkpoint, log.origin, [log.verifierKey]);
    if (checkpoint.extensions.length > 0) throw new MpayError('CHECKPOINT_INVALID', 'extension lines');
    const next = { checkpoint, signedNote: request.checkpoint };
    const held = await this.held(log.origin);
    const heldSize = held?.checkpoint.treeSize ?? 0n;
    if (held !== undefined && checkpoint.treeSize < heldSize)
      await this.refuse('CHECKPOINT_ROLLBACK', held, next);
    if (request.oldSize > checkpoint.treeSize)
      throw new MpayError('REQUEST_INVALID', 'old size above checkpoint size');
    if (request.oldSize !== heldSize)
      throw new MpayError('CHECKPOINT_OLD_SIZE_MISMATCH', heldSize.toString(10));
    if (held !== undefined) await this.checkExtends(held, next, request.proof);
    else if (request.proof.length > 0) throw new MpayError('PROOF_INVALID', 'proof from size 0');
    const signed = await signNote(note.text, [this.cosigner]);
    const cosignature = signed.slice(note.text.length + 1);
    const sameAsHeld = held !== undefined && heldSize === checkpoint.treeSize;
    if (!sameAsHeld && !(await replaceHeldCheckpoint(this.options.database, held, next, this.now()))) {
      throw new MpayError('CHECKPOINT_OLD_SIZE_MISMATCH', 'held checkpoint changed meanwhile');
    }
    return Object.freeze({
      cosignature,
      checkpoint: `${request.checkpoint}${cosignature}`,
      treeSize: checkpoint.treeSize,
    });
  }

  private logOf(signedNote: string): WitnessedLog {
    const origin = typeof signedNote === 'string' ? signedNote.slice(0, signedNote.indexOf('\n')) : '';
    const log = this.options.logs.find((candidate) => candidate.origin === origin);
    if (log === undefined) throw new MpayError('LOG_UNKNOWN');
    return log;
  }

  private async checkExtends(held: HeldCheckpoint, next: HeldCheckpoint, proof: readonly Uint8Array[]) {
    try {
      await verifyCheckpointConsistency(held.checkpoint, next.checkpoint, proof);
    } catch (error) {
      if (!isMpayError(error, 'PROOF_INVALID')) throw error;
      await this.refuse('CHECKPOINT_FORK', held, next);
    }
  }

  private async refuse(
    code: WitnessAlarm['code'],
    held: HeldCheckpoint,
    refused: HeldCheckpoint,
  ): Promise<never> {
    const { origin } = held.checkpoint;
    this.alarmCounts.set(code, (this.alarmCounts.get(code) ?? 0) + 1);
    await recordAlarm(
      this.options.database,
      { origin, code, heldNote: held.signedNote, refusedNote: refused.signedNote },
      this.now(),
    );
    this.options.onAlarm?.({
      origin,
      code,
      heldTreeSize: held.checkpoint.treeSize,
      refusedTreeSize: refused.checkpoint.treeSize,
    });
    const sameSize = held.checkpoint.treeSize === refused.checkpoint.treeSize;
    const detail =
      code === 'CHECKPOINT_ROLLBACK'
        ? `held size ${held.checkpoint.treeSize}`
        : sameSize
          ? forkDetails.sameSize
          : forkDetails.proof;
    throw new MpayError(code, detail);
  }

  private now(): Date {
    return (this.options.clock ?? (() => new Date()))();
  }
}
