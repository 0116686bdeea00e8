import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parsePrometheusText } from '@mpay/http-server';
import { entryBatchLimits, submitEntryBatch, submitMessageBatch } from '@mpay/log-client';
import { leafHash, messagesHash, openCheckpoint, verifyInclusion } from '@mpay/merkle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogLimits } from '../limits.ts';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';

/**
 * POST /entry-batches: many entries under one signature. Each entry gets the
 * index POST /entries would give it, in the order sent; a wrong entry refuses
 * the whole batch and writes nothing.
 */
describe('POST /entry-batches', () => {
  let log: TestLog;
  const metricsToken = 'entry-batches-metrics-token-0123456789';
  /** mpay_log_submissions_total{outcome} as GET /metrics gives it now. */
  const submissions = async (outcome: string): Promise<number> => {
    const answer = await fetch(`${log.url}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(answer.status).toBe(200);
    const sample = parsePrometheusText(await answer.text()).find(
      ({ name, labels }) => name === 'mpay_log_submissions_total' && labels.outcome === outcome,
    );
    return sample?.value ?? 0;
  };
  const batch = (entries: unknown, options: Parameters<TestLog['submit']>[1] = {}) =>
    log.submit({ entries }, { path: '/entry-batches', ...options });
  /** The index the next new entry gets: a single submission of a fresh entry. */
  const nextIndex = async (label: string) =>
    (await log.submit(await entryFor(`probe ${label}`, `txn-probe-${label}`))).body.index as number;

  beforeAll(async () => {
    // Entries above the default body limit (8 KiB) but within the batch's own.
    log = await startTestLog({ limits: { submissionBatchEntriesMax: 40 }, metricsToken });
  });
  afterAll(async () => log.close());

  it('gives each entry its index in the order sent, the one it had for an entry the log had, and proves them', async () => {
    const earlier = await entryFor('earlier', 'txn-earlier');
    const single = await log.submit(earlier);
    expect(single).toMatchObject({ status: 202, body: { index: 0 } });
    const a = await entryFor('a', 'txn-a');
    const b = await entryFor('b', 'txn-b');
    const answer = await batch([a, earlier, b, a]);
    expect(answer).toMatchObject({
      status: 200,
      body: {
        entries: [
          { index: 1, created: true },
          { index: 0, created: false },
          { index: 2, created: true },
          { index: 1, created: false },
        ],
      },
    });
    // The same batch again: the same indices, none created.
    expect((await batch([a, earlier, b, a])).body).toEqual({
      entries: [
        { index: 1, created: false, transactionId: 'txn-a' },
        { index: 0, created: false, transactionId: 'txn-earlier' },
        { index: 2, created: false, transactionId: 'txn-b' },
        { index: 1, created: false, transactionId: 'txn-a' },
      ],
    });
    await log.service.integrateNow();
    const checkpoint = (
      await openCheckpoint((await log.get('/checkpoint')).text, testOrigin, [log.verifierKey])
    ).checkpoint;
    expect(checkpoint.treeSize).toBe(3n);
    for (const [index, sent] of [
      [1, a],
      [2, b],
    ] as const) {
      const entry = await log.get(`/entries/${index}`);
      expect(entry.body).toMatchObject({ ...sent, submitter: 'gateway' });
      const leaf = await leafHash(new TextEncoder().encode(entry.body.leafData as string));
      const proof = await log.get(`/proofs/inclusion?index=${index}&size=3`);
      const hashes = (proof.body.hashes as string[]).map(
        (hash) => new Uint8Array(Buffer.from(hash, 'base64')),
      );
      await expect(verifyInclusion(leaf, index, 3, hashes, checkpoint.rootHash)).resolves.toBeUndefined();
    }
  });

  it('counts each entry in the metrics, a batch answered again under its Idempotency-Key as duplicates', async () => {
    const entries = [await entryFor('keyed a', 'txn-keyed-a'), await entryFor('keyed b', 'txn-keyed-b')];
    const headers = { 'idempotency-key': 'batch-key-1' };
    const [appended, duplicate] = [await submissions('appended'), await submissions('duplicate')];
    const first = await batch(entries, { headers });
    expect(first.status).toBe(200);
    expect(await submissions('appended')).toBe(appended + 2);
    // Replayed from the stored answer (nothing submitted): both entries were there.
    const replay = await batch(entries, { headers });
    expect(replay).toMatchObject({ status: 200, body: first.body });
    expect(await submissions('duplicate')).toBe(duplicate + 2);
    expect(await submissions('appended')).toBe(appended + 2);
    // The same key for another body is refused, and counted once as refused, not per entry.
    const refused = await submissions('refused');
    const reused = await batch([entries[0]], { headers });
    expect(reused).toMatchObject({ status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED' } } });
    expect(await submissions('refused')).toBe(refused + 1);
    expect(await submissions('duplicate')).toBe(duplicate + 2);
  });

  it('refuses a wrong batch whole, naming the first wrong entry, and writes none of it', async () => {
    const before = await nextIndex('before');
    const good = await entryFor('good', 'txn-good');
    const cases: Array<[unknown, string]> = [
      [[], 'entries must be a list of entries'],
      [{ hash: good.hash }, 'entries must be a list of entries'],
      [Array.from({ length: 41 }, () => good), 'entries: at most 40'],
      [[good, good, { ...good, hash: 'not base64' }], 'entries[2].hash'],
      [[good, { ...good, extra: 1 }], 'entries[1].extra is not allowed'],
      [[good, 'text'], 'entries[1] must be an object'],
      [[{ ...good, metadata: { blob: 'x'.repeat(3000) } }], 'entries[0].metadata too large'],
    ];
    for (const [entries, detail] of cases) {
      const answer = await batch(entries);
      expect(answer, detail).toMatchObject({
        status: 400,
        body: { error: { code: 'REQUEST_INVALID', detail } },
      });
    }
    const other = await log.submit({ entries: [good], more: 1 }, { path: '/entry-batches' });
    expect(other.body).toMatchObject({ error: { code: 'REQUEST_INVALID', detail: 'more is not allowed' } });
    // Nothing of those was written: the next entry comes right after the probe.
    expect(await nextIndex('after')).toBe(before + 1);
  });

  it('refuses a batch not signed for its own path, or by no submitter', async () => {
    const body = JSON.stringify({ entries: [await entryFor('sneaky', 'txn-sneaky')] });
    const anonymous = await fetch(`${log.url}/entry-batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(anonymous.status).toBe(401);
    const { signRequest } = await import('@mpay/http-client');
    // A signature made for POST /entries does not pass for /entry-batches.
    const authorization = await signRequest(
      { method: 'POST', path: '/entries', body },
      { issuer: 'gateway', audience: testOrigin, key: log.submitter.privateJwk },
    );
    const elsewhere = await fetch(`${log.url}/entry-batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body,
    });
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({ error: { code: 'AUTHENTICATION_FAILED' } });
  });

  it('takes a body beyond the default limit up to its own, and 413 beyond that', async () => {
    const big = (i: number) =>
      entryFor(`big ${i}`, `txn-big-${i}`).then((e) => ({ ...e, metadata: { blob: 'x'.repeat(1900) } }));
    const entries = await Promise.all(Array.from({ length: 8 }, (_, i) => big(i)));
    expect(JSON.stringify({ entries }).length).toBeGreaterThan(8 * 1024);
    expect((await batch(entries)).status).toBe(200);
    const more = await Promise.all(Array.from({ length: 40 }, (_, i) => big(100 + i)));
    expect(JSON.stringify({ entries: more }).length).toBeGreaterThan(64 * 1024);
    expect(await batch(more)).toMatchObject({ status: 413, body: { error: { code: 'REQUEST_TOO_LARGE' } } });
  });

  it('is what the client sends: submitMessageBatch splits at the client limits and keeps the order', async () => {
    const endpoint = { url: log.url, origin: testOrigin };
    const submitter = { id: 'gateway', key: log.submitter.privateJwk };
    // More than one request's worth at the client's limit (64, above this log's 40: the log refuses it).
    const count = entryBatchLimits.entriesMax + 6;
    const entries = Array.from({ length: count }, (_, i) => ({
      transactionId: `txn-client-${i}`,
      messages: [`message ${i}`],
      kind: 'payment.completed',
    }));
    await expect(submitMessageBatch(endpoint, submitter, entries)).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
    const fitting = await startTestLog();
    try {
      const logged = await submitMessageBatch(
        { url: fitting.url, origin: testOrigin },
        { id: 'gateway', key: fitting.submitter.privateJwk },
        entries,
      );
      expect(logged.map((entry) => entry.index)).toEqual(entries.map((_, i) => BigInt(i)));
      for (const i of [0, entryBatchLimits.entriesMax - 1, entryBatchLimits.entriesMax, count - 1]) {
        const stored = await fitting.get(`/entries/${i}`);
        expect(stored.body.leafData).toBe(logged[i]?.leafData);
        expect(stored.body.hash).toBe(
          Buffer.from(await messagesHash(entries[i]?.messages ?? [])).toString('base64'),
        );
      }
      // Sent again: the same indices.
      const again = await submitEntryBatch(
        { url: fitting.url, origin: testOrigin },
        { id: 'gateway', key: fitting.submitter.privateJwk },
        await Promise.all(
          entries
            .slice(0, 3)
            .map(async (entry) => ({ ...entry, messageHash: await messagesHash(entry.messages) })),
        ),
      );
      expect(again).toEqual([0n, 1n, 2n].map((index) => ({ index, created: false })));
    } finally {
      await fitting.close();
    }
  });

  it("is checked by the client: a log's answer in another order, or one index for two entries, is refused", async () => {
    // A log that answers as it likes, over HTTP.
    let answer: (sent: { transactionId: string }[]) => unknown = () => ({});
    const hostile = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        const { entries } = JSON.parse(body) as { entries: { transactionId: string }[] };
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer(entries)));
      });
    });
    await new Promise<void>((listening) => hostile.listen(0, '127.0.0.1', listening));
    const endpoint = {
      url: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`,
      origin: testOrigin,
    };
    const submitter = { id: 'gateway', key: log.submitter.privateJwk };
    const entries = await Promise.all(
      ['x', 'y'].map(async (name) => ({
        transactionId: `txn-${name}`,
        kind: 'payment.completed',
        messageHash: await messagesHash([name]),
      })),
    );
    try {
      answer = (sent) => ({ entries: sent.map((entry, i) => ({ index: i, created: true, ...entry })) });
      expect(await submitEntryBatch(endpoint, submitter, entries)).toEqual([
        { index: 0n, created: true },
        { index: 1n, created: true },
      ]);
      answer = (sent) => ({
        entries: [...sent].reverse().map((entry, i) => ({ index: i, created: true, ...entry })),
      });
      await expect(submitEntryBatch(endpoint, submitter, entries)).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        detail: 'answer for another entry',
      });
      answer = (sent) => ({ entries: sent.map((entry) => ({ index: 5, created: true, ...entry })) });
      await expect(submitEntryBatch(endpoint, submitter, entries)).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        detail: 'one index for two entries',
      });
      answer = (sent) => ({ entries: sent.slice(1).map((entry) => ({ index: 1, created: true, ...entry })) });
      await expect(submitEntryBatch(endpoint, submitter, entries)).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
      });
    } finally {
      await new Promise((closed) => hostile.close(closed));
    }
  });

  it('has validated limits', () => {
    expect(() => createLogLimits({ submissionBatchEntriesMax: 0 })).toThrow(/submissionBatchEntriesMax/);
    expect(() => createLogLimits({ submissionBatchBodyLimitBytes: 1024 })).toThrow(
      /submissionBatchBodyLimitBytes/,
    );
  });
});
