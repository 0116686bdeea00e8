import { randomBytes } from 'node:crypto';
import { assert, isMsisdn } from '@mpay/protocol';

/**
 * Names on disk. An MSISDN is checked to be E.164 before it names anything, so
 * its folder is its digits without the `+`: one path segment of 7 to 15 digits
 * that cannot name a place outside the data folder.
 */

/** An inbox folder's name: the MSISDN's digits (E.164 without its `+`). */
const inboxFolderPattern = /^[1-9][0-9]{6,14}$/;

/** A message's id: the arrival time in ms (13 digits, so ids sort by time), `-`, 16 random hex digits. */
export const smsIdPattern = /^[0-9]{13}-[0-9a-f]{16}$/;

/** A stored message's file name: its id and `.json`. */
const smsFileNamePattern = /^([0-9]{13}-[0-9a-f]{16})\.json$/;

/** Files being written start with this (a dot: hidden, and never a message file name). */
export const temporaryPrefix = '.tmp-';

/** The folder (one path segment) of an MSISDN's inbox. */
export function inboxFolderOf(msisdn: string): string {
  assert(isMsisdn(msisdn), 'an inbox is named by an E.164 MSISDN');
  const folder = msisdn.slice(1);
  assert(isInboxFolderName(folder), 'an inbox folder name is one safe path segment');
  return folder;
}

export function isInboxFolderName(name: string): boolean {
  return inboxFolderPattern.test(name);
}

/** A new id for a message received at `receivedAt`. */
export function newSmsId(receivedAt: Date): string {
  const ms = receivedAt.getTime();
  assert(
    Number.isSafeInteger(ms) && ms >= 0 && ms < 10 ** 13,
    'the clock reads a time between 1970 and 2286',
  );
  const id = `${String(ms).padStart(13, '0')}-${randomBytes(8).toString('hex')}`;
  assert(smsIdPattern.test(id), 'a new message id matches the id pattern');
  return id;
}

/** The id in a stored message's file name, or undefined for any other file (a temporary one, a stray). */
export function smsIdOfFileName(name: string): string | undefined {
  return smsFileNamePattern.exec(name)?.[1];
}

export function smsFileNameOf(id: string): string {
  assert(smsIdPattern.test(id), 'a message file is named by a valid id');
  return `${id}.json`;
}
