import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash } from '../hash/rfc9162.ts';
import { MemoryTree } from '../tree/memory-tree.ts';
import { rootHash, treeRootHash } from '../tree/root-hash.ts';
import { consistencyProof } from './consistency/generate.ts';
import { verifyConsistency } from './consistency/verify.ts';
import { inclusionProof, inclusionProofs } from './inclusion/generate.ts';
import { verifyInclusion } from './inclusion/verify.ts';
import { naiveConsistencyProof, naiveInclusionProof, naiveRootHash } from './naive-rfc9162.test-helper.ts';

const leafCountMax = 70;

async function buildTree(entries: readonly Uint8Array[], batchSizes: readonly number[]) {
  const leaves = await Promise.all(entries.map((entry) => leafHash(entry)));
  const tree = new MemoryTree();
  let offset = 0;
  for (const batchSize of batchSizes) {
    await tree.append(leaves.slice(offset, offset + batchSize));
    offset += batchSize;
  }
  await tree.append(leaves.slice(offset));
  return { leaves, tree };
}

async function rejects(run: () => Promise<void>): Promise<boolean> {
  try {
    await run();
    return false;
  } catch (error) {
    if (!isMpayError(error, 'PROOF_INVALID')) throw error;
    return true;
  }
}

/** Distinct entries (a prefix of the index keeps them distinct), 1..leafCountMax of them. */
const entries = fc
  .array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: leafCountMax, size: 'max' })
  .map((list) => list.map((bytes, i) => new Uint8Array([i, ...bytes])));
const batches = fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 8 });
/** Positions as uniform-ish integers reduced modulo the range (fc.double is biased to 0 and 1). */
const fraction = fc.integer({ min: 0, max: 2 ** 30 });
const pick = (value: number, count: number) => value % count;

function flipRootBit(hash: Uint8Array, bit: number): Uint8Array {
  const mutated = new Uint8Array(hash);
  mutated[bit % 32]! ^= 1 << (bit % 8);
  return mutated;
}

function flipBit(proof: readonly Uint8Array[], which: number, bit: number): Uint8Array[] {
  const mutated = proof.map((hash) => new Uint8Array(hash));
  const target = mutated[which % mutated.length]!;
  target[bit % 32]! ^= 1 << (bit % 8);
  return mutated;
}

/** True when verification throws PROOF_INVALID; any other error fails the test. */
const inclusionFails = (...args: Parameters<typeof verifyInclusion>) =>
  rejects(() => verifyInclusion(...args));
const consistencyFails = (...args: Parameters<typeof verifyConsistency>) =>
  rejects(() => verifyConsistency(...args));

