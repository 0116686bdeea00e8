import { assert, MpayError } from '@mpay/protocol';
import { CompactRange } from './compact-range.ts';
import type { NodeId } from './node-id.ts';
import type { TreeReader } from './tree-reader.ts';

/**
 * An in-memory log: stores every perfect subtree hash (what a tile store
 * holds), nothing else. Proofs for any earlier size stay answerable because
 * perfect subtrees never change once complete. For tests and embedded use.
 */
export class MemoryTree implements TreeReader {
  /** levels[level][index]: hash of the perfect subtree (level, index). */
  private readonly levels: Uint8Array[][] = [];
  private range = CompactRange.empty();
  private appending = false;

  get treeSize(): bigint {
    return this.range.treeSize;
  }

  /** Integrates a batch of leaf hashes; returns the new root hash. */
  async append(leafHashes: readonly Uint8Array[]): Promise<Uint8Array> {
    assert(!this.appending, 'one append at a time');
    this.appending = true;
    const stored: Array<[NodeId, Uint8Array]> = [];
    const next = await this.range
      .append(leafHashes, (id, hash) => stored.push([id, hash]))
      .finally(() => {
        this.appending = false;
      });
    for (const [id, hash] of stored) {
      const level = this.levels[id.level] ?? [];
      this.levels[id.level] = level;
      level[Number(id.index)] = hash;
    }
    this.range = next;
    return next.rootHash();
  }

  async rootHash(): Promise<Uint8Array> {
    return this.range.rootHash();
  }

  async getHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    return ids.map((id) => {
      const hash = this.levels[id.level]?.[Number(id.index)];
      if (hash === undefined) throw new MpayError('NOT_FOUND', 'tree node');
      return hash;
    });
  }
}
