import { describe, expect, it } from 'vitest';
import {
  referenceLeafInputs,
  referenceNodeHashes,
  referenceRootHashes,
} from '../tree/reference-tree.test-helper.ts';
import { emptyRootHash, leafHash, nodeHash, sha256 } from './rfc9162.ts';

const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');

describe('RFC 9162 hashing', () => {
  it('SHA-256 matches the FIPS 180-2 "abc" vector', async () => {
    expect(hex(await sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('hashes the empty tree as SHA-256 of the empty string', async () => {
    expect(await emptyRootHash()).toEqual(referenceRootHashes[0]);
  });

  it('prefixes leaves with 0x00 and nodes with 0x01 (reference tree)', async () => {
    const leaves = await Promise.all(referenceLeafInputs.map((input) => leafHash(input)));
    expect(leaves).toEqual(referenceNodeHashes[0]);
    expect(await nodeHash(leaves[0]!, leaves[1]!)).toEqual(referenceNodeHashes[1]![0]);
  });

  it('hashes a view of a larger buffer by its visible bytes only', async () => {
    const backing = new Uint8Array([9, 9, 0x20, 0x21, 9]);
    expect(await leafHash(backing.subarray(2, 4))).toEqual(referenceNodeHashes[0]![3]);
  });
});