describe('proof generation against the literal RFC 9162 definitions', () => {
  it('root hash of every prefix matches the recursive MTH', async () => {
    await fc.assert(
      fc.asyncProperty(entries, batches, fraction, async (list, batchSizes, f) => {
        const { leaves, tree } = await buildTree(list, batchSizes);
        const size = 1 + pick(f, leaves.length);
        const expected = await naiveRootHash(leaves.slice(0, size));
        expect(await treeRootHash(size, tree)).toEqual(expected);
        expect(await rootHash(leaves.slice(0, size))).toEqual(expected);
        expect(await tree.rootHash()).toEqual(await naiveRootHash(leaves));
      }),
      { numRuns: 60 },
    );
  });

  // Note: a proof does not bind the tree size by itself (leaf 0 of 3 and of 4 can share a
  // proof); the size comes from a signed checkpoint. So sizes are not mutated below.
  it('inclusion proofs equal PATH(m, D[n]), verify, and fail when mutated', async () => {
    const property = fc.asyncProperty(
      entries,
      batches,
      fraction,
      fraction,
      fc.nat(),
      async (list, batchSizes, f, g, bit) => {
        const { leaves, tree } = await buildTree(list, batchSizes);
        const size = 1 + pick(f, leaves.length);
        const index = pick(g, size);
        const leaf = leaves[index]!;
        const root = await naiveRootHash(leaves.slice(0, size));
        const proof = await inclusionProof(index, size, tree);
        expect(proof).toEqual(await naiveInclusionProof(index, leaves.slice(0, size)));
        await verifyInclusion(leaf, index, size, proof, root);
        await verifyInclusion(leaf, BigInt(index), BigInt(size), proof, root);
        if (proof.length > 0) {
          expect(await inclusionFails(leaf, index, size, flipBit(proof, bit, bit), root)).toBe(true);
          expect(await inclusionFails(leaf, index, size, proof.slice(1), root)).toBe(true);
        }
        expect(await inclusionFails(leaf, index, size, [...proof, root], root)).toBe(true);
        expect(await inclusionFails(leaf, index, size, proof, flipRootBit(root, bit))).toBe(true);
        expect(await inclusionFails(flipRootBit(leaf, bit), index, size, proof, root)).toBe(true);
        const otherIndex = (index + 1 + (bit % size)) % size;
        if (otherIndex !== index)
          expect(await inclusionFails(leaf, otherIndex, size, proof, root)).toBe(true);
      },
    );
    await fc.assert(property, { numRuns: 100 });
  });

  it('inclusion proofs of several leaves come from one read and equal PATH(m, D[n]) each, in the order asked', async () => {
    const property = fc.asyncProperty(
      entries,
      batches,
      fraction,
      fc.array(fraction, { minLength: 1, maxLength: 12 }),
      async (list, batchSizes, f, picks) => {
        const { leaves, tree } = await buildTree(list, batchSizes);
        const size = 1 + pick(f, leaves.length);
        const indices = picks.map((g) => pick(g, size));
        let reads = 0;
        const counting = {
          getHashes: (ids: Parameters<MemoryTree['getHashes']>[0]) => {
            reads += 1;
            // Each node asked for once, however many proofs need it.
            expect(new Set(ids.map((id) => `${id.level}/${id.index}`)).size).toBe(ids.length);
            return tree.getHashes(ids);
          },
        };
        const proofs = await inclusionProofs(indices, size, counting);
        expect(reads).toBeLessThanOrEqual(1);
        expect(proofs).toHaveLength(indices.length);
        for (const [i, index] of indices.entries())
          expect(proofs[i]).toEqual(await naiveInclusionProof(index, leaves.slice(0, size)));
      },
    );
    await fc.assert(property, { numRuns: 60 });
    await expect(inclusionProofs([0, 3], 3, new MemoryTree())).rejects.toMatchObject({
      code: 'PROOF_REQUEST_INVALID',
    });
  });

  it('consistency proofs equal PROOF(m, D[n]), verify, and fail when mutated', async () => {
    const property = fc.asyncProperty(
      entries,
      batches,
      fraction,
      fraction,
      fc.nat(),
      async (list, batchSizes, f, g, bit) => {
        const { leaves, tree } = await buildTree(list, batchSizes);
        const size2 = 1 + pick(f, leaves.length);
        const size1 = 1 + pick(g, size2);
        const root1 = await naiveRootHash(leaves.slice(0, size1));
        const root2 = await naiveRootHash(leaves.slice(0, size2));
        const proof = await consistencyProof(size1, size2, tree);
        expect(proof).toEqual(await naiveConsistencyProof(size1, leaves.slice(0, size2)));
        await verifyConsistency(size1, size2, root1, root2, proof);
        expect(await consistencyFails(size1, size2, root2, root1, proof)).toBe(size1 !== size2);
        // Both roots bind, including root1 when the proof does not start from it.
        expect(await consistencyFails(size1, size2, flipRootBit(root1, bit), root2, proof)).toBe(true);
        expect(await consistencyFails(size1, size2, root1, flipRootBit(root2, bit), proof)).toBe(true);
        if (proof.length > 0) {
          expect(await consistencyFails(size1, size2, root1, root2, flipBit(proof, bit, bit))).toBe(true);
          expect(await consistencyFails(size1, size2, root1, root2, proof.slice(0, -1))).toBe(true);
        }
        expect(await consistencyFails(size1, size2, root1, root2, [...proof, root1])).toBe(true);
        expect(await consistencyFails(0, size2, root1, root2, proof)).toBe(true);
      },
    );
    await fc.assert(property, { numRuns: 100 });
  });
});
