import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MpayError } from '@mpay/protocol';
import type { BankingStatementLine } from '@mpay/sdk';

/**
 * The transaction log's receipts of a statement's banking lines, as files
 * anyone checks offline with the log's and the witness's public keys only
 * (`mpay log verify FILE --log-key <data>/keys/log.vkey --witness-key
 * <data>/keys/log-witness.vkey`): the seed's "transaction log server can
 * provide the transaction records as proof".
 */

const fileStemPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A receipt as text (mpay-receipt/v1 JSON), whether the bank's answer carried it as text or as an object. */
export function receiptTextOf(receipt: unknown): string | undefined {
  if (receipt === undefined || receipt === null) return undefined;
  if (typeof receipt === 'string') return receipt;
  if (typeof receipt === 'object' && !Array.isArray(receipt)) return JSON.stringify(receipt);
  throw new MpayError('BANK_ANSWER_INVALID', 'statement line receipt');
}

export interface WrittenReceipt {
  readonly requestId: string;
  readonly path: string;
}

/** Writes `DIR/<requestId>.receipt.json` for every line that has a receipt; the lines without one are skipped. */
export async function writeReceipts(
  directory: string,
  lines: readonly BankingStatementLine[],
): Promise<readonly WrittenReceipt[]> {
  const folder = resolve(directory);
  const written: WrittenReceipt[] = [];
  for (const line of lines) {
    const text = receiptTextOf(line.receipt);
    if (text === undefined || line.requestId === undefined) continue;
    // The name comes from the bank's answer: a UUID and nothing else reaches the file system.
    if (!fileStemPattern.test(line.requestId)) throw new MpayError('BANK_ANSWER_INVALID', 'requestId');
    if (written.length === 0) await mkdir(folder, { recursive: true });
    const path = join(folder, `${line.requestId}.receipt.json`);
    await writeFile(path, text.endsWith('\n') ? text : `${text}\n`);
    written.push({ requestId: line.requestId, path });
  }
  return written;
}

/** The command that checks a written receipt offline, as the CLI prints it. */
export function verifyCommandOf(path: string, keyFiles: readonly string[]): string {
  return `npx mpay log verify ${path} --log-key ${keyFiles[0]} --witness-key ${keyFiles[1]}`;
}
