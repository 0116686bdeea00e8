import {
  formatReceipt,
  leafDataOf,
  messagesHash,
  openCheckpoint,
  openCosignedCheckpoint,
  openNote,
  parseCheckpoint,
  parseCosignerKey,
  parseReceipt,
  parseTlogProof,
  parseVerifierKey,
  signNote,
  verifyReceipt,
  verifyTlogProof,
} from '@mpay/merkle';
import fc from 'fast-check';
import { origin, proofFixture } from '../../packages/merkle/src/tlog-proof/fixture.test-helper.ts';
import { type Campaign, campaign, runEach } from '../harness.ts';
import { type Json, jsonInputs, mutatedText, textInputs } from '../mutate.ts';
import { canonicalText } from './jws.ts';

const noteTokens = [
  '\n',
  '\n\n',
  '\u2014 ',
  ' ',
  '+',
  '=',
  'log.mpay.example/transactions',
  '\u2014 grease.example AAAA\n',
];
const noteOptions = {
  tokens: noteTokens,
  nestPairs: [
    ['\n', '\n'],
    ['\u2014 a ', '\n'],
  ] as const,
};

/** A log of four entries, its checkpoint signed by the log and cosigned by two of three witnesses. */
async function logFixture() {
  const fixture = await proofFixture(4);
  const note = await fixture.checkpointNote();
  const policy = {
    logVerifierKey: fixture.logKey.verifierKey,
    witnessVerifierKeys: fixture.witnessKeys.map((key) => key.verifierKey),
    witnessesRequired: 2,
  };
  return { fixture, note, policy };
}

/** A signed note's text (everything before the blank line and the signature lines). */
const bodyOf = (note: string) => note.slice(0, note.indexOf('\n\n') + 1);

type NoteInput =
  | { readonly kind: 'text'; readonly note: string }
  | { readonly kind: 'signed'; readonly body: string };

function noteInputs(notes: readonly string[]): fc.Arbitrary<NoteInput> {
  return fc.oneof(
    textInputs(notes, noteOptions).map((note) => ({ kind: 'text' as const, note })),
    mutatedText(notes.map(bodyOf), noteOptions).map((body) => ({ kind: 'signed' as const, body })),
  );
}

/** The note of a case: as given, or its mutated text signed now by the log key (so the text parser is reached). */
async function noteOf(input: NoteInput, signerKey: string): Promise<string> {
  if (input.kind === 'text') return input.note;
  try {
    return await signNote(input.body, [signerKey]);
  } catch {
    // signNote refuses a text that is no note (not ending in one newline...): send it unsigned.
    return input.body;
  }
}

const signedNote = campaign(
  'signed-note',
  'openNote (C2SP signed-note: text, signature lines, key hashes, Ed25519)',
  async () => {
    const { fixture, note } = await logFixture();
    const verifiers = [fixture.logKey.verifierKey, ...fixture.witnessKeys.map((key) => key.verifierKey)];
    return {
      arbitrary: noteInputs([note]),
      run: async (input: NoteInput) => openNote(await noteOf(input, fixture.logKey.signerKey), verifiers),
    };
  },
);

const checkpoint = campaign(
  'checkpoint',
  'parseCheckpoint, openCheckpoint and openCosignedCheckpoint (C2SP checkpoint and witness cosignatures)',
  async () => {
    const { fixture, note, policy } = await logFixture();
    const extended = await fixture.checkpointNote({ witnesses: [0, 1, 2], extensions: ['extension line'] });
    const notes = [note, extended];
    return {
      arbitrary: fc.oneof(
        noteInputs(notes),
        textInputs(notes.map(bodyOf), noteOptions).map((body) => ({ kind: 'body' as const, body })),
      ),
      run: async (input: NoteInput | { kind: 'body'; body: string }) => {
        if (input.kind === 'body') return parseCheckpoint(input.body);
        const text = await noteOf(input, fixture.logKey.signerKey);
        await runEach([
          () => openCheckpoint(text, origin, [policy.logVerifierKey]),
          () => openCosignedCheckpoint(text, policy),
        ]);
      },
    };
  },
);

