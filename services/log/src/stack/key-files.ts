import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface KeyPairText {
  readonly signerKey: string;
  readonly verifierKey: string;
}

/**
 * The key pair kept in `<dataDir>/keys/<name>.skey` (mode 0600) and
 * `.vkey`, created with `generate` the first time; in memory when there is
 * no data folder. The verifier key is always derived again from the file pair.
 */
export async function loadOrCreateKeyPair(
  dataDir: string | undefined,
  name: string,
  generate: () => Promise<KeyPairText>,
): Promise<KeyPairText> {
  if (dataDir === undefined) return generate();
  const base = join(dataDir, 'keys', name);
  try {
    const signerKey = (await readFile(`${base}.skey`, 'utf8')).trim();
    const verifierKey = (await readFile(`${base}.vkey`, 'utf8')).trim();
    return { signerKey, verifierKey };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const created = await generate();
  await mkdir(dirname(base), { recursive: true, mode: 0o700 });
  await writeFile(`${base}.skey`, `${created.signerKey}\n`, { mode: 0o600, flag: 'wx' });
  await writeFile(`${base}.vkey`, `${created.verifierKey}\n`, { mode: 0o644, flag: 'wx' });
  return created;
}
