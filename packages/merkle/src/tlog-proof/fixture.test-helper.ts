import { formatCheckpoint } from '../checkpoint/format.ts';
import { generateCosignerKey, parseCosignerKey } from '../cosignature/cosigner-key.ts';
import { leafHash } from '../hash/rfc9162.ts';
import { generateNoteKey } from '../note/note-key.ts';
import { signNote } from '../note/sign.ts';
import { inclusionProof } from '../proof/inclusion/generate.ts';
import { MemoryTree } from '../tree/memory-tree.ts';
import { formatTlogProof } from './format.ts';

export const origin = 'log.mpay.example/transactions';

export interface ProofFixture {
  readonly logKey: { signerKey: string; verifierKey: string };
  readonly witnessKeys: ReadonlyArray<{ signerKey: string; verifierKey: string }>;
  readonly tree: MemoryTree;
  readonly leafData: readonly string[];
  /** Signs the tree head at its current size by the log, then cosigns it by `witnesses` (indices). */
  checkpointNote(options?: {
    witnesses?: readonly number[];
    extensions?: readonly string[];
  }): Promise<string>;
  /** The tlog-proof of leaf `index` under a checkpoint note of the current size. */
  proofText(index: number, note: string, extra?: Uint8Array): Promise<string>;
}

export function leafDataFor(count: number, prefix = 'entry'): string[] {
  return Array.from({ length: count }, (_, i) => `{"${prefix}":${i}}`);
}

/** A log of `size` leaves (or of the given leaf data) signed by a fresh log key, and three fresh witnesses. */
export async function proofFixture(size: number, data?: readonly string[]): Promise<ProofFixture> {
  const logKey = await generateNoteKey(origin);
  const witnessKeys = await Promise.all(
    ['witness.one.example', 'witness.two.example', 'witness.three.example'].map(generateCosignerKey),
  );
  const cosigners = await Promise.all(
    witnessKeys.map((key) => parseCosignerKey(key.signerKey, () => new Date(1_760_000_000_000))),
  );
  const leafData = data ?? leafDataFor(size);
  const tree = new MemoryTree();
  await tree.append(await Promise.all(leafData.map((data) => leafHash(new TextEncoder().encode(data)))));
  const checkpointNote = async ({ witnesses = [0, 1], extensions = [] as readonly string[] } = {}) => {
    const body = formatCheckpoint({
      origin,
      treeSize: tree.treeSize,
      rootHash: await tree.rootHash(),
      extensions,
    });
    const signed = await signNote(body, [logKey.signerKey]);
    if (witnesses.length === 0) return signed;
    const cosigned = await signNote(
      body,
      witnesses.map((i) => cosigners[i]!),
    );
    return `${signed}${cosigned.slice(body.length + 1)}`;
  };
  const proofText = async (index: number, note: string, extra?: Uint8Array) =>
    formatTlogProof({
      index,
      proof: await inclusionProof(index, tree.treeSize, tree),
      checkpoint: note,
      extra,
    });
  return { logKey, witnessKeys, tree, leafData, checkpointNote, proofText };
}