const tlogProof = campaign(
  'tlog-proof',
  'parseTlogProof and verifyTlogProof (C2SP tlog-proof: index, proof hashes, extra data, the cosigned checkpoint)',
  async () => {
    const { fixture, note, policy } = await logFixture();
    const seeds = await Promise.all(
      [0, 1, 3].map((index) =>
        fixture.proofText(index, note, index === 1 ? new Uint8Array([1, 2, 3]) : undefined),
      ),
    );
    const tokens = [
      'c2sp.org/tlog-proof@v1',
      'index ',
      'extra ',
      '\n',
      '18446744073709551616',
      ...noteTokens,
    ];
    return {
      arbitrary: fc.record({ text: textInputs(seeds, { tokens }), leaf: fc.nat({ max: 3 }) }),
      run: async ({ text, leaf }: { text: string; leaf: number }) => {
        const leafData = new TextEncoder().encode(fixture.leafData[leaf] ?? '');
        await runEach([() => parseTlogProof(text), () => verifyTlogProof(text, { ...policy, leafData })]);
      },
    };
  },
);

const receipt = campaign(
  'mpay-receipt',
  'parseReceipt and verifyReceipt (the JSON receipt, its leaf data, its tlog-proof)',
  async () => {
    const transactions = [
      {
        transactionId: 'pay-1',
        messages: ['a.b.c', 'd.e.f'],
        entry: {
          kind: 'payment.completed',
          metadata: { currency: 'EUR', amount: '1250' },
          submitter: 'gateway',
        },
      },
      {
        transactionId: 'pay-2',
        messages: ['g.h.i'],
        entry: { kind: 'refund.completed', metadata: {}, submitter: 'xbank' },
      },
    ];
    const leafData = await Promise.all(
      transactions.map(async ({ transactionId, messages, entry }) =>
        leafDataOf({ messageHash: await messagesHash(messages), transactionId, ...entry }),
      ),
    );
    const fixture = await proofFixture(transactions.length, leafData);
    const note = await fixture.checkpointNote();
    const receipts = await Promise.all(
      transactions.map(async (transaction, index) =>
        formatReceipt({
          ...transaction,
          proof: await fixture.proofText(index, note),
          logKey: fixture.logKey.verifierKey,
          witnessKeys: fixture.witnessKeys.map((key) => key.verifierKey),
        }),
      ),
    );
    const policy = {
      logVerifierKey: fixture.logKey.verifierKey,
      witnessVerifierKeys: fixture.witnessKeys.map((key) => key.verifierKey),
      witnessesRequired: 2,
    };
    return {
      arbitrary: fc.oneof(
        textInputs(receipts, { tokens: ['mpay-receipt/v1', '\\n', '\\u2014'] }),
        jsonInputs(receipts.map((text) => JSON.parse(text) as Json)).map(canonicalText),
      ),
      run: (text: string) => runEach([() => parseReceipt(text), () => verifyReceipt(text, policy)]),
    };
  },
);

const noteKeys = campaign(
  'note-keys',
  'parseVerifierKey (log and witness keys from configuration and peers) and parseCosignerKey (a witness key file)',
  async () => {
    const { fixture } = await logFixture();
    const seeds = [
      fixture.logKey.verifierKey,
      ...fixture.witnessKeys.flatMap((key) => [key.verifierKey, key.signerKey]),
    ];
    return {
      arbitrary: textInputs(seeds, { tokens: ['+', 'AQ', 'BA', 'PRIVATE+KEY+', '=='] }),
      run: (text: string) => runEach([() => parseVerifierKey(text), () => parseCosignerKey(text)]),
    };
  },
);

export const merkleCampaigns: readonly Campaign[] = [signedNote, checkpoint, tlogProof, receipt, noteKeys];
