import { canonicalize, MpayError } from '@mpay/protocol';
import { utf8Length } from '../bytes.ts';
import { entryKindPattern, transactionIdPattern } from './leaf.ts';

/**
 * An mpay receipt file: the signed messages of one transaction, the fields
 * of their log entry, and a c2sp.org/tlog-proof that the entry is in the log
 * under a checkpoint cosigned by witnesses. `logKey` and `witnessKeys` name
 * the keys the issuer used; a verifier never trusts them (it brings its own).
 */
export interface Receipt {
  readonly version: typeof receiptVersion;
  readonly transactionId: string;
  /** The messages as sent (compact JWS), in the order they were hashed. */
  readonly messages: readonly string[];
  readonly entry: {
    readonly kind: string;
    readonly metadata: Readonly<Record<string, unknown>>;
    readonly submitter: string;
  };
  /** c2sp.org/tlog-proof v1 text. */
  readonly proof: string;
  readonly logKey?: string | undefined;
  readonly witnessKeys?: readonly string[] | undefined;
}

export const receiptVersion = 'mpay-receipt/v1';

/** Limits of a receipt file. */
export const receiptBytesMax = 4 * 1024 * 1024;
export const receiptMessagesMax = 32;
export const receiptMessageBytesMax = 64 * 1024;

const fields = new Set(['version', 'transactionId', 'messages', 'entry', 'proof', 'logKey', 'witnessKeys']);
const entryFields = new Set(['kind', 'metadata', 'submitter']);
const submitterPattern = /^[\x21-\x7e]{1,128}$/;

function invalid(detail: string): MpayError {
  return new MpayError('RECEIPT_INVALID', detail);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyFields(value: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  const unknown = Object.keys(value).find((name) => !allowed.has(name));
  if (unknown !== undefined) throw invalid(`${where}${unknown} is not allowed`);
}

function checkMessages(messages: unknown): readonly string[] {
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > receiptMessagesMax) {
    throw invalid('messages');
  }
  for (const message of messages) {
    if (typeof message !== 'string' || message.length === 0 || utf8Length(message) > receiptMessageBytesMax) {
      throw invalid('message');
    }
  }
  return Object.freeze([...(messages as string[])]);
}

function checkEntry(entry: unknown): Receipt['entry'] {
  if (!isObject(entry)) throw invalid('entry');
  onlyFields(entry, entryFields, 'entry.');
  const { kind, metadata, submitter } = entry;
  if (typeof kind !== 'string' || !entryKindPattern.test(kind)) throw invalid('entry.kind');
  if (typeof submitter !== 'string' || !submitterPattern.test(submitter)) throw invalid('entry.submitter');
  if (!isObject(metadata)) throw invalid('entry.metadata');
  try {
    canonicalize(metadata);
  } catch {
    throw invalid('entry.metadata');
  }
  return Object.freeze({ kind, metadata, submitter });
}

function checkKeys(logKey: unknown, witnessKeys: unknown): Pick<Receipt, 'logKey' | 'witnessKeys'> {
  if (logKey !== undefined && typeof logKey !== 'string') throw invalid('logKey');
  if (witnessKeys === undefined) return { logKey, witnessKeys };
  if (!Array.isArray(witnessKeys) || !witnessKeys.every((key) => typeof key === 'string')) {
    throw invalid('witnessKeys');
  }
  return { logKey, witnessKeys: Object.freeze([...(witnessKeys as string[])]) };
}

/** Checks the shape of a receipt value (RECEIPT_INVALID): exact fields, limits, patterns. */
export function checkReceipt(value: unknown): Receipt {
  if (!isObject(value)) throw invalid('not an object');
  onlyFields(value, fields, '');
  if (value.version !== receiptVersion) throw invalid('version');
  const { transactionId, proof } = value;
  if (typeof transactionId !== 'string' || !transactionIdPattern.test(transactionId)) {
    throw invalid('transactionId');
  }
  if (typeof proof !== 'string' || proof.length === 0) throw invalid('proof');
  return Object.freeze({
    version: receiptVersion,
    transactionId,
    messages: checkMessages(value.messages),
    entry: checkEntry(value.entry),
    proof,
    ...checkKeys(value.logKey, value.witnessKeys),
  });
}

/** Parses a receipt file (JSON, at most receiptBytesMax bytes). */
export function parseReceipt(text: string): Receipt {
  if (typeof text !== 'string' || text.length > receiptBytesMax || utf8Length(text) > receiptBytesMax) {
    throw invalid('size');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  return checkReceipt(value);
}

/** The receipt file text for these fields (checked first), JSON with two-space indentation. */
export function formatReceipt(fields: Omit<Receipt, 'version'>): string {
  const receipt = checkReceipt({ version: receiptVersion, ...fields });
  const text = `${JSON.stringify(receipt, null, 2)}\n`;
  if (utf8Length(text) > receiptBytesMax) throw invalid('size');
  return text;
}
