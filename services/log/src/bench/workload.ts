import { createHash } from 'node:crypto';
import type { EntrySubmission } from '../store/entries.ts';

/** Synthetic submissions `[first, first + count)`: distinct hashes and transaction ids, realistic metadata. */
export function syntheticSubmissions(first: number, count: number, prefix = 'bench'): EntrySubmission[] {
  return Array.from({ length: count }, (_, offset) => {
    const i = first + offset;
    return {
      messageHash: new Uint8Array(createHash('sha256').update(`${prefix} message ${i}`).digest()),
      kind: 'payment.completed',
      transactionId: `${prefix}-${i}`,
      metadata: `{"amount":"${1000 + (i % 9000)}","currency":"EUR"}`,
    };
  });
}

/** A seeded xorshift generator, so two runs ask for the same proofs. */
export function seededRandom(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

export function perSecond(count: number, milliseconds: number): number {
  return milliseconds <= 0 ? 0 : Math.round((count * 1000) / milliseconds);
}
