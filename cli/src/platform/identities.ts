import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type GeneratedKeyPair, generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';

export interface PartyKeys {
  signing: GeneratedKeyPair;
  encryption: GeneratedKeyPair;
}

export async function generatePartyKeys(): Promise<PartyKeys> {
  return { signing: await generateSigningKeyPair('ES256'), encryption: await generateEncryptionKeyPair() };
}

/** Reads a JSON secret from the data folder, or creates it (mode 0600) the first time. */
export async function loadOrCreate<T>(
  dataDir: string | undefined,
  name: string,
  create: () => Promise<T>,
): Promise<T> {
  if (dataDir === undefined) return create();
  const path = join(dataDir, name);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = await create();
  await writeSecret(path, value);
  return value;
}

export async function writeSecret(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}
