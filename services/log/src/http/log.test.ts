import { generateSigningKeyPair } from '@mpay/envelope';
import { leafHash, openCheckpoint, verifyConsistency, verifyInclusion } from '@mpay/merkle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';

const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));
const hashesOf = (body: Record<string, unknown>) => (body.hashes as string[]).map(bytes);

describe('log service over HTTP', () => {
  let log: TestLog;
  beforeAll(async () => {
    log = await startTestLog();
  });
  afterAll(async () => log.close());

  const checkpoint = async () => {
    const answer = await log.get('/checkpoint');
    expect(answer.status).toBe(200);
    return (await openCheckpoint(answer.text, testOrigin, [log.verifierKey])).checkpoint;
  };

  it('starts with a signed empty checkpoint', async () => {
    const empty = await checkpoint();
    expect(empty.treeSize).toBe(0n);
    expect(Buffer.from(empty.rootHash).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('appends, integrates in batches and proves inclusion and consistency', async () => {
    const indices: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await log.submit(await entryFor(`message ${i}`, `txn-${i}`));
      expect(answer.status).toBe(202);
      indices.push(answer.body.index as number);
    }
    expect(indices).toEqual([0, 1, 2, 3, 4]);
    expect((await log.service.integrateNow()).appended).toBe(5);
    const first = await checkpoint();
    expect(first.treeSize).toBe(5n);
    for (let i = 0; i < 6; i++) await log.submit(await entryFor(`later ${i}`, `txn-later-${i}`));
    await log.service.integrateNow();
    const second = await checkpoint();
    expect(second.treeSize).toBe(11n);

    for (const index of [0, 4, 7, 10]) {
      const entry = await log.get(`/entries/${index}`);
      expect(entry.status).toBe(200);
      const leaf = await leafHash(new TextEncoder().encode(entry.body.leafData as string));
      expect(Buffer.from(leaf).toString('base64')).toBe(entry.body.leafHash);
      const proof = await log.get(`/proofs/inclusion?index=${index}&size=11`);
      expect(proof.status).toBe(200);
      await expect(
        verifyInclusion(leaf, index, 11, hashesOf(proof.body), second.rootHash),
      ).resolves.toBeUndefined();
      await expect(
        verifyInclusion(leaf, index, 11, hashesOf(proof.body), first.rootHash),
      ).rejects.toMatchObject({
        code: 'PROOF_INVALID',
      });
    }
    const consistency = await log.get('/proofs/consistency?from=5&to=11');
    expect(consistency.status).toBe(200);
    const proof = hashesOf(consistency.body);
    await expect(verifyConsistency(5, 11, first.rootHash, second.rootHash, proof)).resolves.toBeUndefined();
    await expect(verifyConsistency(5, 11, second.rootHash, second.rootHash, proof)).rejects.toMatchObject({
      code: 'PROOF_INVALID',
    });
    expect((await log.get('/proofs/consistency?from=11&to=11')).body.hashes).toEqual([]);
  });

  it('leaf data commits to the submission and the submitter', async () => {
    const submission = await entryFor('message 0', 'txn-0');
    const entry = await log.get('/entries/0');
    expect(entry.body).toMatchObject({ ...submission, submitter: 'gateway', index: 0 });
    expect(JSON.parse(entry.body.leafData as string)).toEqual({ ...submission, submitter: 'gateway' });
  });

  it('returns the existing index for the same hash and transaction id', async () => {
    const again = await log.submit(await entryFor('message 2', 'txn-2'));
    expect(again).toMatchObject({ status: 200, body: { index: 2 } });
    const other = await log.submit(await entryFor('message 2', 'txn-other'));
    expect(other.status).toBe(202);
  });

  it('replays an Idempotency-Key and refuses it for another body', async () => {
    const headers = { 'idempotency-key': 'key-1' };
    const first = await log.submit(await entryFor('keyed', 'txn-keyed'), { headers });
    const replay = await log.submit(await entryFor('keyed', 'txn-keyed'), { headers });
    expect(replay).toMatchObject({ status: first.status, body: first.body });
    const reused = await log.submit(await entryFor('other', 'txn-keyed'), { headers });
    expect(reused).toMatchObject({ status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED' } } });
  });

  it('rejects unauthenticated submitters', async () => {
    const body = JSON.stringify(await entryFor('sneaky', 'txn-sneaky'));
    const anonymous = await fetch(`${log.url}/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'AUTHENTICATION_FAILED' } });
    const stranger = await generateSigningKeyPair();
    const unknownKey = await log.submit(await entryFor('sneaky', 'txn-sneaky'), { key: stranger });
    expect(unknownKey).toMatchObject({ status: 401, body: { error: { code: 'AUTHENTICATION_FAILED' } } });
    const impostor = await log.submit(await entryFor('sneaky', 'txn-sneaky'), { issuer: 'bank' });
    expect(impostor).toMatchObject({ status: 401, body: { error: { code: 'AUTHENTICATION_FAILED' } } });
  });

  it('rejects malformed and oversized submissions with stable codes', async () => {
    const good = await entryFor('x', 'txn-x');
    const bad = [
      { ...good, hash: 'not base64' },
      { ...good, hash: Buffer.alloc(31).toString('base64') },
      { ...good, kind: 'Upper' },
      { ...good, transactionId: '' },
      { ...good, extra: 1 },
      { ...good, metadata: [] },
      { ...good, metadata: { blob: 'x'.repeat(3000) } },
    ];
    for (const body of bad) {
      const answer = await log.submit(body);
      expect(answer.body, JSON.stringify(body).slice(0, 80)).toMatchObject({
        error: { code: 'REQUEST_INVALID' },
      });
    }
    const huge = await log.submit({ ...good, metadata: { blob: 'x'.repeat(20_000) } });
    expect(huge).toMatchObject({ status: 413, body: { error: { code: 'REQUEST_TOO_LARGE' } } });
  });

  it('answers bad proof requests with stable codes', async () => {
    const cases: Array<[string, string]> = [
      ['/proofs/inclusion?index=11&size=11', 'PROOF_REQUEST_INVALID'],
      ['/proofs/inclusion?index=0&size=0', 'PROOF_REQUEST_INVALID'],
      ['/proofs/inclusion?index=0&size=12', 'PROOF_REQUEST_INVALID'],
      ['/proofs/consistency?from=7&to=5', 'PROOF_REQUEST_INVALID'],
      ['/proofs/consistency?from=0&to=5', 'PROOF_REQUEST_INVALID'],
      ['/proofs/consistency?from=5&to=99', 'PROOF_REQUEST_INVALID'],
      ['/proofs/inclusion?index=-1&size=5', 'REQUEST_INVALID'],
      ['/proofs/inclusion?index=01&size=5', 'REQUEST_INVALID'],
      ['/proofs/inclusion?size=5', 'REQUEST_INVALID'],
      ['/entries/99999', 'NOT_FOUND'],
      ['/entries/abc', 'REQUEST_INVALID'],
    ];
    for (const [path, code] of cases) {
      expect((await log.get(path)).body, path).toMatchObject({ error: { code } });
    }
  });

  it('proves several leaves at once, each proof as GET /proofs/inclusion gives it, in the order asked', async () => {
    const asked = [10, 0, 7, 4, 7];
    const answer = await log.get(`/proofs/inclusions?indices=${asked.join(',')}&size=11`);
    expect(answer.status).toBe(200);
    expect(answer.body.treeSize).toBe(11);
    const proofs = answer.body.proofs as { index: number; hashes: string[] }[];
    expect(proofs.map((proof) => proof.index)).toEqual(asked);
    for (const proof of proofs) {
      const alone = await log.get(`/proofs/inclusion?index=${proof.index}&size=11`);
      expect(proof.hashes).toEqual(alone.body.hashes);
    }
    const cases: Array<[string, string]> = [
      ['/proofs/inclusions?indices=0,11&size=11', 'PROOF_REQUEST_INVALID'],
      ['/proofs/inclusions?indices=0&size=12', 'PROOF_REQUEST_INVALID'],
      ['/proofs/inclusions?indices=0,,1&size=11', 'REQUEST_INVALID'],
      ['/proofs/inclusions?indices=01&size=11', 'REQUEST_INVALID'],
      ['/proofs/inclusions?indices=&size=11', 'REQUEST_INVALID'],
      ['/proofs/inclusions?size=11', 'REQUEST_INVALID'],
      [
        `/proofs/inclusions?indices=${Array.from({ length: 65 }, () => '1').join(',')}&size=11`,
        'REQUEST_INVALID',
      ],
    ];
    for (const [path, code] of cases)
      expect((await log.get(path)).body, path).toMatchObject({ error: { code } });
  });

  it('proves within the latest published checkpoint only: a size beyond it is refused until one covers it', async () => {
    const size = (await checkpoint()).treeSize;
    const beyond = `/proofs/inclusion?index=0&size=${size + 1n}`;
    expect((await log.get(`/proofs/inclusion?index=0&size=${size}`)).status).toBe(200);
    expect((await log.get(beyond)).body).toMatchObject({ error: { code: 'PROOF_REQUEST_INVALID' } });
    await log.submit(await entryFor('one more', 'txn-one-more'));
    await log.service.integrateNow();
    expect((await checkpoint()).treeSize).toBeGreaterThan(size);
    expect((await log.get(beyond)).status).toBe(200);
    expect((await log.get(`/proofs/consistency?from=1&to=${size + 1n}`)).status).toBe(200);
  });
});
