import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isMsisdn, MpayError } from '@mpay/protocol';
import { inboxFolderOf, smsFileNameOf, smsIdOfFileName, smsIdPattern } from './names.ts';
import { decodeStoredSms, newestFirst, type StoredSms } from './stored-sms.ts';
import { inboxFolders, messageFileNames } from './write.ts';

/** The messages stored under a data folder, read from disk at each call (another process may be writing it). */
export interface SmsInbox {
  /**
   * Every message, or those to one MSISDN (E.164, else REQUEST_INVALID), newest first.
   */
  list(msisdn?: string): Promise<StoredSms[]>;
  /** One message by id, or undefined when there is none (or the id is malformed). */
  read(id: string): Promise<StoredSms | undefined>;
}

/**
 * Largest file read as a stored message. The longest text (918 code points of
 * at most 4 UTF-8 bytes) and its fields take under 4 KiB; a larger file is not
 * one the gateway wrote, and is skipped without being read.
 */
const storedSmsBytesMax = 64 * 1024;

/** Why a file cannot be read that says it is not (or no longer) a message: skipped, not a failure. */
const notAMessage = new Set(['ENOENT', 'EISDIR']);

async function readJsonOrUndefined(path: string): Promise<unknown> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      if ((await handle.stat()).size > storedSmsBytesMax) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    // Gone between listing and reading (an inbox being cleared), or a folder under a message's name.
    if (notAMessage.has((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Opens the inboxes kept under `dataDir` by an SMS gateway (`startSmsGateway`),
 * in this process or another one: only complete messages are listed, never a
 * file being written. A file that is not a valid stored message, whose content
 * names another id than its file name, or another recipient than its folder,
 * is skipped.
 */
export function openSmsInbox(dataDir: string): SmsInbox {
  const root = resolve(dataDir);

  async function readOne(folder: string, id: string): Promise<StoredSms | undefined> {
    const sms = decodeStoredSms(await readJsonOrUndefined(join(root, folder, smsFileNameOf(id))));
    if (sms === undefined || sms.id !== id || inboxFolderOf(sms.to) !== folder) return undefined;
    return sms;
  }

  async function readFolder(folder: string): Promise<StoredSms[]> {
    const messages: StoredSms[] = [];
    for (const name of await messageFileNames(root, folder)) {
      const sms = await readOne(folder, smsIdOfFileName(name)!);
      if (sms !== undefined) messages.push(sms);
    }
    return messages;
  }

  return Object.freeze({
    async list(msisdn?: string): Promise<StoredSms[]> {
      if (msisdn !== undefined && !isMsisdn(msisdn)) throw new MpayError('REQUEST_INVALID', 'msisdn');
      const folders = msisdn === undefined ? await inboxFolders(root) : [inboxFolderOf(msisdn)];
      const messages: StoredSms[] = [];
      for (const folder of folders) messages.push(...(await readFolder(folder)));
      return messages.sort(newestFirst);
    },

    async read(id: string): Promise<StoredSms | undefined> {
      if (!smsIdPattern.test(id)) return undefined;
      for (const folder of await inboxFolders(root)) {
        const sms = await readOne(folder, id);
        if (sms !== undefined) return sms;
      }
      return undefined;
    },
  });
}
