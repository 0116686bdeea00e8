import { leafHash, MemoryTree } from '@mpay/merkle';
import { afterEach, describe, expect, it } from 'vitest';
import { entryFor, startTestLog, type TestLog, testOrigin } from '../test-helpers.ts';
import { assertCheckpointExtends } from './assert-extends.ts';

const leaves = (prefix: string, count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => leafHash(new TextEncoder().encode(`${prefix} ${i}`))));

describe('the log never signs two inconsistent checkpoints', () => {
  let log: TestLog | undefined;
  afterEach(async () => log?.close());

  it('asserts on a smaller, forked or inconsistent next checkpoint', async () => {
    const tree = new MemoryTree();
    const at4 = {
      origin: testOrigin,
      treeSize: 4n,
      rootHash: await tree.append(await leaves('a', 4)),
      extensions: [],
    };
    const at7 = {
      origin: testOrigin,
      treeSize: 7n,
      rootHash: await tree.append(await leaves('b', 3)),
      extensions: [],
    };
    await assertCheckpointExtends(at4, at7, tree);
    await expect(assertCheckpointExtends(at7, at4, tree)).rejects.toThrow(
      /assertion failed: .*never decreases/,
    );
    const fork = { ...at7, rootHash: at4.rootHash };
    await expect(assertCheckpointExtends(at4, fork, tree)).rejects.toThrow(/assertion failed: .*consistent/);
    await expect(assertCheckpointExtends(at7, fork, tree)).rejects.toThrow(/assertion failed: .*consistent/);
  });

  it('halts without signing when its stored tree was tampered with', async () => {
    log = await startTestLog();
    for (let i = 0; i < 4; i++) await log.submit(await entryFor(`m ${i}`, `t-${i}`));
    await log.service.integrateNow();
    const before = (await log.get('/checkpoint')).text;
    // Corrupt the perfect subtree over leaves [0, 4): the next head would not extend the signed one.
    await log.database.query(
      "UPDATE tree_nodes SET hash = decode(repeat('ab', 32), 'hex') WHERE level = 2 AND index = 0",
    );
    await log.submit(await entryFor('m 4', 't-4'));
    await expect(log.service.integrateNow()).rejects.toThrow(
      /assertion failed: new checkpoint is consistent/,
    );
    expect(log.service.halted).toBe(true);
    expect((await log.get('/checkpoint')).text).toBe(before);
    const { rows } = await log.database.query('SELECT count(*)::int AS n FROM checkpoints');
    expect(rows[0]).toEqual({ n: 2 });
    await expect(log.service.integrateNow()).rejects.toThrow(/halted/);
  });
});
