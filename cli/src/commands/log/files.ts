import { MpayError } from '@mpay/protocol';
import type { LogCommandIo } from './io.ts';

/** Reads a text file; a missing or unreadable one is NOT_FOUND with its path. */
export async function readTextFile(io: LogCommandIo, path: string, what: string): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (error) {
    throw new MpayError('NOT_FOUND', `cannot read ${what} ${path}`, { cause: error });
  }
}

/** A key file holds one key; surrounding whitespace is ignored. */
export async function readKey(io: LogCommandIo, path: string): Promise<string> {
  return (await readTextFile(io, path, 'key file')).trim();
}
