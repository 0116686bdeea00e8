import { describe, expect, it } from 'vitest';
import { leafHash } from '../hash/rfc9162.ts';
import { consistencyProof } from '../proof/consistency/generate.ts';
import { inclusionProof } from '../proof/inclusion/generate.ts';
import { MemoryTree } from './memory-tree.ts';
import {
  referenceLeafInputs,
  referenceNodeHashes,
  referenceRootHashes,
} from './reference-tree.test-helper.ts';
import { treeRootHash } from './root-hash.ts';
import type { TreeReader } from './tree-reader.ts';

const leaves = await Promise.all(referenceLeafInputs.map((input) => leafHash(input)));

async function referenceTree(): Promise<MemoryTree> {
  const tree = new MemoryTree();
  expect(await tree.append(leaves.slice(0, 3))).toEqual(referenceRootHashes[3]);
  expect(await tree.append(leaves.slice(3))).toEqual(referenceRootHashes[8]);
  return tree;
}

describe('MemoryTree', () => {
  it('stores exactly the perfect subtrees', async () => {
    const tree = await referenceTree();
    expect(tree.treeSize).toBe(8n);
    for (const [level, hashes] of referenceNodeHashes.entries()) {
      const ids = hashes.map((_, index) => ({ level, index: BigInt(index) }));
      expect(await tree.getHashes(ids)).toEqual(hashes);
    }
    await expect(tree.getHashes([{ level: 0, index: 8n }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(tree.getHashes([{ level: 4, index: 0n }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers the root hash of every earlier size', async () => {
    const tree = await referenceTree();
    for (let size = 0; size <= 8; size++)
      expect(await treeRootHash(size, tree)).toEqual(referenceRootHashes[size]);
    await expect(treeRootHash(9, tree)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('builds each proof from one batched read of O(log n) nodes', async () => {
    const tree = await referenceTree();
    const reads: number[] = [];
    const counting: TreeReader = {
      getHashes: (ids) => {
        reads.push(ids.length);
        return tree.getHashes(ids);
      },
    };
    // Leaf 2 of 7: leaf 3, node [0, 2), and the right-border node [4, 7) rebuilt from [4, 6) and leaf 6.
    expect(await inclusionProof(2, 7, counting)).toHaveLength(3);
    // 3 to 7: the same path plus leaf 2 itself.
    expect(await consistencyProof(3, 7, counting)).toHaveLength(4);
    expect(reads).toEqual([4, 5]);
  });

  it('rejects proof requests outside the tree', async () => {
    const tree = await referenceTree();
    const invalid = { code: 'PROOF_REQUEST_INVALID' };
    await expect(inclusionProof(8, 8, tree)).rejects.toMatchObject(invalid);
    await expect(inclusionProof(-1, 8, tree)).rejects.toMatchObject(invalid);
    await expect(inclusionProof(0.5, 8, tree)).rejects.toMatchObject(invalid);
    await expect(consistencyProof(0, 8, tree)).rejects.toMatchObject(invalid);
    await expect(consistencyProof(5, 4, tree)).rejects.toMatchObject(invalid);
    expect(await consistencyProof(8, 8, tree)).toEqual([]);
    await expect(inclusionProof(0, 9, tree)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses two appends at once', async () => {
    const tree = new MemoryTree();
    const first = tree.append(leaves);
    await expect(tree.append(leaves)).rejects.toThrow(/one append at a time/);
    await first;
    expect(tree.treeSize).toBe(8n);
  });
});
