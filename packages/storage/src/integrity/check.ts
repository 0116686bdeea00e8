import type { PGlite } from '@electric-sql/pglite';
import { type ChecksumScan, verifyDataChecksums } from '../data-folder/checksums.ts';
import { problemsMax } from './options.ts';
import { checkTables, relationOfFile } from './tables.ts';

/** What one integrity check of an embedded database found. */
export interface IntegrityReport {
  readonly folder: string;
  /** When the check ended, in ms since the epoch (the clock passed in). */
  readonly checkedAtMs: number;
  /** Whether the folder has data checksums (else only the SQL half ran). */
  readonly dataChecksums: boolean;
  /** Pages whose checksum was verified by reading the files (0 without data checksums). */
  readonly pagesVerified: number;
  readonly tablesChecked: number;
  readonly indexesChecked: number;
  readonly rowsRead: number;
  /** Empty when the database is intact; else the first problemsMax, one line each. */
  readonly problems: readonly string[];
}

export interface IntegrityCheckTarget {
  readonly folder: string;
  readonly pglite: PGlite;
  readonly dataChecksums: boolean;
  readonly now: () => number;
}

async function describeFailures(pglite: PGlite, scan: ChecksumScan): Promise<string[]> {
  const lines: string[] = [];
  for (const failure of scan.failures.slice(0, problemsMax)) {
    const relation = await relationOfFile(pglite, failure.file);
    const where = relation === undefined ? failure.file : `${relation} (${failure.file})`;
    lines.push(`page ${failure.blockNumber} of ${where}: ${failure.reason}`);
  }
  if (scan.failureCount > lines.length)
    lines.push(`… ${scan.failureCount - lines.length} more damaged pages`);
  return lines;
}

/**
 * One integrity check: with data checksums, every page of every file read
 * from disk and checked (`scan` when the files were read before PGlite
 * started, else now); then every user table and index through SQL
 * (checkTables).
 */
export async function runIntegrityCheck(
  target: IntegrityCheckTarget,
  scan?: ChecksumScan,
): Promise<IntegrityReport> {
  const files = target.dataChecksums ? (scan ?? (await verifyDataChecksums(target.folder))) : undefined;
  const problems = files === undefined ? [] : await describeFailures(target.pglite, files);
  const tables = await checkTables(target.pglite);
  problems.push(...tables.problems);
  return Object.freeze({
    folder: target.folder,
    checkedAtMs: target.now(),
    dataChecksums: target.dataChecksums,
    pagesVerified: files?.pagesVerified ?? 0,
    tablesChecked: tables.tablesChecked,
    indexesChecked: tables.indexesChecked,
    rowsRead: tables.rowsRead,
    problems: Object.freeze([...new Set(problems)].slice(0, problemsMax + 1)),
  });
}
