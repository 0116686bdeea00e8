import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The web workspace (web/), and the repository root whose packages the pages bundle. */
export const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const repositoryRoot = join(webRoot, '..');
/** Where builds are kept: one folder per hash of their sources, so concurrent starts never mix two builds. */
const buildsRoot = join(webRoot, 'dist');
const stampName = '.sources-sha256';

/** The sources a build depends on: the pages, and the packages they bundle (tests excluded). */
const sourceFolders = ['web/pages', 'web/src', 'packages'];
const sourceFiles = ['web/vite.config.ts', 'web/package.json', 'package-lock.json'];

async function listSources(folder: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch {
    return [];
  }
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : listSources(path);
      return entry.isFile() && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
    }),
  );
  return nested.flat();
}

/** SHA-256 over every source's path and content, in a stable order. */
export async function hashWebSources(): Promise<string> {
  const files = [
    ...(await Promise.all(sourceFolders.map((folder) => listSources(join(repositoryRoot, folder))))).flat(),
    ...sourceFiles.map((file) => join(repositoryRoot, file)),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(relative(repositoryRoot, file).split(sep).join('/'));
    hash.update('\0');
    hash.update(await readFile(file).catch(() => Buffer.alloc(0)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export type WebBuildProgress = (line: string) => void;

/**
 * The built pages for the current sources: reused when a build of the same
 * sources exists, else built with Vite (a few seconds to a minute) into a
 * private folder and moved into place whole, so a crash mid-build or two
 * processes building at once never leave a half-built folder to serve.
 * Returns the folder to serve.
 */
export async function ensureWebBuilt(progress: WebBuildProgress = () => undefined): Promise<string> {
  const sourcesHash = await hashWebSources();
  const target = join(buildsRoot, sourcesHash.slice(0, 16));
  if (await exists(join(target, stampName))) return target;
  await mkdir(buildsRoot, { recursive: true });
  const scratch = join(buildsRoot, `.building-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  progress('web: building the pages with Vite (first start after a change) …');
  try {
    const { build } = await import('vite');
    await build({
      configFile: join(webRoot, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: scratch, emptyOutDir: true },
    });
    await writeFile(join(scratch, stampName), `${sourcesHash}\n`);
    try {
      await rename(scratch, target);
    } catch (error) {
      // Another process finished the same build first: serve its copy.
      if (!(await exists(join(target, stampName)))) throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await removeOtherBuilds(target);
  progress('web: pages built');
  return target;
}

/** Keeps the build just made; older ones (other hashes) go. A scratch folder of a live build is left alone. */
async function removeOtherBuilds(keep: string): Promise<void> {
  const entries = await readdir(buildsRoot, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(buildsRoot, entry.name);
    if (!entry.isDirectory() || path === keep || entry.name.startsWith('.building-')) continue;
    // A build older than an hour is not one a running test or process just chose.
    const age = Date.now() - (await stat(path)).mtimeMs;
    if (age > 3_600_000) await rm(path, { recursive: true, force: true });
  }
}
