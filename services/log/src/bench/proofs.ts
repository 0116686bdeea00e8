import {
  consistencyProof,
  inclusionProof,
  leafHash,
  type NodeId,
  type TreeReader,
  treeRootHash,
  verifyConsistency,
  verifyInclusion,
} from '@mpay/merkle';
import type { Database } from '@mpay/storage';
import { readEntry } from '../store/entries.ts';
import { SqlTreeReader } from '../store/tree-nodes.ts';
import { perSecond, seededRandom } from './workload.ts';

/** Counts database reads (queries) and the nodes they return. */
class CountingReader implements TreeReader {
  reads = 0;
  nodes = 0;
  private readonly inner: TreeReader;

  constructor(inner: TreeReader) {
    this.inner = inner;
  }

  async getHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    this.reads++;
    this.nodes += ids.length;
    return this.inner.getHashes(ids);
  }
}

/** Proofs asked at the same time, as a server answering several clients would (PGlite runs them one by one). */
export const proofConcurrency = 4;

async function concurrently<T, R>(inputs: readonly T[], work: (input: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      results[i] = await work(inputs[i]!);
    }
  };
  await Promise.all(Array.from({ length: proofConcurrency }, worker));
  return results;
}

export interface ProofFigures {
  readonly count: number;
  readonly perSecond: number;
  /** Queries per proof: one batched read. */
  readonly databaseReadsPerProof: number;
  /** Stored hashes read per proof: O(log n). */
  readonly nodesPerProof: number;
  /** Proofs checked against the tree's root (a sample, outside the timing). */
  readonly verified: number;
}

function figures(
  count: number,
  milliseconds: number,
  reader: CountingReader,
  verified: number,
): ProofFigures {
  return {
    count,
    perSecond: perSecond(count, milliseconds),
    databaseReadsPerProof: Math.round((reader.reads / count) * 100) / 100,
    nodesPerProof: Math.round((reader.nodes / count) * 100) / 100,
    verified,
  };
}

/** Random inclusion proofs at the full tree size, then a sample verified against the root. */
export async function benchmarkInclusionProofs(
  database: Database,
  treeSize: number,
  count: number,
  verifySample: number,
): Promise<ProofFigures> {
  const reader = new CountingReader(new SqlTreeReader(database));
  const random = seededRandom(9162);
  const indices = Array.from({ length: count }, () => random(treeSize));
  const start = performance.now();
  const proofs = await concurrently(indices, (index) => inclusionProof(index, treeSize, reader));
  const elapsed = performance.now() - start;
  const root = await treeRootHash(treeSize, new SqlTreeReader(database));
  const sample = Math.min(verifySample, count);
  for (let i = 0; i < sample; i++) {
    const entry = await readEntry(database, BigInt(indices[i]!));
    const leaf = await leafHash(new TextEncoder().encode(entry!.leafData));
    await verifyInclusion(leaf, indices[i]!, treeSize, proofs[i]!, root);
  }
  return figures(count, elapsed, reader, sample);
}

/** Random consistency proofs from an earlier size to the full size, a sample verified. */
export async function benchmarkConsistencyProofs(
  database: Database,
  treeSize: number,
  count: number,
  verifySample: number,
): Promise<ProofFigures> {
  const reader = new CountingReader(new SqlTreeReader(database));
  const random = seededRandom(6962);
  const sizes = Array.from({ length: count }, () => 1 + random(treeSize - 1));
  const start = performance.now();
  const proofs = await concurrently(sizes, (size) => consistencyProof(size, treeSize, reader));
  const elapsed = performance.now() - start;
  const plain = new SqlTreeReader(database);
  const root = await treeRootHash(treeSize, plain);
  const sample = Math.min(verifySample, count);
  for (let i = 0; i < sample; i++) {
    await verifyConsistency(sizes[i]!, treeSize, await treeRootHash(sizes[i]!, plain), root, proofs[i]!);
  }
  return figures(count, elapsed, reader, sample);
}
