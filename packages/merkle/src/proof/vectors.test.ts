/**
 * RFC 9162 proofs from github.com/transparency-dev/merkle testdata (Apache-2.0),
 * read from test/vectors/merkle/testdata. Every file must give its expected
 * result; a file this test cannot interpret fails the run instead of being skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { base64Decode } from '../bytes.ts';
import { verifyConsistency } from './consistency/verify.ts';
import { verifyInclusion } from './inclusion/verify.ts';

const testdata = new URL('../../../../test/vectors/merkle/testdata', import.meta.url).pathname;
const expectedFileCount = 196;

function listJson(directory: string): string[] {
  return readdirSync(directory)
    .flatMap((name) => {
      const path = join(directory, name);
      return statSync(path).isDirectory() ? listJson(path) : [path];
    })
    .sort();
}

type Vector = Record<string, unknown>;

/** Sizes go up to 2^64 - 1, beyond JSON numbers: read every integer as a bigint. */
function readVector(path: string): Vector {
  const text = readFileSync(path, 'utf8').replace(/": (\d+)/g, '": "#$1"');
  return JSON.parse(text, (_key, value: unknown) =>
    typeof value === 'string' && /^#\d+$/.test(value) ? BigInt(value.slice(1)) : value,
  ) as Vector;
}

/** Like Go's base64.StdEncoding for these files: every hash in them is canonical or empty. */
function bytes(value: unknown): Uint8Array {
  if (typeof value !== 'string') throw new Error(`not a base64 string: ${String(value)}`);
  const decoded = base64Decode(value);
  if (decoded === undefined) throw new Error(`bad base64 in vector: ${value}`);
  return decoded;
}

function proofOf(value: unknown): Uint8Array[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new Error('proof is neither null nor an array');
  return value.map(bytes);
}

function size(value: unknown): bigint {
  if (typeof value !== 'bigint') throw new Error(`not an integer: ${String(value)}`);
  return value;
}

async function outcome(run: () => Promise<void>): Promise<'ok' | 'error'> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    if (!isMpayError(error, 'PROOF_INVALID')) throw error;
    return 'error';
  }
}

function runVector(kind: string, v: Vector): Promise<void> {
  if (kind === 'inclusion') {
    return verifyInclusion(
      bytes(v.leafHash),
      size(v.leafIdx),
      size(v.treeSize),
      proofOf(v.proof),
      bytes(v.root),
    );
  }
  if (kind === 'consistency') {
    return verifyConsistency(size(v.size1), size(v.size2), bytes(v.root1), bytes(v.root2), proofOf(v.proof));
  }
  throw new Error(`unknown vector kind ${kind}`);
}

describe('transparency-dev/merkle proof vectors', () => {
  const files = listJson(testdata);

  it(`finds all ${expectedFileCount} files`, () => {
    expect(files).toHaveLength(expectedFileCount);
  });

  it.each(files.map((path) => [relative(testdata, path), path]))('%s', async (_name, path) => {
    const vector = readVector(path);
    const kind = relative(testdata, path).split('/')[0] ?? '';
    expect(typeof vector.wantErr).toBe('boolean');
    const result = await outcome(() => runVector(kind, vector));
    expect(result).toBe(vector.wantErr === true ? 'error' : 'ok');
  });
});
