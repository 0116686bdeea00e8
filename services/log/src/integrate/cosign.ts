import { requestCosignature } from '@mpay/log-client';
import { consistencyProof, type NoteVerifier, parseVerifierKey, signatureTypes } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import {
  publishCheckpoint,
  readCosigners,
  readLatestCheckpoint,
  type SignedCheckpoint,
  storeCosignature,
} from '../store/checkpoints.ts';
import { SqlTreeReader } from '../store/tree-nodes.ts';

/** A witness the log asks for cosignatures: where it listens and its cosigner key (type 0x04). */
export interface LogWitness {
  readonly url: string;
  readonly verifierKey: string;
}

export interface CosigningRound {
  readonly treeSize: bigint;
  /** Witnesses (`name+keyID`) that cosigned in this round. */
  readonly cosigned: readonly string[];
  /** Witnesses that refused or could not be reached, with the error code. */
  readonly failed: ReadonlyArray<{ readonly witness: string; readonly code: string }>;
}

interface ResolvedWitness {
  readonly url: string;
  readonly id: string;
  readonly verifier: NoteVerifier;
}

/**
 * The log's side of c2sp.org/tlog-witness: after each integration it asks
 * every witness that has not cosigned the latest checkpoint yet, with a
 * consistency proof from the size that witness holds (learnt from its 409
 * answers), stores each verified cosignature, and publishes the checkpoint
 * whatever the witnesses answered (clients enforce their own quorum).
 */
export class WitnessCosigning {
  private readonly heldSizes = new Map<string, bigint>();
  private readonly database: Database;
  private readonly witnesses: readonly ResolvedWitness[];
  private readonly timeoutMs: number;

  private constructor(database: Database, witnesses: readonly ResolvedWitness[], timeoutMs: number) {
    this.database = database;
    this.witnesses = witnesses;
    this.timeoutMs = timeoutMs;
  }

  static async create(
    database: Database,
    witnesses: readonly LogWitness[],
    timeoutMs: number,
  ): Promise<WitnessCosigning> {
    const resolved = await Promise.all(
      witnesses.map(async ({ url, verifierKey }) => {
        const verifier = await parseVerifierKey(verifierKey);
        if (verifier.signatureType !== signatureTypes.cosignatureV1) {
          throw new MpayError('CRYPTO_KEY_INVALID', 'witness key type');
        }
        return { url, verifier, id: `${verifier.name}+${verifier.keyHash.toString(16).padStart(8, '0')}` };
      }),
    );
    return new WitnessCosigning(database, resolved, timeoutMs);
  }

  /** One round for the latest signed checkpoint; witnesses are asked in parallel. */
  async cosignLatest(origin: string, now: () => Date): Promise<CosigningRound | undefined> {
    const latest = await readLatestCheckpoint(this.database, origin);
    if (latest === undefined) return undefined;
    const { treeSize } = latest.checkpoint;
    const done = await readCosigners(this.database, treeSize);
    const pending = this.witnesses.filter((witness) => !done.has(witness.id));
    const results = await Promise.allSettled(pending.map((witness) => this.ask(witness, latest, now)));
    await publishCheckpoint(this.database, treeSize, now());
    const failed = results.flatMap((result, i) =>
      result.status === 'fulfilled' ? [] : [{ witness: pending[i]!.id, code: codeOf(result.reason) }],
    );
    const cosigned = pending
      .filter((_, i) => results[i]!.status === 'fulfilled')
      .map((witness) => witness.id);
    return { treeSize, cosigned, failed };
  }

  /** Asks once, and once more from the size the witness says it holds. */
  private async ask(witness: ResolvedWitness, latest: SignedCheckpoint, now: () => Date): Promise<void> {
    const { treeSize } = latest.checkpoint;
    for (let attempt = 0; attempt < 2; attempt++) {
      const oldSize = this.heldSizes.get(witness.id) ?? 0n;
      if (oldSize > treeSize) throw new MpayError('CHECKPOINT_ROLLBACK', `witness holds ${oldSize}`);
      const proof =
        oldSize === 0n || oldSize === treeSize
          ? []
          : await consistencyProof(oldSize, treeSize, new SqlTreeReader(this.database));
      const answer = await requestCosignature(
        witness.url,
        { checkpoint: latest.signedNote, consistencyProof: proof, oldSize },
        witness.verifier,
        { timeoutMs: this.timeoutMs },
      );
      if (!answer.cosigned) {
        this.heldSizes.set(witness.id, answer.heldSize);
        continue;
      }
      this.heldSizes.set(witness.id, treeSize);
      await storeCosignature(
        this.database,
        { treeSize, witness: witness.id, signatureLine: answer.cosignature },
        now(),
      );
      return;
    }
    throw new MpayError('CHECKPOINT_OLD_SIZE_MISMATCH', witness.id);
  }
}

function codeOf(error: unknown): string {
  return error instanceof MpayError ? error.code : 'INTERNAL';
}
