import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  mailboxFolderOf,
  mailFileNameOf,
  mailIdOfFileName,
  mailIdPattern,
  normalizeAddress,
} from './names.ts';
import { decodeStoredMail, newestFirst, type StoredMail } from './stored-mail.ts';
import { mailboxFolders } from './write.ts';

/** The mail stored under a data folder, read from disk at each call (another process may be writing it). */
export interface Mailbox {
  /**
   * Every mail, or the mail of one recipient address (compared after Unicode NFC,
   * trimming and lower-casing), newest first. A mail to several recipients is listed once.
   */
  list(address?: string): Promise<StoredMail[]>;
  /** One mail by id, or undefined when there is none (or the id is malformed). */
  read(id: string): Promise<StoredMail | undefined>;
}

async function readJsonOrUndefined(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    // Gone between listing and reading (a mailbox being cleared): not there.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function namesIn(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Opens the mailbox kept under `dataDir` by a mail server (`startMailServer`),
 * in this process or another one: only complete mails are listed, never a file
 * being written. A file that is not a valid stored mail, or whose content names
 * another id than its file name, is skipped.
 */
export function openMailbox(dataDir: string): Mailbox {
  const root = resolve(dataDir);

  async function readFolder(folder: string, address: string | undefined): Promise<StoredMail[]> {
    const mails: StoredMail[] = [];
    for (const name of await namesIn(join(root, folder))) {
      const id = mailIdOfFileName(name);
      if (id === undefined) continue;
      const mail = decodeStoredMail(await readJsonOrUndefined(join(root, folder, name)));
      if (mail === undefined || mail.id !== id) continue;
      // The folder name carries a 64-bit digest of the address; the mail itself must name it too.
      if (address !== undefined && !mail.to.some((to) => normalizeAddress(to) === address)) continue;
      mails.push(mail);
    }
    return mails;
  }

  return Object.freeze({
    async list(address?: string): Promise<StoredMail[]> {
      const wanted = address === undefined ? undefined : normalizeAddress(address);
      const folders = wanted === undefined ? await mailboxFolders(root) : [mailboxFolderOf(wanted)];
      const byId = new Map<string, StoredMail>();
      for (const folder of folders) {
        for (const mail of await readFolder(folder, wanted)) byId.set(mail.id, mail);
      }
      return [...byId.values()].sort(newestFirst);
    },

    async read(id: string): Promise<StoredMail | undefined> {
      if (!mailIdPattern.test(id)) return undefined;
      for (const folder of await mailboxFolders(root)) {
        const mail = decodeStoredMail(await readJsonOrUndefined(join(root, folder, mailFileNameOf(id))));
        if (mail !== undefined && mail.id === id) return mail;
      }
      return undefined;
    },
  });
}
