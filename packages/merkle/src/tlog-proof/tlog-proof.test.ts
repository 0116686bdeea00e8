import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { base64Encode } from '../bytes.ts';
import { openCosignedCheckpoint } from '../checkpoint/cosigned.ts';
import { formatCheckpoint } from '../checkpoint/format.ts';
import { generateNoteKey } from '../note/note-key.ts';
import { signNote } from '../note/sign.ts';
import { origin, type ProofFixture, proofFixture } from './fixture.test-helper.ts';
import { formatTlogProof } from './format.ts';
import { parseTlogProof } from './parse.ts';
import { type TlogProofPolicy, verifyTlogProof } from './verify.ts';

const size = 13;
let fixture: ProofFixture;
let note: string;

const policy = (index: number, overrides: Partial<TlogProofPolicy> = {}): TlogProofPolicy =>
  ({
    logVerifierKey: fixture.logKey.verifierKey,
    witnessVerifierKeys: fixture.witnessKeys.map((key) => key.verifierKey),
    witnessesRequired: 2,
    leafData: fixture.leafData[index]!,
    ...overrides,
  }) as TlogProofPolicy;

async function codeOf(run: Promise<unknown>): Promise<string> {
  try {
    await run;
    return 'VERIFIED';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  fixture = await proofFixture(size);
  note = await fixture.checkpointNote();
});

describe('c2sp.org/tlog-proof format', () => {
  it('writes the spec layout and reads back what it wrote, for any index, proof and extra', async () => {
    const text = await fixture.proofText(5, note, new Uint8Array([1, 2, 3]));
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual(['c2sp.org/tlog-proof@v1', 'extra AQID', 'index 5']);
    expect(text).toContain(`\n\n${note}`);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 64 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
        (index, proof, extra) => {
          const parsed = parseTlogProof(formatTlogProof({ index, proof, checkpoint: note, extra }));
          expect(parsed).toEqual({ index, proof, checkpoint: note, extra });
        },
      ),
    );
  });

  it('refuses to write an out-of-range index, a bad hash, too many hashes or a checkpoint without newline', () => {
    const proof = [new Uint8Array(32)];
    const bad = [
      { index: -1, proof, checkpoint: note },
      { index: 1n << 64n, proof, checkpoint: note },
      { index: 0, proof: [new Uint8Array(31)], checkpoint: note },
      { index: 0, proof: Array.from({ length: 65 }, () => new Uint8Array(32)), checkpoint: note },
      { index: 0, proof, checkpoint: note.slice(0, -1) },
      { index: 0, proof, checkpoint: note, extra: new Uint8Array(0) },
      { index: 0, proof, checkpoint: note, extra: new Uint8Array(4097) },
    ];
    for (const fields of bad) {
      expect(() => formatTlogProof(fields)).toThrow(expect.objectContaining({ code: 'TLOG_PROOF_INVALID' }));
    }
  });

  it('rejects malformed proof texts with TLOG_PROOF_INVALID', async () => {
    const good = await fixture.proofText(6, note);
    const hash = base64Encode(new Uint8Array(32));
    const cases = [
      good.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2'),
      good.replace('index 6', 'index 06'),
      good.replace('index 6', 'index  6'),
      good.replace('index 6', 'index -6'),
      good.replace('index 6', 'index 18446744073709551616'),
      good.replace('index 6\n', ''),
      good.replace('index 6\n', 'index 6\nextra AQID\n'),
      good.replace('c2sp.org/tlog-proof@v1\n', 'c2sp.org/tlog-proof@v1\nextra AQID\nextra AQID\n'),
      good.replace('c2sp.org/tlog-proof@v1\n', 'c2sp.org/tlog-proof@v1\nextra AQI\n'),
      good.replace('index 6\n', `index 6\n${hash.slice(0, -2)}\n`),
      good.replace('index 6\n', `index 6\n${hash} \n`),
      good.replace('index 6\n', `index 6\n${'A'.repeat(43)}B=\n`),
      good.replace('index 6\n', `index 6\n${`${hash}\n`.repeat(65)}`),
      good.replaceAll('\n', '\r\n'),
      good.slice(0, good.indexOf('\n\n')),
      good.slice(0, good.indexOf('\n\n') + 2),
      `\n${good}`,
    ];
    for (const text of cases) {
      expect(await codeOf(verifyTlogProof(text, policy(6))), JSON.stringify(text.slice(0, 120))).toBe(
        'TLOG_PROOF_INVALID',
      );
    }
  });
});

