import { mailIdPattern } from './names.ts';

/** One received mail as the mailbox keeps it, decoded once when it arrived. */
export interface StoredMail {
  /** Unique, sortable by arrival: `<ms since 1970, 13 digits>-<16 hex digits>`. */
  readonly id: string;
  /** The envelope's recipients (RCPT TO) this server accepted it for, as the sender wrote them. */
  readonly to: readonly string[];
  /** The `From` header's address, or the envelope sender (MAIL FROM) when the header has none. */
  readonly from: string;
  /** The decoded `Subject` header; empty when absent. */
  readonly subject: string;
  /** The `Date` header as an ISO 8601 time; the arrival time when the header is absent or unreadable. */
  readonly date: string;
  /** The decoded plain-text body (the HTML one with its tags removed when there is no plain text). */
  readonly text: string;
  /** When this server stored it, ISO 8601, from the server's clock. */
  readonly receivedAt: string;
}

const isoTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A stored mail read back from disk, checked field by field; undefined when it is not one. */
export function decodeStoredMail(value: unknown): StoredMail | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { id, to, from, subject, date, text, receivedAt } = record;
  if (typeof id !== 'string' || !mailIdPattern.test(id)) return undefined;
  if (!Array.isArray(to) || to.length === 0 || !to.every((address) => typeof address === 'string'))
    return undefined;
  if (typeof from !== 'string' || typeof subject !== 'string' || typeof text !== 'string') return undefined;
  if (typeof date !== 'string' || !isoTimePattern.test(date)) return undefined;
  if (typeof receivedAt !== 'string' || !isoTimePattern.test(receivedAt)) return undefined;
  return Object.freeze({
    id,
    to: Object.freeze([...(to as string[])]),
    from,
    subject,
    date,
    text,
    receivedAt,
  });
}

/** Newest first: by arrival time, then by id (which starts with the arrival time). */
export function newestFirst(left: StoredMail, right: StoredMail): number {
  if (left.receivedAt !== right.receivedAt) return left.receivedAt < right.receivedAt ? 1 : -1;
  return left.id < right.id ? 1 : left.id > right.id ? -1 : 0;
}
