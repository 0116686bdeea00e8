import {
  type NoteSigner,
  openCheckpoint,
  parseSignerKey,
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
  /** The witness's own note signer key (`PRIVATE+KEY+<witness name>+…`). */
  readonly signerKey: string | NoteSigner;
  readonly logs: readonly WitnessedLog[];
  /** Called for every alarm, after it is counted and stored (log it, page someone). */
  readonly onAlarm?: ((alarm: WitnessAlarm) => void) | undefined;
  readonly clock?: (() => Date) | undefined;
}

export interface AddCheckpointRequest {
  /** The log's signed checkpoint note. */
  readonly checkpoint: string;
  /** RFC 9162 consistency proof from the held size to the checkpoint's. */
  readonly proof: readonly Uint8Array[];
  /** The size the submitter believes the witness holds (c2sp.org/tlog-witness `old`); checked when given. */
  readonly oldSize?: bigint | undefined;
}

export interface Cosigned {
  /** The witness's signature line, with its newline. */
  readonly cosignature: string;
  /** The log's signed note with the witness's line appended. */
  readonly checkpoint: string;
  readonly treeSize: bigint;
}

/**
 * A witness: holds the last checkpoint it cosigned of each log, cosigns a new
 * one only if it is signed by the log and provably extends the held one, and
 * raises an alarm (counted, stored with both notes, reported, thrown) on a
 * rollback or a fork. The cosignature is a plain Ed25519 signed-note line
 * by the witness key (type 0x01), not c2sp.org/tlog-cosignature (type 0x04
 * with a timestamp): verifiable with `openCheckpoint(note, origin, [witnessKey])`.
 */
export class Witness {
  readonly alarmCounts = new Map<string, number>();
  private readonly options: WitnessOptions;
  private readonly signer: NoteSigner;

  private constructor(options: WitnessOptions, signer: NoteSigner) {
    this.options = options;
    this.signer = signer;
  }

  static async create(options: WitnessOptions): Promise<Witness> {
    const { signerKey } = options;
    return new Witness(options, typeof signerKey === 'string' ? await parseSignerKey(signerKey) : signerKey);
  }

  get name(): string {
    return this.signer.name;
  }

  get alarmCount(): number {
    return [...this.alarmCounts.values()].reduce((sum, count) => sum + count, 0);
  }

  async held(origin: string): Promise<HeldCheckpoint | undefined> {
    return readHeldCheckpoint(this.options.database, origin);
  }

  async addCheckpoint(request: AddCheckpointRequest): Promise<Cosigned> {
    const log = this.logOf(request.checkpoint);
    const { checkpoint, note } = await openCheckpoint(request.checkpoint, log.origin, [log.verifierKey]);
    const held = await this.held(log.origin);
    const heldSize = held?.checkpoint.treeSize ?? 0n;
    if (request.oldSize !== undefined && request.oldSize !== heldSize) {
      throw new MpayError('CHECKPOINT_OLD_SIZE_MISMATCH', `witness holds size ${heldSize}`);
    }
    if (held !== undefined)
      await this.checkExtends(held, { checkpoint, signedNote: request.checkpoint }, request.proof);
    const signed = await signNote(note.text, [this.signer]);
    const cosignature = signed.slice(note.text.length + 1);
    const next = { checkpoint, signedNote: request.checkpoint };
    const sameAsHeld = held !== undefined && held.checkpoint.treeSize === checkpoint.treeSize;
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
    if (log === undefined) throw new MpayError('CHECKPOINT_INVALID', 'unknown origin');
    return log;
  }

  private async checkExtends(held: HeldCheckpoint, next: HeldCheckpoint, proof: readonly Uint8Array[]) {
    try {
      await verifyCheckpointConsistency(held.checkpoint, next.checkpoint, proof);
    } catch (error) {
      if (!isMpayError(error, 'CHECKPOINT_ROLLBACK') && !isMpayError(error, 'PROOF_INVALID')) throw error;
      const code = error.code === 'CHECKPOINT_ROLLBACK' ? 'CHECKPOINT_ROLLBACK' : 'CHECKPOINT_FORK';
      await this.raiseAlarm(code, held, next);
      throw new MpayError(code, `held size ${held.checkpoint.treeSize}`);
    }
  }

  private async raiseAlarm(code: WitnessAlarm['code'], held: HeldCheckpoint, refused: HeldCheckpoint) {
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
  }

  private now(): Date {
    return (this.options.clock ?? (() => new Date()))();
  }
}
