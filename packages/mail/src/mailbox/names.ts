import { createHash, randomBytes } from 'node:crypto';
import { assert } from '@mpay/protocol';

/**
 * Names on disk. A recipient address never becomes a path as it is: it is
 * mapped to one folder name from a small alphabet, so that no address (`../../x@y`,
 * `a/b@c`, a NUL, a 250-character one) can name a place outside the data folder.
 */

/** Longest address (RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets). */
export const addressLengthMax = 254;

/** The readable part of a folder name keeps at most this many characters of the address. */
const readableLengthMax = 64;
const digestHexLength = 16;

/** `<readable part>~<16 hex digits of SHA-256(address)>`: `~` never occurs in the readable part. */
const folderNamePattern = /^[a-z0-9@._+-]{0,64}~[0-9a-f]{16}$/;

/** A mail's id: the arrival time in ms (13 digits, so ids sort by time), `-`, 16 random hex digits. */
export const mailIdPattern = /^[0-9]{13}-[0-9a-f]{16}$/;

/** A stored mail's file name: its id and `.json`. */
const mailFileNamePattern = /^([0-9]{13}-[0-9a-f]{16})\.json$/;

/** Files being written start with this (a dot: hidden, and never a mail file name). */
export const temporaryPrefix = '.tmp-';

/** One address, one mailbox: Unicode NFC, no surrounding space, lower case. */
export function normalizeAddress(address: string): string {
  return address.normalize('NFC').trim().toLowerCase();
}

/**
 * The folder (one path segment) of an address's mailbox. The readable part keeps
 * `[a-z0-9@._+-]` and turns everything else into `_` (and leading dots and dashes,
 * so the name is never `.`, `..`, hidden, or an option); the digest of the whole
 * address keeps two addresses with the same readable part apart.
 */
export function mailboxFolderOf(address: string): string {
  const normalized = normalizeAddress(address);
  const readable = normalized
    .replace(/[^a-z0-9@._+-]/g, '_')
    .replace(/^[.-]+/, (lead) => '_'.repeat(lead.length))
    .slice(0, readableLengthMax);
  const digest = createHash('sha256').update(normalized, 'utf8').digest('hex').slice(0, digestHexLength);
  const folder = `${readable}~${digest}`;
  assert(isMailboxFolderName(folder), 'a mailbox folder name is one safe path segment');
  return folder;
}

export function isMailboxFolderName(name: string): boolean {
  return folderNamePattern.test(name) && !name.startsWith('.') && !name.startsWith('-');
}

/** A new id for a mail received at `receivedAt`. */
export function newMailId(receivedAt: Date): string {
  const ms = receivedAt.getTime();
  assert(
    Number.isSafeInteger(ms) && ms >= 0 && ms < 10 ** 13,
    'the clock reads a time between 1970 and 2286',
  );
  const id = `${String(ms).padStart(13, '0')}-${randomBytes(8).toString('hex')}`;
  assert(mailIdPattern.test(id), 'a new mail id matches the id pattern');
  return id;
}

/** The id in a stored mail's file name, or undefined for any other file (a temporary one, a stray). */
export function mailIdOfFileName(name: string): string | undefined {
  return mailFileNamePattern.exec(name)?.[1];
}

export function mailFileNameOf(id: string): string {
  assert(mailIdPattern.test(id), 'a mail file is named by a valid id');
  return `${id}.json`;
}
