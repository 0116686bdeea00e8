// Test-only: reads Wycheproof vectors (C2SP/wycheproof, Apache-2.0) from test/vectors (checked in with their licence).
import { readFileSync } from 'node:fs';
import { isMpayError } from '@mpay/protocol';

const vectors = new URL('../../../../test/vectors/wycheproof/', import.meta.url);

export interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly result: string;
  readonly flags: readonly string[];
  readonly [field: string]: unknown;
}

export interface WycheproofGroup {
  readonly tests: readonly WycheproofTest[];
  readonly [field: string]: unknown;
}

export interface WycheproofFile {
  readonly numberOfTests: number;
  readonly testGroups: readonly WycheproofGroup[];
}

export function loadWycheproof(name: string): WycheproofFile {
  return JSON.parse(readFileSync(new URL(name, vectors), 'utf8')) as WycheproofFile;
}

export function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

export function bytesToBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Outcome of running one case through our code; an error that is not an MpayError fails the test. */
export type Outcome = 'accepted' | 'rejected';

export async function outcomeOf(run: () => Promise<boolean | unknown>): Promise<Outcome> {
  try {
    const result = await run();
    return result === false ? 'rejected' : 'accepted';
  } catch (error) {
    if (isMpayError(error)) return 'rejected';
    throw error;
  }
}

/** Tallies outcomes per Wycheproof result; an unknown result string throws. */
export class Tally {
  readonly counts = { valid: 0, invalid: 0, acceptable: 0, acceptableAccepted: 0 };
  readonly mismatches: string[] = [];

  record(test: WycheproofTest, outcome: Outcome, expectedForValid: Outcome = 'accepted'): void {
    switch (test.result) {
      case 'valid':
        this.counts.valid++;
        if (outcome !== expectedForValid) this.mismatches.push(`tcId ${test.tcId} (valid): ${outcome}`);
        return;
      case 'invalid':
        this.counts.invalid++;
        if (outcome !== 'rejected') this.mismatches.push(`tcId ${test.tcId} (invalid): ${outcome}`);
        return;
      case 'acceptable':
        this.counts.acceptable++;
        if (outcome === 'accepted') this.counts.acceptableAccepted++;
        return;
      default:
        throw new Error(`unknown Wycheproof result ${test.result} in tcId ${test.tcId}`);
    }
  }
}
