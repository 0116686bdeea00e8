import { createHash } from 'node:crypto';
import { canonicalize, isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { base64Encode } from '../bytes.ts';
import { generateNoteKey } from '../note/note-key.ts';
import { type ProofFixture, proofFixture } from '../tlog-proof/fixture.test-helper.ts';
import { leafDataOf, messagesHash } from './leaf.ts';
import { formatReceipt, parseReceipt, type Receipt } from './receipt.ts';
import { verifyReceipt } from './verify.ts';

const transactions = Array.from({ length: 5 }, (_, i) => ({
  transactionId: `pay-${i}`,
  messages: [`eyJhbGciOiJFUzI1NiJ9.eyJtIjoi${i}In0.c2ln`, `eyJhbGciOiJFUzI1NiJ9.eyJjIjoi${i}In0.c2ln`],
  entry: {
    kind: 'payment.completed',
    metadata: { amount: `${1250 + i}`, currency: 'EUR' },
    submitter: 'gateway',
  },
}));

let fixture: ProofFixture;
let receipts: string[];

const policy = () => ({
  logVerifierKey: fixture.logKey.verifierKey,
  witnessVerifierKeys: fixture.witnessKeys.map((key) => key.verifierKey),
  witnessesRequired: 2,
});

async function codeOf(run: Promise<unknown>): Promise<string> {
  try {
    await run;
    return 'VERIFIED';
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

const edit = (text: string, change: (receipt: Record<string, unknown>) => void): string => {
  const value = JSON.parse(text) as Record<string, unknown>;
  change(value);
  return JSON.stringify(value);
};

beforeAll(async () => {
  const leafData = await Promise.all(
    transactions.map(async ({ transactionId, messages, entry }) =>
      leafDataOf({ messageHash: await messagesHash(messages), transactionId, ...entry }),
    ),
  );
  fixture = await proofFixture(transactions.length, leafData);
  const note = await fixture.checkpointNote();
  receipts = await Promise.all(
    transactions.map(async (transaction, index) =>
      formatReceipt({
        ...transaction,
        proof: await fixture.proofText(index, note),
        logKey: fixture.logKey.verifierKey,
        witnessKeys: fixture.witnessKeys.map((key) => key.verifierKey),
      }),
    ),
  );
});

describe('log entry leaf data', () => {
  it('is the RFC 8785 JSON of the entry with the SHA-256 of the canonical message array (known answer)', async () => {
    const messages = ['a.b.c', 'd.e.f'];
    const expected = createHash('sha256').update('["a.b.c","d.e.f"]').digest();
    expect(Buffer.from(await messagesHash(messages)).equals(expected)).toBe(true);
    const data = leafDataOf({
      messageHash: new Uint8Array(32),
      kind: 'payment.completed',
      transactionId: 'pay-1',
      metadata: { currency: 'EUR', amount: '1250' },
      submitter: 'gateway',
    });
    expect(data).toBe(
      '{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","kind":"payment.completed",' +
        '"metadata":{"amount":"1250","currency":"EUR"},"submitter":"gateway","transactionId":"pay-1"}',
    );
  });
});

describe('leafDataOf', () => {
  it('equals the RFC 8785 form of the whole entry object, for any fields and metadata', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        text,
        text,
        text,
        fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
        (messageHash, kind, transactionId, submitter, metadata) => {
          const json = JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
          const expected = canonicalize({
            hash: base64Encode(messageHash),
            kind,
            metadata: json,
            submitter,
            transactionId,
          });
          expect(leafDataOf({ messageHash, kind, transactionId, metadata: json, submitter })).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('receipts', () => {
  it('verify offline from the messages they hold, with the given keys only', async () => {
    for (const [index, text] of receipts.entries()) {
      const verified = await verifyReceipt(text, policy());
      expect(verified.proof.index).toBe(BigInt(index));
      expect(verified.receipt.transactionId).toBe(`pay-${index}`);
      expect(JSON.parse(verified.leafData)).toMatchObject({
        transactionId: `pay-${index}`,
        submitter: 'gateway',
      });
    }
    expect(parseReceipt(receipts[0]!).messages).toEqual(transactions[0]!.messages);
  });

  it('fail when a message, the order, a field of the entry or the transaction changes', async () => {
    const cases = [
      edit(receipts[1]!, (r) => {
        (r.messages as string[])[0] = 'eyJhbGciOiJFUzI1NiJ9.eyJtIjoiOSJ9.c2ln';
      }),
      edit(receipts[1]!, (r) => {
        (r.messages as string[]).reverse();
      }),
      edit(receipts[1]!, (r) => {
        (r.messages as string[]).pop();
      }),
      edit(receipts[1]!, (r) => {
        (r.entry as { metadata: Record<string, string> }).metadata.amount = '999999';
      }),
      edit(receipts[1]!, (r) => {
        (r.entry as { kind: string }).kind = 'payment.refunded';
      }),
      edit(receipts[1]!, (r) => {
        (r.entry as { submitter: string }).submitter = 'bank';
      }),
      edit(receipts[1]!, (r) => {
        r.transactionId = 'pay-2';
      }),
      edit(receipts[1]!, (r) => {
        r.proof = JSON.parse(receipts[2]!).proof;
      }),
    ];
    for (const text of cases) expect(await codeOf(verifyReceipt(text, policy()))).toBe('PROOF_INVALID');
  });

  it('never take trust from the keys they name', async () => {
    const forger = await generateNoteKey(fixture.logKey.verifierKey.split('+')[0]!);
    const named = edit(receipts[0]!, (r) => {
      r.logKey = forger.verifierKey;
      r.witnessKeys = [];
    });
    expect(await codeOf(verifyReceipt(named, policy()))).toBe('VERIFIED');
    const fromFile = { ...policy(), logVerifierKey: forger.verifierKey };
    expect(await codeOf(verifyReceipt(receipts[0]!, fromFile))).toBe('NOTE_KEY_UNKNOWN');
  });

  it('reject malformed files with RECEIPT_INVALID', async () => {
    const cases = [
      'not json',
      '[]',
      edit(receipts[0]!, (r) => {
        r.version = 'mpay-receipt/v2';
      }),
      edit(receipts[0]!, (r) => {
        r.extra = 1;
      }),
      edit(receipts[0]!, (r) => {
        r.messages = [];
      }),
      edit(receipts[0]!, (r) => {
        r.messages = [1];
      }),
      edit(receipts[0]!, (r) => {
        r.messages = Array.from({ length: 33 }, () => 'a.b.c');
      }),
      edit(receipts[0]!, (r) => {
        r.entry = { kind: 'Payment', metadata: {}, submitter: 'gateway' };
      }),
      edit(receipts[0]!, (r) => {
        r.entry = { kind: 'payment', metadata: [], submitter: 'gateway' };
      }),
      edit(receipts[0]!, (r) => {
        r.entry = { kind: 'payment', metadata: {}, submitter: 'gateway', more: 1 };
      }),
      edit(receipts[0]!, (r) => {
        r.transactionId = 'has space';
      }),
      edit(receipts[0]!, (r) => {
        r.witnessKeys = 'key';
      }),
      edit(receipts[0]!, (r) => {
        delete r.proof;
      }),
      ' '.repeat(4 * 1024 * 1024 + 1),
    ];
    for (const text of cases)
      expect(await codeOf(verifyReceipt(text, policy())), text.slice(0, 80)).toBe('RECEIPT_INVALID');
    const receipt = parseReceipt(receipts[0]!) as Receipt;
    expect(() => formatReceipt({ ...receipt, messages: [] })).toThrow(
      expect.objectContaining({ code: 'RECEIPT_INVALID' }),
    );
  });
});
