import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '@mpay/protocol';
import {
  isMailboxFolderName,
  mailboxFolderOf,
  mailFileNameOf,
  mailIdOfFileName,
  temporaryPrefix,
} from './names.ts';
import type { StoredMail } from './stored-mail.ts';

/*
 * Layout: <dataDir>/<mailbox folder>/<mail id>.json, one folder per recipient
 * address (see names.ts), one copy of the mail in each recipient's folder.
 *
 * Durability: each copy is written to a temporary file in the same folder,
 * fsynced, renamed to its final name and the folder fsynced, so that a file with
 * a mail's name is always complete. A crash leaves at most a temporary file,
 * which readers never list and the next server start removes. The server answers
 * 250 only after every copy is durable; a crash before that means the sender
 * never heard "accepted" and sends again (at least once: a recipient whose copy
 * was already written may then see the mail twice).
 *
 * Mail holds secrets (an mPIN): folders are 0700 and files 0600.
 */

const folderMode = 0o700;
const fileMode = 0o600;

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function listOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The data folder's mailbox folders (anything else in it is ignored). */
export async function mailboxFolders(dataDir: string): Promise<string[]> {
  return (await listOrEmpty(dataDir)).filter(isMailboxFolderName);
}

/** How many mails the mailbox of `address` holds. */
export async function countMail(dataDir: string, address: string): Promise<number> {
  const names = await listOrEmpty(join(dataDir, mailboxFolderOf(address)));
  return names.filter((name) => mailIdOfFileName(name) !== undefined).length;
}

/** Creates the data folder and removes what a crash left half-written. */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: folderMode });
  for (const folder of await mailboxFolders(dataDir)) {
    for (const name of await listOrEmpty(join(dataDir, folder))) {
      if (name.startsWith(temporaryPrefix)) await unlink(join(dataDir, folder, name));
    }
  }
}

async function writeDurably(folder: string, name: string, content: string): Promise<void> {
  const temporary = join(folder, `${temporaryPrefix}${randomBytes(8).toString('hex')}`);
  const handle = await open(temporary, 'wx', fileMode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(folder, name));
  await fsyncDirectory(folder);
}

/** Stores one copy of `mail` in the mailbox of each of its recipients; returns once all are durable. */
export async function writeMail(dataDir: string, mail: StoredMail): Promise<void> {
  assert(mail.to.length > 0, 'a stored mail has at least one recipient');
  const folders = new Set(mail.to.map(mailboxFolderOf));
  const content = `${JSON.stringify(mail)}\n`;
  for (const folder of folders) {
    await ensureFolder(dataDir, folder);
    await writeDurably(join(dataDir, folder), mailFileNameOf(mail.id), content);
  }
}

async function ensureFolder(dataDir: string, folder: string): Promise<void> {
  try {
    await mkdir(join(dataDir, folder), { mode: folderMode });
    // A new folder's own name must be durable too: fsync the data folder that holds it.
    await fsyncDirectory(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
