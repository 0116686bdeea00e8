import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GeneratedKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import {
  buildReceipt,
  CheckpointFollower,
  type FetchedCheckpoint,
  fetchCheckpoint,
  submitEntry,
  submitMessages,
  waitForInclusion,
} from '@mpay/log-client';
import { generateCosignerKey, parseVerifierKey, verifyReceipt } from '@mpay/merkle';
import { openTestDatabase } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, requestDeadlineMs } from '../../../../test/support/deadlines.ts';
import { type LogStack, startLogStack } from './stack.ts';

const pythonVerifier = fileURLToPath(new URL('../../tools/verify_receipt.py', import.meta.url));
const hasPyca = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;

// The witness on loopback answers long before this on any machine; a loaded one must not make the log
// publish checkpoints without the cosignature these tests expect (the log's limit is 60 s at most).
const limits = { integrationIntervalMs: 50, witnessTimeoutMs: Math.min(requestDeadlineMs, 60_000) };
const messages = (i: number) => [
  `eyJhbGciOiJFUzI1NiJ9.eyJtIjoi${i}In0.c2ln`,
  `eyJhbGciOiJFUzI1NiJ9.eyJjIjoi${i}In0.c2ln`,
];

describe('a log and its witness started together (startLogStack) and the log client', () => {
  let stack: LogStack;
  let submitter: GeneratedKeyPair;
  let dataDir: string;
  const policy = (witnessesRequired = 1) => ({
    logVerifierKey: stack.logVerifierKey,
    witnessVerifierKeys: [stack.witnessVerifierKey],
    witnessesRequired,
  });
  const endpoint = () => ({ url: stack.logUrl, origin: stack.origin });
  const credentials = () => ({ id: 'gateway', key: submitter.privateJwk });
  /** Logs the entry and waits for its receipt, as the gateway does. */
  const logAndProve = async (entry: {
    transactionId: string;
    messages: string[];
    kind: string;
    metadata: Record<string, unknown>;
  }) => {
    const logged = await submitMessages(endpoint(), credentials(), entry);
    const receipt = await buildReceipt(
      stack.logUrl,
      { ...entry, index: logged.index, submitter: 'gateway' },
      policy(),
      { waitMs: backgroundWorkDeadlineMs },
    );
    return { logged, receipt };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpay-log-stack-'));
    submitter = await generateSigningKeyPair();
    stack = await startLogStack({
      dataDir,
      openDatabase: (name) => openTestDatabase(name),
      submitters: [{ id: 'gateway', signingJwk: submitter.publicJwk }],
      limits,
    });
  });
  afterAll(async () => {
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('logs signed messages and returns a receipt that verifies offline with the two public keys', async () => {
    const entry = {
      transactionId: 'pay-1',
      messages: messages(1),
      kind: 'payment.completed',
      metadata: { amount: '1250', currency: 'EUR' },
    };
    const logged = await submitMessages(endpoint(), credentials(), entry);
    expect(logged).toMatchObject({ created: true });
    const again = await submitMessages(endpoint(), credentials(), entry);
    expect(again).toEqual({ ...logged, created: false });
    const receipt = await buildReceipt(
      stack.logUrl,
      { ...entry, index: logged.index, submitter: 'gateway' },
      policy(),
      { waitMs: backgroundWorkDeadlineMs },
    );
    const verified = await verifyReceipt(receipt, policy());
    expect(verified.proof.index).toBe(logged.index);
    expect(verified.proof.witnesses.map((witness) => witness.name)).toEqual(['witness.log.mpay.example']);
    expect(verified.leafData).toBe(logged.leafData);
    const otherWitness = await generateCosignerKey('witness.log.mpay.example');
    await expect(
      verifyReceipt(receipt, { ...policy(), witnessVerifierKeys: [otherWitness.verifierKey] }),
    ).rejects.toMatchObject({ code: 'WITNESS_QUORUM_NOT_MET' });
  });

  it.skipIf(!hasPyca)(
    'a receipt verifies with an independent implementation (Python, pyca/cryptography)',
    async () => {
      const entry = {
        transactionId: 'pay-py',
        messages: messages(7),
        kind: 'payment.completed',
        metadata: { amount: '42', n: 7 },
      };
      const { logged, receipt } = await logAndProve(entry);
      const file = (name: string, text: string) =>
        writeFile(join(dataDir, name), text).then(() => join(dataDir, name));
      const keys = [
        '--log-key',
        await file('log.vkey', stack.logVerifierKey),
        '--witness-key',
        await file('w.vkey', stack.witnessVerifierKey),
      ];
      const run = async (text: string) =>
        spawnSync('python3', [pythonVerifier, await file('receipt.json', text), ...keys], {
          encoding: 'utf8',
        });
      const good = await run(receipt);
      expect(good.stderr).toBe('');
      expect(good.stdout).toMatch(
        new RegExp(`^OK entry ${logged.index} of log\\.mpay\\.example/transactions`),
      );
      for (const bad of [
        receipt.replace('"42"', '"43"'),
        receipt.replace('pay-py', 'pay-px'),
        receipt.replace(/index \d+/, `index ${logged.index + 1n}`),
      ]) {
        expect((await run(bad)).status).toBe(1);
      }
    },
  );

  it('serves every checkpoint cosigned, and the client refuses rollbacks and forks', async () => {
    for (let i = 2; i < 6; i++) {
      await submitMessages(endpoint(), credentials(), {
        transactionId: `pay-${i}`,
        messages: messages(i),
        kind: 'payment.completed',
      });
    }
    const last = await submitMessages(endpoint(), credentials(), {
      transactionId: 'pay-6',
      messages: messages(6),
      kind: 'payment.completed',
    });
    const included = await waitForInclusion(stack.logUrl, last, policy(), {
      waitMs: backgroundWorkDeadlineMs,
    });
    expect(included.verified.index).toBe(last.index);
    const current = await fetchCheckpoint(stack.logUrl, policy());
    expect(current.checkpoint.treeSize).toBeGreaterThan(last.index);
    expect(included.verified.checkpoint.treeSize).toBeLessThanOrEqual(current.checkpoint.treeSize);
    await expect(
      fetchCheckpoint(stack.logUrl, policy(), { previous: included.verified.checkpoint }),
    ).resolves.toBeDefined();
    const ahead = { ...current.checkpoint, treeSize: current.checkpoint.treeSize + 1n };
    await expect(fetchCheckpoint(stack.logUrl, policy(), { previous: ahead })).rejects.toMatchObject({
      code: 'CHECKPOINT_ROLLBACK',
    });
    const otherRoot = { ...current.checkpoint, rootHash: new Uint8Array(32) };
    await expect(fetchCheckpoint(stack.logUrl, policy(), { previous: otherRoot })).rejects.toMatchObject({
      code: 'CHECKPOINT_FORK',
    });
    const smallerOtherRoot = { ...included.verified.checkpoint, treeSize: 3n, rootHash: new Uint8Array(32) };
    await expect(
      fetchCheckpoint(stack.logUrl, policy(), { previous: smallerOtherRoot }),
    ).rejects.toMatchObject({ code: 'CHECKPOINT_FORK' });
  });

  it('a checkpoint follower serves every entry its checkpoint holds without asking the log, and refuses a rollback', async () => {
    const asked: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      asked.push(new URL(String(input)).pathname);
      return realFetch(input, init);
    };
    const follower = new CheckpointFollower(stack.logUrl, policy());
    let held: FetchedCheckpoint | undefined;
    const submit = (i: number) =>
      submitMessages(endpoint(), credentials(), {
        transactionId: `follow-${i}`,
        messages: messages(100 + i),
        kind: 'payment.completed',
      });
    try {
      const first = await submit(1);
      const second = await submit(2);
      const wait = { waitMs: backgroundWorkDeadlineMs, checkpoints: follower };
      await waitForInclusion(stack.logUrl, second, policy(), wait);
      held = follower.held;
      expect(held?.checkpoint.treeSize).toBeGreaterThan(second.index);
      // Both entries under the checkpoint held: proofs only, no checkpoint asked for again.
      asked.length = 0;
      const proofs = [
        await waitForInclusion(stack.logUrl, first, policy(), wait),
        await waitForInclusion(stack.logUrl, second, policy(), wait),
      ];
      expect(asked).toEqual(['/proofs/inclusion', '/proofs/inclusion']);
      // A follower is used only with the keys and quorum it opens checkpoints with.
      await expect(waitForInclusion(stack.logUrl, first, policy(2), wait)).rejects.toThrow(
        'assertion failed: the checkpoint follower opens checkpoints with this policy',
      );
      expect(proofs.map((proof) => proof.verified.checkpoint.treeSize)).toEqual([
        held?.checkpoint.treeSize,
        held?.checkpoint.treeSize,
      ]);
      // An entry past it: a fresh checkpoint, checked to extend the one held, then held instead.
      const third = await submit(3);
      await waitForInclusion(stack.logUrl, third, policy(), wait);
      expect(asked).toContain('/checkpoint');
      expect(follower.held?.checkpoint.treeSize).toBeGreaterThan(third.index);
    } finally {
      globalThis.fetch = realFetch;
    }

    // A log that answers an older checkpoint than the one the follower holds: refused, not used.
    const newest = follower.held?.signedNote ?? '';
    const older = (await fetchCheckpoint(stack.logUrl, policy())).signedNote;
    const notes = [newest, held?.signedNote ?? ''];
    const stale = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(request.url === '/checkpoint' ? (notes.shift() ?? older) : '');
    });
    await new Promise<void>((done) => stale.listen(0, '127.0.0.1', done));
    try {
      const staleUrl = `http://127.0.0.1:${(stale.address() as { port: number }).port}`;
      const fooled = new CheckpointFollower(staleUrl, policy());
      const newestSize = (await fooled.covering(0n)).checkpoint.treeSize;
      await expect(fooled.covering(newestSize)).rejects.toMatchObject({ code: 'CHECKPOINT_ROLLBACK' });
      expect(fooled.held?.checkpoint.treeSize).toBe(newestSize);
    } finally {
      await new Promise((done) => stale.close(done));
    }
  });

  it('a follower that remembers a stored receipt holds its checkpoint, and refuses a log that went back behind it', async () => {
    // What the log showed before this entry: a checkpoint older than the receipt's.
    const before = await fetchCheckpoint(stack.logUrl, policy());
    const entry = {
      transactionId: 'remember-1',
      messages: messages(200),
      kind: 'payment.completed',
      metadata: {},
    };
    const { logged, receipt } = await logAndProve(entry);
    const stored = (await verifyReceipt(receipt, policy())).proof.checkpoint;
    expect(stored.treeSize).toBeGreaterThan(before.checkpoint.treeSize);
    // A gateway that starts again: a new follower, told its last receipt.
    const restarted = new CheckpointFollower(stack.logUrl, policy());
    await restarted.rememberReceipt(receipt);
    expect(restarted.held?.checkpoint).toEqual(stored);
    expect((await restarted.covering(logged.index)).checkpoint.treeSize).toBe(stored.treeSize);
    // A log that serves the older checkpoint again (it lost its history): refused.
    const lost = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(before.signedNote);
    });
    await new Promise<void>((done) => lost.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(lost.address() as { port: number }).port}`;
      const follower = new CheckpointFollower(url, policy());
      await follower.rememberReceipt(receipt);
      await expect(follower.covering(stored.treeSize)).rejects.toMatchObject({ code: 'CHECKPOINT_ROLLBACK' });
      // Without the receipt remembered, the same log would have been believed.
      const forgetful = new CheckpointFollower(url, policy());
      expect((await forgetful.covering(0n)).checkpoint.treeSize).toBe(before.checkpoint.treeSize);
    } finally {
      await new Promise((done) => lost.close(done));
    }
    // A receipt under other keys is not taken.
    const otherWitness = await generateCosignerKey('witness.log.mpay.example');
    const strict = new CheckpointFollower(stack.logUrl, {
      ...policy(),
      witnessVerifierKeys: [otherWitness.verifierKey],
    });
    await expect(strict.rememberReceipt(receipt)).rejects.toMatchObject({ code: 'WITNESS_QUORUM_NOT_MET' });
    expect(strict.held).toBeUndefined();
  });

  it('refuses submissions from unknown keys and impostors', async () => {
    const stranger = await generateSigningKeyPair();
    const entry = { messageHash: new Uint8Array(32), kind: 'payment.completed', transactionId: 'pay-x' };
    await expect(
      submitEntry(endpoint(), { id: 'gateway', key: stranger.privateJwk }, entry),
    ).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    await expect(
      submitEntry(endpoint(), { id: 'bank', key: submitter.privateJwk }, entry),
    ).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    await expect(
      submitEntry({ ...endpoint(), origin: 'other.example' }, credentials(), entry),
    ).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
  });

  it('keeps its keys in the data folder, the secret ones private, and reuses them on restart', async () => {
    expect((await readFile(join(dataDir, 'keys/log.vkey'), 'utf8')).trim()).toBe(stack.logVerifierKey);
    expect((await readFile(join(dataDir, 'keys/log-witness.vkey'), 'utf8')).trim()).toBe(
      stack.witnessVerifierKey,
    );
    expect((await stat(join(dataDir, 'keys/log.skey'))).mode & 0o777).toBe(0o600);
    expect((await parseVerifierKey(stack.witnessVerifierKey)).signatureType).toBe(0x04);
    const again = await startLogStack({
      dataDir,
      openDatabase: (name) => openTestDatabase(name),
      submitters: [],
      limits,
    });
    try {
      expect([again.logVerifierKey, again.witnessVerifierKey]).toEqual([
        stack.logVerifierKey,
        stack.witnessVerifierKey,
      ]);
    } finally {
      await again.close();
    }
  });
});
