import { describe, expect, it } from 'vitest';
import { base64Decode } from '../bytes.ts';
import { leafHash } from '../hash/rfc9162.ts';
import { generateNoteKey } from '../note/note-key.ts';
import { openNote } from '../note/open.ts';
import { signNote } from '../note/sign.ts';
import { consistencyProof } from '../proof/consistency/generate.ts';
import { MemoryTree } from '../tree/memory-tree.ts';
import { verifyCheckpointConsistency } from './consistency.ts';
import { formatCheckpoint } from './format.ts';
import { openCheckpoint } from './open.ts';
import { parseCheckpoint } from './parse.ts';

/**
 * Published checkpoints of the Go checksum database, signed by its well-known
 * key (cmd/go's built-in GOSUMDB key). The first is quoted in
 * github.com/transparency-dev/trillian-tessera internal/parse/parse_test.go
 * (Apache-2.0); the second is a later one quoted in another public project.
 * They verify only if our signed-note parsing and Ed25519 match Go's exactly.
 */
const sumGolangOrgKey = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const sumGolangOrgCheckpoints = [
  {
    note:
      'go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n' +
      '\u2014 sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n',
    treeSize: 31700353n,
  },
  {
    note:
      'go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n' +
      '\u2014 sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n',
    treeSize: 65209736n,
  },
];

const root = base64Decode('qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=')!;

describe('checkpoints (c2sp.org/tlog-checkpoint)', () => {
  it.each(sumGolangOrgCheckpoints)(
    'opens a real sum.golang.org checkpoint of size $treeSize',
    async (vector) => {
      const { checkpoint, note } = await openCheckpoint(vector.note, 'go.sum database tree', [
        sumGolangOrgKey,
      ]);
      expect(checkpoint.treeSize).toBe(vector.treeSize);
      expect(note.verifiedSignatures.map((s) => s.name)).toEqual(['sum.golang.org']);
      expect(formatCheckpoint(checkpoint)).toBe(note.text);
      const tampered = vector.note.replace(`\n${vector.treeSize}\n`, `\n${vector.treeSize + 1n}\n`);
      await expect(openCheckpoint(tampered, 'go.sum database tree', [sumGolangOrgKey])).rejects.toMatchObject(
        {
          code: 'NOTE_SIGNATURE_INVALID',
        },
      );
      await expect(openCheckpoint(vector.note, 'example.com/log', [sumGolangOrgKey])).rejects.toMatchObject({
        code: 'CHECKPOINT_INVALID',
      });
    },
  );

  it('formats and parses origin, size, root and extensions', () => {
    const text = formatCheckpoint({
      origin: 'example.com/log',
      treeSize: 42,
      rootHash: root,
      extensions: ['ext a'],
    });
    expect(text).toBe('example.com/log\n42\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\next a\n');
    expect(parseCheckpoint(text)).toEqual({
      origin: 'example.com/log',
      treeSize: 42n,
      rootHash: root,
      extensions: ['ext a'],
    });
    expect(parseCheckpoint(`o\n18446744073709551615\n${'A'.repeat(43)}=\n`).treeSize).toBe((1n << 64n) - 1n);
    expect(parseCheckpoint(`o\n0\n${'A'.repeat(43)}=\n`).treeSize).toBe(0n);
  });

  it('rejects malformed checkpoint text (including the trillian-tessera parse cases)', () => {
    const hash = 'qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=';
    const bad = [
      `original.example.com\n-42\n${hash}\n`,
      'original.example.com\n42\nthisisnotright\n',
      `\n42\n${hash}\n`, // empty origin: tessera's unsafe parser accepts it, the spec does not
      `42\n${hash}\n`,
      `o\n42\n${hash}`,
      `o\n042\n${hash}\n`,
      `o\n00\n${hash}\n`,
      `o\n+42\n${hash}\n`,
      `o\n4 2\n${hash}\n`,
      `o\n18446744073709551616\n${hash}\n`,
      `o\n42\n${hash.slice(0, -1)}\n`,
      `o\n42\n${'A'.repeat(42)}==\n`,
      `o\n42\n${'A'.repeat(42)}B=\n`, // non-zero unused bits: not canonical
      `o\n42\n${hash}\n\n`,
      `o\n42\n${hash}\n\next\n`,
      `o\n42\n\n${hash}\n`,
      `o\r\n42\n${hash}\n`,
      `o\n42\n${hash}\nbad\u0001ext\n`,
      `o\n42\n${hash}\n${'e\n'.repeat(17)}`,
    ];
    for (const text of bad)
      expect(() => parseCheckpoint(text), JSON.stringify(text)).toThrow(
        expect.objectContaining({ code: 'CHECKPOINT_INVALID' }),
      );
  });

  it('refuses to format what it would not parse', () => {
    const cases = [
      { origin: '', treeSize: 1, rootHash: root },
      { origin: 'a\nb', treeSize: 1, rootHash: root },
      { origin: 'o', treeSize: -1, rootHash: root },
      { origin: 'o', treeSize: 1.5, rootHash: root },
      { origin: 'o', treeSize: 1n << 64n, rootHash: root },
      { origin: 'o', treeSize: 1, rootHash: root.subarray(1) },
      { origin: 'o', treeSize: 1, rootHash: root, extensions: [''] },
    ];
    for (const fields of cases)
      expect(() => formatCheckpoint(fields)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INVALID' }));
  });

  it('signs a checkpoint of our own log and checks that later checkpoints extend it', async () => {
    const origin = 'log.mpay.example/transactions';
    const key = await generateNoteKey(origin);
    const tree = new MemoryTree();
    const entries = Array.from({ length: 11 }, (_, i) => new TextEncoder().encode(`transaction ${i}`));
    const leaves = await Promise.all(entries.map((entry) => leafHash(entry)));
    const checkpointAt = async (treeSize: number) => {
      const rootHash = await tree.append(leaves.slice(Number(tree.treeSize), treeSize));
      const signed = await signNote(formatCheckpoint({ origin, treeSize, rootHash }), [key.signerKey]);
      return (await openCheckpoint(signed, origin, [key.verifierKey])).checkpoint;
    };
    const empty = await checkpointAt(0);
    const old = await checkpointAt(4);
    const next = await checkpointAt(11);
    await verifyCheckpointConsistency(empty, old, []);
    await verifyCheckpointConsistency(old, next, await consistencyProof(4, 11, tree));
    await verifyCheckpointConsistency(next, next, []);
    await expect(verifyCheckpointConsistency(next, old, [])).rejects.toMatchObject({
      code: 'CHECKPOINT_ROLLBACK',
    });
    const fork = { ...next, rootHash: old.rootHash };
    await expect(verifyCheckpointConsistency(next, fork, [])).rejects.toMatchObject({
      code: 'PROOF_INVALID',
    });
    const proof = await consistencyProof(4, 11, tree);
    await expect(verifyCheckpointConsistency(old, fork, proof)).rejects.toMatchObject({
      code: 'PROOF_INVALID',
    });
    const elsewhere = { ...next, origin: 'other.example/log' };
    await expect(verifyCheckpointConsistency(old, elsewhere, proof)).rejects.toMatchObject({
      code: 'CHECKPOINT_INVALID',
    });
    expect((await openNote(await signNote('x\n', [key.signerKey]), [key.verifierKey])).text).toBe('x\n');
  });
});
