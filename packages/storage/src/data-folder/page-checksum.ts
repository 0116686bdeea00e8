/**
 * PostgreSQL's data page checksum (src/include/storage/checksum_impl.h) and
 * the CRC-32C of its control file, in TypeScript: PGlite 0.3 verifies and
 * writes page checksums once the control file says they are on, but its
 * initdb cannot turn them on, so this package does what `pg_checksums
 * --enable` does. The page-checksum test compares every result with the
 * engine's own (pageinspect's page_checksum); a wrong constant fails there.
 */

/** PostgreSQL's block size, checked against the control file before any page is read. */
export const pageSizeBytes = 8192;

/** The 16-bit checksum sits at byte 8 of the page header, after the 8-byte LSN. */
const checksumOffset = 8;

/** Number of FNV-1a hashes computed side by side (part of the algorithm: changing it changes every checksum). */
const hashCount = 32;
const fnvPrime = 16_777_619;
const baseOffsets: readonly number[] = Object.freeze([
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c, 0xf8d4474f,
  0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d, 0x98daff3c, 0xf718902a, 0x0b1c9cdb, 0xe58f764b, 0x187636bc,
  0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4, 0x783125bb, 0x6ca8eaa2, 0xe407eac6,
  0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
]);

function mix(sum: number, value: number): number {
  const t = (sum ^ value) >>> 0;
  return (Math.imul(t, fnvPrime) ^ (t >>> 17)) >>> 0;
}

function assertPage(page: Uint8Array): void {
  if (page.length !== pageSizeBytes) {
    throw new Error(`assertion failed: a page is ${pageSizeBytes} bytes, not ${page.length}`);
  }
}

/** pg_checksum_page: the checksum PostgreSQL stores in the page, for block `blockNumber` of its relation. */
export function pageChecksum(page: Uint8Array, blockNumber: number): number {
  assertPage(page);
  if (!Number.isSafeInteger(blockNumber) || blockNumber < 0 || blockNumber > 0xffff_fffe) {
    throw new Error(`assertion failed: block number ${blockNumber} out of range`);
  }
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const sums = baseOffsets.slice();
  const rows = pageSizeBytes / (4 * hashCount);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < hashCount; column++) {
      const offset = (row * hashCount + column) * 4;
      // The stored checksum counts as zero (the two bytes at 8..9 of the first word pair).
      const word =
        offset === checksumOffset ? view.getUint32(offset, true) & 0xffff_0000 : view.getUint32(offset, true);
      sums[column] = mix(sums[column] as number, word);
    }
  }
  let folded = 0;
  for (let column = 0; column < hashCount; column++) {
    let sum = sums[column] as number;
    sum = mix(mix(sum, 0), 0);
    folded = (folded ^ sum) >>> 0;
  }
  return (((folded ^ blockNumber) >>> 0) % 65_535) + 1;
}

/** The checksum the page carries. */
export function storedPageChecksum(page: Uint8Array): number {
  assertPage(page);
  return new DataView(page.buffer, page.byteOffset, page.byteLength).getUint16(checksumOffset, true);
}

export function setPageChecksum(page: Uint8Array, blockNumber: number): void {
  const checksum = pageChecksum(page, blockNumber);
  new DataView(page.buffer, page.byteOffset, page.byteLength).setUint16(checksumOffset, checksum, true);
}

/**
 * A page PostgreSQL has allocated but never written: all zero bytes. It has
 * no checksum; the engine accepts it only when every byte is zero, so a page
 * with a zeroed header and anything else in it is damaged, as there.
 */
export function isNewPage(page: Uint8Array): boolean {
  assertPage(page);
  return Buffer.from(page.buffer, page.byteOffset, page.byteLength).equals(zeroPage);
}

const zeroPage = Buffer.alloc(pageSizeBytes);

const crc32cTable = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let crc = index;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f6_3b78 : crc >>> 1;
    table[index] = crc >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum of PostgreSQL's control file. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffff_ffff;
  for (const byte of bytes) crc = (crc32cTable[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffff_ffff) >>> 0;
}
