import { describe, expect, it } from 'vitest';
import { leafHash } from '../hash/rfc9162.ts';
import { CompactRange } from './compact-range.ts';
import type { NodeId } from './node-id.ts';
import {
  referenceLeafInputs,
  referenceNodeHashes,
  referenceRootHashes,
} from './reference-tree.test-helper.ts';
import { rootHash } from './root-hash.ts';

const leaves = await Promise.all(referenceLeafInputs.map((input) => leafHash(input)));

describe('CompactRange', () => {
  it('gives the reference root hash for every size 0..8', async () => {
    let range = CompactRange.empty();
    expect(await range.rootHash()).toEqual(referenceRootHashes[0]);
    for (const [i, leaf] of leaves.entries()) {
      range = await range.append([leaf]);
      expect(range.treeSize).toBe(BigInt(i + 1));
      expect(await range.rootHash()).toEqual(referenceRootHashes[i + 1]);
      expect(range.hashes).toHaveLength(CompactRange.ids(range.treeSize).length);
    }
  });

  it('reports every completed perfect subtree exactly once, with the reference hash', async () => {
    const seen: Array<[NodeId, Uint8Array]> = [];
    await CompactRange.empty().append(leaves, (id, hash) => seen.push([id, hash]));
    expect(seen).toHaveLength(8 + 4 + 2 + 1);
    for (const [id, hash] of seen) expect(hash).toEqual(referenceNodeHashes[id.level]![Number(id.index)]);
  });

  it('gives the same root however the leaves are batched, and after a restore', async () => {
    for (let split = 0; split <= leaves.length; split++) {
      const first = await CompactRange.empty().append(leaves.slice(0, split));
      const restored = CompactRange.fromHashes(first.treeSize, first.hashes);
      const whole = await restored.append(leaves.slice(split));
      expect(await whole.rootHash()).toEqual(referenceRootHashes[8]);
    }
    expect(await rootHash(leaves.slice(0, 7))).toEqual(referenceRootHashes[7]);
  });

  it('is immutable', async () => {
    const empty = CompactRange.empty();
    const one = await empty.append([leaves[0]!]);
    expect(empty.treeSize).toBe(0n);
    expect(one.treeSize).toBe(1n);
    expect(Object.isFrozen(one)).toBe(true);
    expect(Object.isFrozen(one.hashes)).toBe(true);
  });

  it('names the perfect subtrees of [0, size), largest first', () => {
    expect(CompactRange.ids(0n)).toEqual([]);
    expect(CompactRange.ids(7n)).toEqual([
      { level: 2, index: 0n },
      { level: 1, index: 2n },
      { level: 0, index: 6n },
    ]);
    expect(CompactRange.ids((1n << 64n) - 1n)).toHaveLength(64);
  });

  it('refuses a restore with the wrong number or size of hashes (a storage bug)', () => {
    expect(() => CompactRange.fromHashes(3, [leaves[0]!])).toThrow(/assertion failed/);
    expect(() => CompactRange.fromHashes(1, [new Uint8Array(31)])).toThrow(/assertion failed/);
    expect(() => CompactRange.fromHashes(-1, [])).toThrow(
      expect.objectContaining({ code: 'PROOF_REQUEST_INVALID' }),
    );
  });
});
