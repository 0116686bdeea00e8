import { describe, expect, it } from 'vitest';
import { consistencyProofHashesMax, inclusionProofHashesMax, treeSizeMax } from '../limits.ts';
import { consistencyProofLength, inclusionProofLength, inclusionProofNodes } from './proof-nodes.ts';

describe('proof plans', () => {
  it('stay within the named limits at the largest tree size', () => {
    expect(inclusionProofLength(0n, treeSizeMax)).toBe(inclusionProofHashesMax);
    expect(inclusionProofLength(1n << 63n, treeSizeMax)).toBe(inclusionProofHashesMax);
    // The last leaf of an odd-sized tree has no sibling at level 0.
    expect(inclusionProofLength(treeSizeMax - 1n, treeSizeMax)).toBe(inclusionProofHashesMax - 1);
    expect(consistencyProofLength((1n << 63n) + 1n, treeSizeMax)).toBe(consistencyProofHashesMax);
    expect(consistencyProofLength(1n << 63n, treeSizeMax)).toBe(1);
  });

  it('read at most 64 + 63 stored nodes for one proof', () => {
    expect(inclusionProofNodes(0n, treeSizeMax).ids.length).toBeLessThanOrEqual(64 + 63);
  });

  it('have no proof hashes for a one-leaf tree', () => {
    expect(inclusionProofLength(0n, 1n)).toBe(0);
  });
});
