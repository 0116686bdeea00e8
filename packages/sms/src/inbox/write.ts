import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  inboxFolderOf,
  isInboxFolderName,
  smsFileNameOf,
  smsIdOfFileName,
  temporaryPrefix,
} from './names.ts';
import type { StoredSms } from './stored-sms.ts';

/*
 * Layout: <dataDir>/<MSISDN digits>/<message id>.json, one folder per recipient.
 *
 * Durability: a message is written to a temporary file in its folder, fsynced,
 * renamed to its final name and the folder fsynced, so that a file with a
 * message's name is always complete. A crash leaves at most a temporary file,
 * which readers never list and the next gateway start removes. The gateway
 * answers 202 only once the message is durable; a crash before that means the
 * sender never heard "accepted" and sends again (at least once).
 *
 * Messages hold secrets (one-time login codes): folders are 0700 and files 0600.
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

/** The data folder's inbox folders (anything else in it is ignored). */
export async function inboxFolders(dataDir: string): Promise<string[]> {
  return (await listOrEmpty(dataDir)).filter(isInboxFolderName);
}

/** The names of the stored messages in one inbox folder (temporary files and strays left out). */
export async function messageFileNames(dataDir: string, folder: string): Promise<string[]> {
  return (await listOrEmpty(join(dataDir, folder))).filter((name) => smsIdOfFileName(name) !== undefined);
}

/** How many messages the inbox of `msisdn` holds. */
export async function countSms(dataDir: string, msisdn: string): Promise<number> {
  return (await messageFileNames(dataDir, inboxFolderOf(msisdn))).length;
}

/** Creates the data folder and removes what a crash left half-written. */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: folderMode });
  for (const folder of await inboxFolders(dataDir)) {
    for (const name of await listOrEmpty(join(dataDir, folder))) {
      if (name.startsWith(temporaryPrefix)) await unlink(join(dataDir, folder, name));
    }
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

/** Stores `sms` in the inbox of its recipient; returns once it is durable. */
export async function writeSms(dataDir: string, sms: StoredSms): Promise<void> {
  const folderName = inboxFolderOf(sms.to);
  await ensureFolder(dataDir, folderName);
  const folder = join(dataDir, folderName);
  const temporary = join(folder, `${temporaryPrefix}${randomBytes(8).toString('hex')}`);
  const handle = await open(temporary, 'wx', fileMode);
  try {
    await handle.writeFile(`${JSON.stringify(sms)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(folder, smsFileNameOf(sms.id)));
  await fsyncDirectory(folder);
}