describe('verifyTlogProof', () => {
  it('verifies every leaf of the tree with the log key and a quorum of witnesses', async () => {
    for (let index = 0; index < size; index++) {
      const verified = await verifyTlogProof(await fixture.proofText(index, note), policy(index));
      expect(verified.index).toBe(BigInt(index));
      expect(verified.checkpoint.treeSize).toBe(BigInt(size));
      expect(verified.witnesses.map((witness) => [witness.name, witness.timestamp])).toEqual([
        ['witness.one.example', 1_760_000_000n],
        ['witness.two.example', 1_760_000_000n],
      ]);
    }
    const bytes = new TextEncoder().encode(await fixture.proofText(3, note));
    const leafHash = (await verifyTlogProof(bytes, policy(3))).leafHash;
    await expect(
      verifyTlogProof(bytes, { ...policy(3), leafData: undefined, leafHash } as TlogProofPolicy),
    ).resolves.toMatchObject({ index: 3n });
  });

  it('rejects truncated, padded, wrong-index, wrong-size and wrong-leaf proofs with PROOF_INVALID', async () => {
    const good = await fixture.proofText(6, note);
    const [head, checkpoint] = [good.slice(0, good.indexOf('\n\n')), good.slice(good.indexOf('\n\n'))];
    const hashLines = head.split('\n').slice(2);
    const padded = `${head}\n${base64Encode(new Uint8Array(32))}${checkpoint}`;
    const truncated = `${head.slice(0, head.lastIndexOf('\n'))}${checkpoint}`;
    expect(hashLines.length).toBeGreaterThan(1);
    const cases: Array<[string, TlogProofPolicy]> = [
      [truncated, policy(6)],
      [padded, policy(6)],
      [good.replace('index 6', 'index 7'), policy(6)],
      [good.replace('index 6', 'index 7'), policy(7)],
      [good.replace('index 6', 'index 13'), policy(6)],
      [good, policy(5)],
      [good.replace(hashLines[0]!, hashLines[1]!), policy(6)],
    ];
    for (const [text, check] of cases)
      expect(await codeOf(verifyTlogProof(text, check))).toBe('PROOF_INVALID');
    // The same proof under a properly signed checkpoint of another size.
    await fixture.tree.append([(await fixture.tree.getHashes([{ level: 0, index: 0n }]))[0]!]);
    const bigger = await fixture.checkpointNote();
    expect(await codeOf(verifyTlogProof(`${head}\n\n${bigger}`, policy(6)))).toBe('PROOF_INVALID');
    expect(await codeOf(verifyTlogProof(await fixture.proofText(6, bigger), policy(6)))).toBe('VERIFIED');
    fixture = await proofFixture(size);
    note = await fixture.checkpointNote();
  });

  it('does not verify again the signatures of a note it opened itself under the same keys, and checks the rest', async () => {
    const text = await fixture.proofText(4, note);
    const opened = await openCosignedCheckpoint(note, policy(4));
    const verify = vi.spyOn(globalThis.crypto.subtle, 'verify');
    try {
      const signaturesChecked = async (run: Promise<unknown>) => {
        verify.mockClear();
        const code = await codeOf(run);
        return { code, signaturesChecked: verify.mock.calls.length };
      };
      // The note it opened, the same keys and quorum: no signature checked again.
      expect(await signaturesChecked(verifyTlogProof(text, policy(4), opened))).toEqual({
        code: 'VERIFIED',
        signaturesChecked: 0,
      });
      expect(await signaturesChecked(verifyTlogProof(text, policy(4)))).toEqual({
        code: 'VERIFIED',
        signaturesChecked: 3,
      });
      // The leaf and the path are still checked against it.
      expect(await codeOf(verifyTlogProof(text, policy(5), opened))).toBe('PROOF_INVALID');
      expect(await codeOf(verifyTlogProof(text.replace('index 4', 'index 5'), policy(4), opened))).toBe(
        'PROOF_INVALID',
      );
      // Other keys than it was opened with: opened again, and refused.
      const stranger = await generateNoteKey(origin);
      expect(
        await codeOf(verifyTlogProof(text, policy(4, { logVerifierKey: stranger.verifierKey }), opened)),
      ).toBe('NOTE_KEY_UNKNOWN');
      // An object that only looks like it (not what openCosignedCheckpoint returned): opened again.
      const lookalike = { ...opened, checkpoint: { ...opened.checkpoint } };
      expect(await signaturesChecked(verifyTlogProof(text, policy(4), lookalike))).toEqual({
        code: 'VERIFIED',
        signaturesChecked: 3,
      });
      // Another checkpoint's opening: this proof's note is opened here.
      await fixture.tree.append([(await fixture.tree.getHashes([{ level: 0, index: 0n }]))[0]!]);
      const other = await openCosignedCheckpoint(await fixture.checkpointNote(), policy(4));
      expect(await signaturesChecked(verifyTlogProof(text, policy(4), other))).toEqual({
        code: 'VERIFIED',
        signaturesChecked: 3,
      });
    } finally {
      verify.mockRestore();
      fixture = await proofFixture(size);
      note = await fixture.checkpointNote();
    }
  });

  it('rejects checkpoints with a wrong signature, an unknown key, extra lines or no log signature', async () => {
    const good = await fixture.proofText(2, note);
    const [head] = good.split('\n\n');
    const body = note.slice(0, note.indexOf('\n\n') + 1);
    const signatures = note.slice(body.length + 1);
    const [logLine, firstWitness, secondWitness] = signatures.split('\n');
    const stranger = await generateNoteKey(origin);
    const strangerSigned = await signNote(body, [stranger.signerKey]);
    const extended = await fixture.checkpointNote({ extensions: ['mpay-extension'] });
    const flip = (line: string) => `${line.slice(0, -5)}${line.at(-5) === 'A' ? 'B' : 'A'}${line.slice(-4)}`;
    const cases: Array<[string, string]> = [
      [`${body}\n${flip(logLine!)}\n${firstWitness}\n${secondWitness}\n`, 'NOTE_SIGNATURE_INVALID'],
      [`${body}\n${logLine}\n${flip(firstWitness!)}\n${secondWitness}\n`, 'NOTE_SIGNATURE_INVALID'],
      [`${strangerSigned}${firstWitness}\n${secondWitness}\n`, 'NOTE_KEY_UNKNOWN'],
      [`${body}\n${firstWitness}\n${secondWitness}\n`, 'NOTE_KEY_UNKNOWN'],
      [extended, 'CHECKPOINT_INVALID'],
      [note.replace('\n\n', '\nextra line\n\n'), 'NOTE_SIGNATURE_INVALID'],
      [`${note}trailing line\n`, 'NOTE_INVALID'],
      [`${note}\n`, 'NOTE_INVALID'],
      [note.replace(`\u2014 ${origin} `, `\u2014 ${origin}  `), 'NOTE_INVALID'],
      [note.replace('\u2014 ', '- '), 'NOTE_INVALID'],
      [`${note}${`${firstWitness}\n`.repeat(99)}`, 'NOTE_TOO_MANY_SIGNATURES'],
      [`${body}\n${logLine}\n${firstWitness}\n${firstWitness}\n`, 'WITNESS_QUORUM_NOT_MET'],
      [`${body}\n${logLine}\n${firstWitness}\n`, 'WITNESS_QUORUM_NOT_MET'],
    ];
    for (const [checkpoint, code] of cases) {
      expect(await codeOf(verifyTlogProof(`${head}\n\n${checkpoint}`, policy(2))), code).toBe(code);
    }
  });

  it('counts only cosignatures by known witnesses, and checks the policy itself', async () => {
    const text = await fixture.proofText(1, await fixture.checkpointNote({ witnesses: [0, 2] }));
    const [one, two, three] = fixture.witnessKeys.map((key) => key.verifierKey);
    const keys = (witnessVerifierKeys: string[], witnessesRequired: number) =>
      policy(1, { witnessVerifierKeys, witnessesRequired });
    expect(await codeOf(verifyTlogProof(text, keys([one!, two!, three!], 2)))).toBe('VERIFIED');
    expect(await codeOf(verifyTlogProof(text, keys([one!, two!], 2)))).toBe('WITNESS_QUORUM_NOT_MET');
    expect(await codeOf(verifyTlogProof(text, keys([one!, two!], 1)))).toBe('VERIFIED');
    expect(await codeOf(verifyTlogProof(text, keys([two!], 1)))).toBe('WITNESS_QUORUM_NOT_MET');
    expect(await codeOf(verifyTlogProof(text, keys([two!], 0)))).toBe('VERIFIED');
    expect(await codeOf(verifyTlogProof(text, keys([one!], 2)))).toBe('WITNESS_QUORUM_NOT_MET');
    expect(await codeOf(verifyTlogProof(text, keys([one!, one!], 1)))).toBe('CRYPTO_KEY_INVALID');
    expect(await codeOf(verifyTlogProof(text, keys([fixture.logKey.verifierKey], 0)))).toBe(
      'CRYPTO_KEY_INVALID',
    );
    expect(await codeOf(verifyTlogProof(text, policy(1, { logVerifierKey: one! })))).toBe(
      'CRYPTO_KEY_INVALID',
    );
    expect(await codeOf(verifyTlogProof(text, keys([one!], -1)))).toBe('REQUEST_INVALID');
    expect(
      await codeOf(verifyTlogProof(text, { ...policy(1), leafHash: new Uint8Array(32) } as TlogProofPolicy)),
    ).toBe('REQUEST_INVALID');
  });

  it('never verifies once any character of the proof text changes', async () => {
    const text = await fixture.proofText(9, note);
    const alphabet = [...'ABab019+/= \n\u2014x'];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(text.length - 1),
        fc.constantFrom(...alphabet),
        async (position, replacement) => {
          fc.pre(text[position] !== replacement);
          const mutated = `${text.slice(0, position)}${replacement}${text.slice(position + 1)}`;
          expect(await codeOf(verifyTlogProof(mutated, policy(9)))).not.toBe('VERIFIED');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('checkpoint body', () => {
  it('is the tlog-checkpoint text the log signs', () => {
    expect(formatCheckpoint({ origin, treeSize: 1, rootHash: new Uint8Array(32) })).toBe(
      `${origin}\n1\n${base64Encode(new Uint8Array(32))}\n`,
    );
  });
});
