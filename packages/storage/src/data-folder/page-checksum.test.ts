import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pageinspect } from '@electric-sql/pglite/contrib/pageinspect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseControlFile, withDataChecksumsOn } from './control-file.ts';
import { crc32c, isNewPage, pageChecksum, pageSizeBytes, storedPageChecksum } from './page-checksum.ts';

/**
 * The checksum is PostgreSQL's, not ours: every result is compared with the
 * engine's own (pageinspect's page_checksum, the C code compiled into
 * PGlite) on real pages of a table, index and free-space map, at their own
 * block numbers and at others (the block number is mixed in).
 */
let folder: string;
let pglite: PGlite;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mpay-page-checksum-'));
  pglite = new PGlite(join(folder, 'data'), { extensions: { pageinspect } });
  await pglite.exec(`
    CREATE EXTENSION pageinspect;
    CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
    INSERT INTO accounts SELECT g, md5(g::text), g * 100 FROM generate_series(1, 3000) AS g;`);
  await pglite.exec('VACUUM accounts');
});
afterAll(async () => {
  await pglite?.close();
  await rm(folder, { recursive: true, force: true });
});

describe('pageChecksum', () => {
  async function rawPage(relation: string, fork: string, block: number): Promise<Uint8Array> {
    const { rows } = await pglite.query<{ page: Uint8Array }>('SELECT get_raw_page($1, $2, $3) AS page', [
      relation,
      fork,
      block,
    ]);
    return Uint8Array.from(rows[0]?.page ?? []);
  }

  async function engineChecksum(page: Uint8Array, block: number): Promise<number> {
    const { rows } = await pglite.query<{ checksum: number }>('SELECT page_checksum($1, $2) AS checksum', [
      page,
      block,
    ]);
    // page_checksum answers a smallint: the same 16 bits, read as signed.
    return (rows[0]?.checksum ?? Number.NaN) & 0xffff;
  }

  it.each([
    ['accounts', 'main', [0, 1, 7, 20]],
    ['accounts_pkey', 'main', [0, 1, 5]],
    ['accounts', 'fsm', [0, 2]],
  ] as const)('matches the engine on pages of %s (%s fork)', async (relation, fork, blocks) => {
    for (const block of blocks) {
      const page = await rawPage(relation, fork, block);
      expect(page.length).toBe(pageSizeBytes);
      for (const asBlock of [block, block + 1, 131_072 + block, 0xffff_fffe]) {
        expect(pageChecksum(page, asBlock), `${relation} ${fork} ${block} as ${asBlock}`).toBe(
          await engineChecksum(page, asBlock),
        );
      }
    }
  });

  it('ignores the checksum the page carries, and changes with one flipped bit', async () => {
    const page = await rawPage('accounts', 'main', 3);
    const checksum = pageChecksum(page, 3);
    page[8] = (page[8] ?? 0) ^ 0xff;
    page[9] = (page[9] ?? 0) ^ 0x0f;
    expect(pageChecksum(page, 3)).toBe(checksum);
    page[4000] = (page[4000] ?? 0) ^ 0x01;
    expect(pageChecksum(page, 3)).not.toBe(checksum);
    expect(pageChecksum(page, 3)).toBe(await engineChecksum(page, 3));
    expect(storedPageChecksum(page)).not.toBe(pageChecksum(page, 3));
  });

  it('calls only an all-zero page new', () => {
    const page = new Uint8Array(pageSizeBytes);
    expect(isNewPage(page)).toBe(true);
    page[pageSizeBytes - 1] = 1;
    expect(isNewPage(page)).toBe(false);
    expect(() => isNewPage(new Uint8Array(100))).toThrow(/assertion failed/);
  });
});

describe('crc32c and the control file', () => {
  it('computes CRC-32C (RFC 3720 check value and an all-zero block)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe306_9283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a91_36aa);
  });

  it("reads PGlite's control file, turns checksums on, and refuses a damaged or foreign one", async () => {
    const bytes = new Uint8Array(await readFile(join(folder, 'data', 'global', 'pg_control')));
    const control = parseControlFile(bytes);
    expect(control).toMatchObject({
      controlVersion: 1700,
      dataChecksumVersion: 0,
      relationSegmentBlocks: 131_072,
    });
    expect(parseControlFile(withDataChecksumsOn(bytes)).dataChecksumVersion).toBe(1);

    const flipped = Uint8Array.from(bytes);
    flipped[100] = (flipped[100] ?? 0) ^ 1;
    expect(() => parseControlFile(flipped)).toThrow(/CRC does not match/);
    expect(() => parseControlFile(bytes.subarray(0, 4096))).toThrow(/4096 bytes, not 8192/);
    const otherVersion = Uint8Array.from(bytes);
    new DataView(otherVersion.buffer).setUint32(8, 1600, true);
    new DataView(otherVersion.buffer).setUint32(288, crc32c(otherVersion.subarray(0, 288)), true);
    expect(() => parseControlFile(otherVersion)).toThrow(/version 1600/);
  });
});
