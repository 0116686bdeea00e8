import { canonicalize, MpayError } from '@mpay/protocol';
import { base64Encode, isWellFormedText, utf8Encode } from '../bytes.ts';
import { sha256 } from '../hash/sha256.ts';

/**
 * What the mpay log commits to, in one place. An entry is the SHA-256 of the
 * signed messages of one transaction plus what they are:
 *
 *   messageHash = SHA-256(UTF-8(RFC 8785 JSON of the array of messages))
 *                 (the messages as sent: compact JWS strings, in order)
 *   leaf data   = RFC 8785 JSON of
 *                 { hash: base64(messageHash), kind, metadata, submitter, transactionId }
 *   leaf hash   = RFC 9162 leaf hash: SHA-256(0x00 || UTF-8(leaf data))
 *
 * The log computes the leaf data from a submission; anyone holding the
 * messages and the entry's fields recomputes it and checks the inclusion proof.
 */
export interface LogEntryFields {
  readonly messageHash: Uint8Array;
  /** What the messages are, e.g. `payment.completed` (entryKindPattern). */
  readonly kind: string;
  readonly transactionId: string;
  /** A JSON object (small: the log limits its canonical size). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The log's id of the party that submitted the entry. */
  readonly submitter: string;
}

/** The `kind` of an entry: lower case, digits, `_.-`, at most 64 characters. */
export const entryKindPattern = /^[a-z][a-z0-9_.-]{0,63}$/;

/** A transaction id: 1–128 printable ASCII characters, no spaces. */
export const transactionIdPattern = /^[\x21-\x7e]{1,128}$/;

/** The hash a submitter logs for the messages of a transaction. */
export async function messagesHash(messages: readonly string[]): Promise<Uint8Array> {
  return sha256(utf8Encode(canonicalize([...messages])));
}

/** The RFC 9162 leaf data of an entry (see above). */
export function leafDataOf(entry: LogEntryFields): string {
  return leafDataOfCanonicalMetadata({ ...entry, metadataJson: canonicalize(entry.metadata) });
}

/**
 * leafDataOf for metadata already in RFC 8785 form (what the log stores),
 * without parsing it again: the members are written in their sorted order,
 * strings as JSON.stringify writes them, which is what RFC 8785 prescribes.
 */
export function leafDataOfCanonicalMetadata(
  entry: Omit<LogEntryFields, 'metadata'> & { readonly metadataJson: string },
): string {
  for (const text of [entry.kind, entry.submitter, entry.transactionId]) {
    if (typeof text !== 'string' || !isWellFormedText(text))
      throw new MpayError('CANONICALIZATION_FAILED', 'entry');
  }
  const json = JSON.stringify;
  return (
    `{"hash":${json(base64Encode(entry.messageHash))},"kind":${json(entry.kind)},"metadata":${entry.metadataJson},` +
    `"submitter":${json(entry.submitter)},"transactionId":${json(entry.transactionId)}}`
  );
}
