import { isMsisdn } from '@mpay/protocol';
import { smsIdPattern } from './names.ts';

/** One received SMS as the inbox keeps it. */
export interface StoredSms {
  /** Unique, sortable by arrival: `<ms since 1970, 13 digits>-<16 hex digits>`. */
  readonly id: string;
  /** The sender id the message came with (`mpay`, or an MSISDN). */
  readonly from: string;
  /** The recipient's MSISDN, E.164. */
  readonly to: string;
  readonly text: string;
  /** When the gateway stored it, ISO 8601, from the gateway's clock. */
  readonly receivedAt: string;
}

const isoTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A stored message read back from disk, checked field by field; undefined when it is not one. */
export function decodeStoredSms(value: unknown): StoredSms | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { id, from, to, text, receivedAt } = value as Record<string, unknown>;
  if (typeof id !== 'string' || !smsIdPattern.test(id)) return undefined;
  if (typeof from !== 'string' || !isMsisdn(to) || typeof text !== 'string') return undefined;
  if (typeof receivedAt !== 'string' || !isoTimePattern.test(receivedAt)) return undefined;
  return Object.freeze({ id, from, to, text, receivedAt });
}

/** Newest first: by arrival time, then by id (which starts with the arrival time). */
export function newestFirst(left: StoredSms, right: StoredSms): number {
  if (left.receivedAt !== right.receivedAt) return left.receivedAt < right.receivedAt ? 1 : -1;
  return left.id < right.id ? 1 : left.id > right.id ? -1 : 0;
}
