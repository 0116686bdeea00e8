import { open } from 'node:fs/promises';

/**
 * A file's text, at most `lengthMax` bytes: undefined when it is missing, the
 * Error when it cannot be read or is longer (read no further than that).
 * The CA files of the trust bundle and the revocation lists are read so.
 */
export async function readBounded(path: string, lengthMax: number): Promise<string | undefined | Error> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : (error as Error);
  }
  try {
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
