import {
  formatCheckpoint,
  formatReceipt,
  formatTlogProof,
  generateCosignerKey,
  generateNoteKey,
  inclusionProof,
  leafDataOf,
  leafHash,
  MemoryTree,
  messagesHash,
  signNote,
} from '@mpay/merkle';
import { beforeAll, describe, expect, it } from 'vitest';
import { runLogCommand } from './index.ts';
import type { LogCommandIo } from './io.ts';

const origin = 'log.mpay.example/transactions';
const transactions = Array.from({ length: 6 }, (_, i) => ({
  transactionId: `pay-${i}`,
  messages: [`eyJhbGciOiJFUzI1NiJ9.eyJtIjoi${i}In0.c2ln`],
  entry: { kind: 'payment.completed', metadata: { amount: `${100 + i}` }, submitter: 'gateway' },
}));

function memoryIo(files: Record<string, string>) {
  const io = {
    out: '',
    err: '',
    stdin: async () => '',
    stdout: (text: string) => {
      io.out += text;
    },
    stderr: (text: string) => {
      io.err += text;
    },
    readFile: async (path: string) => {
      const contents = files[path];
      if (contents === undefined) throw new Error(`ENOENT: ${path}`);
      return contents;
    },
  } satisfies LogCommandIo & { out: string; err: string };
  return io;
}

let files: Record<string, string>;

/** A log of six receipts signed by a log key, cosigned by one of two witnesses; written with the package's public API. */
beforeAll(async () => {
  const logKey = await generateNoteKey(origin);
  const [witness, absent] = await Promise.all([
    generateCosignerKey('witness.one'),
    generateCosignerKey('witness.two'),
  ]);
  const leafData = await Promise.all(
    transactions.map(async (t) =>
      leafDataOf({ messageHash: await messagesHash(t.messages), transactionId: t.transactionId, ...t.entry }),
    ),
  );
  const tree = new MemoryTree();
  await tree.append(await Promise.all(leafData.map((data) => leafHash(new TextEncoder().encode(data)))));
  const body = formatCheckpoint({ origin, treeSize: tree.treeSize, rootHash: await tree.rootHash() });
  const checkpoint = `${await signNote(body, [logKey.signerKey])}${(await signNote(body, [witness.signerKey])).slice(body.length + 1)}`;
  const proofOf = async (index: number) =>
    formatTlogProof({ index, proof: await inclusionProof(index, tree.treeSize, tree), checkpoint });
  const receipt = formatReceipt({ ...transactions[2]!, proof: await proofOf(2) });
  files = {
    'receipt.json': receipt,
    'tampered.json': receipt.replace('"amount": "102"', '"amount": "999"'),
    'broken.json': receipt.replace('"version"', '"verzion"'),
    'entry-4.tlog-proof': await proofOf(4),
    'log.vkey': `${logKey.verifierKey}\n`,
    'other-log.vkey': (await generateNoteKey(origin)).verifierKey,
    'witness.vkey': witness.verifierKey,
    'absent.vkey': absent.verifierKey,
  };
  files.leaf4 = Buffer.from(await leafHash(new TextEncoder().encode(leafData[4]!))).toString('base64');
});

const run = async (...args: string[]) => {
  const io = memoryIo(files);
  const status = await runLogCommand(['verify', ...args], io);
  return { status, out: io.out, err: io.err };
};
const keys = ['--log-key', 'log.vkey', '--witness-key', 'witness.vkey'];

describe('mpay log verify', () => {
  it('exits 0 for a receipt whose messages, proof and cosigned checkpoint verify with the given keys', async () => {
    const answer = await run('receipt.json', ...keys, '--witness-key', 'absent.vkey');
    expect(answer).toMatchObject({ status: 0, err: '' });
    expect(answer.out).toMatch(
      /^verified: transaction pay-2 is entry 2 of log\.mpay\.example\/transactions \(tree size 6\)\n {2}cosigned by witness\.one at /,
    );
  });

  it('exits 0 for a bare tlog-proof of the leaf hash given', async () => {
    expect((await run('entry-4.tlog-proof', ...keys, '--leaf-hash', files.leaf4!)).status).toBe(0);
  });

  it('exits 1 with a stable code for every failure', async () => {
    const cases: Array<[string[], string]> = [
      [['tampered.json', ...keys], 'PROOF_INVALID'],
      [['broken.json', ...keys], 'RECEIPT_INVALID'],
      [['receipt.json', '--log-key', 'other-log.vkey', '--witness-key', 'witness.vkey'], 'NOTE_KEY_UNKNOWN'],
      [['receipt.json', '--log-key', 'log.vkey', '--witness-key', 'absent.vkey'], 'WITNESS_QUORUM_NOT_MET'],
      [
        ['receipt.json', ...keys, '--witness-key', 'absent.vkey', '--witnesses', '2'],
        'WITNESS_QUORUM_NOT_MET',
      ],
      [['receipt.json', '--log-key', 'witness.vkey', '--witness-key', 'witness.vkey'], 'CRYPTO_KEY_INVALID'],
      [['receipt.json', ...keys, '--leaf-hash', files.leaf4!], 'REQUEST_INVALID'],
      [['entry-4.tlog-proof', ...keys], 'REQUEST_INVALID'],
      [['entry-4.tlog-proof', ...keys, '--leaf-hash', Buffer.alloc(32).toString('base64')], 'PROOF_INVALID'],
      [['missing.json', ...keys], 'NOT_FOUND'],
    ];
    for (const [args, code] of cases) {
      const answer = await run(...args);
      expect(answer.status, args.join(' ')).toBe(1);
      expect(answer.err, args.join(' ')).toMatch(new RegExp(`^error ${code}: `));
      expect(answer.out).toBe('');
    }
  });

  it('exits 2 with the usage for a wrong command line', async () => {
    const cases = [
      [],
      ['receipt.json'],
      ['receipt.json', '--log-key', 'log.vkey'],
      ['receipt.json', ...keys, '--witnesses', '2'],
      ['receipt.json', ...keys, '--witnesses', '01'],
      ['receipt.json', ...keys, '--leaf-hash', 'short'],
      ['a', 'b', ...keys],
      ['receipt.json', ...keys, '--log-key', 'log.vkey'],
    ];
    for (const args of cases) expect((await run(...args)).status, args.join(' ')).toBe(2);
  });
});
