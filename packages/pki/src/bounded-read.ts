import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * A file's text, at most `lengthMax` bytes: undefined when it is missing, the
 * Error when it cannot be read, is not a regular file (opened non-blocking, so
 * a FIFO put there cannot hold the caller) or is longer (read no further than
 * that). The CA files of the trust bundle, the revocation lists and the
 * operator's gateway limits are read so.
 */
export async function readBounded(path: string, lengthMax: number): Promise<string | undefined | Error> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : (error as Error);
  }
  try {
    if (!(await handle.stat()).isFile()) return new Error('not a regular file');
    const buffer = Buffer.alloc(lengthMax + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return bytesRead > lengthMax
      ? new Error(`longer than ${lengthMax} bytes`)
      : buffer.toString('utf8', 0, bytesRead);
  } catch (error) {
    return error as Error;
  } finally {
    await handle.close();
  }
}
