import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's engine as every mpay database runs it: compiled once per process
 * and shared by each PGlite opened in it, with a smaller shared buffer pool.
 *
 * PGlite 0.3 starts PostgreSQL with options fixed in the WebAssembly module's
 * data, among them `shared_buffers=128MB`, and no way to pass others. The
 * engine then zeroes all 128 MB when it starts: one engine function doing it
 * took 33 % of `mpay up`'s start (`node --cpu-prof`); with 32 MB a folder
 * opens in about half the time (515 → 267 ms here), and each of a platform's
 * seven databases holds 96 MB less. mpay's services keep small tables hot; pages beyond the pool are
 * read from the folder's files through the operating system's cache.
 *
 * The option's text is rewritten in the module's bytes before it is compiled,
 * to the same length; if a PGlite upgrade no longer holds it exactly once,
 * opening fails loudly instead of running with settings nobody checked.
 */
export const pgliteSharedBuffers = '32MB';

/** The text PGlite 0.3 holds, between the NULs that end the option before it and itself. */
const fixedOption = '\0shared_buffers=128MB\0';

export interface PgliteEngine {
  readonly wasmModule: WebAssembly.Module;
  readonly fsBundle: Blob;
}

/** The module's bytes with `shared_buffers` set to `size` (at most five characters: "16MB", "128MB"). */
export function withSharedBuffers(wasm: Uint8Array, size: string): Uint8Array<ArrayBuffer> {
  const replacement = `\0shared_buffers=${size}`;
  const megabytes = Number(size.slice(0, -2));
  if (!/^[0-9]{1,3}MB$/.test(size) || megabytes < 1 || megabytes > 128)
    throw new RangeError(`shared_buffers ${size}: give 1MB to 128MB`);
  const bytes = new Uint8Array(wasm);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const needle = Buffer.from(fixedOption, 'latin1');
  const at = view.indexOf(needle);
  if (at === -1 || view.indexOf(needle, at + 1) !== -1)
    throw new Error(
      'PGlite’s engine no longer fixes shared_buffers=128MB once in its module: how mpay sizes its buffers must be checked again',
    );
  view.write(replacement.padEnd(fixedOption.length, '\0'), at, 'latin1');
  return bytes;
}

let engine: Promise<PgliteEngine> | undefined;

/** The engine of this process, compiled on first use. */
export function pgliteEngine(): Promise<PgliteEngine> {
  if (engine !== undefined) return engine;
  const compiling = (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    const [wasm, data] = await Promise.all([
      readFile(join(dist, 'pglite.wasm')),
      readFile(join(dist, 'pglite.data')),
    ]);
    const wasmModule = await WebAssembly.compile(withSharedBuffers(wasm, pgliteSharedBuffers));
    return { wasmModule, fsBundle: new Blob([data]) };
  })();
  engine = compiling;
  // A failed read or compile is not kept: the next open tries again, and says why.
  compiling.catch(() => {
    if (engine === compiling) engine = undefined;
  });
  return compiling;
}

/** A started PGlite, or none left behind: one whose start failed is closed. */
async function started(pglite: PGlite): Promise<PGlite> {
  try {
    await pglite.waitReady;
    return pglite;
  } catch (error) {
    await pglite.close().catch(() => undefined);
    throw error;
  }
}

let freshCluster: Promise<Blob | undefined> | undefined;

/**
 * A new in-memory PGlite. The first of a process runs PGlite's initdb and
 * keeps a copy of the new, still empty cluster's files (before anyone uses
 * it); every later one starts from that copy instead of running initdb again
 * (about 0.35 s less each, on this project's 2-core machines: a platform
 * opens seven). If the copy cannot be made, the database is still handed
 * over, and the next one runs initdb and tries again.
 */
export async function newInMemoryPglite(): Promise<PGlite> {
  const engine = await pgliteEngine();
  const files = freshCluster === undefined ? undefined : await freshCluster;
  if (files !== undefined) return started(new PGlite({ ...engine, loadDataDir: files }));
  // Either no copy yet, or the one being made failed: this database runs initdb. Only one copy
  // is made at a time; no await runs between looking at freshCluster and setting it.
  const copying = freshCluster === undefined;
  let copied: (files: Blob | undefined) => void = () => undefined;
  if (copying) freshCluster = new Promise((resolve) => (copied = resolve));
  let pglite: PGlite;
  try {
    pglite = await started(new PGlite({ ...engine }));
  } catch (error) {
    if (copying) {
      freshCluster = undefined;
      copied(undefined);
    }
    throw error;
  }
  if (!copying) return pglite;
  const dump = await pglite.dumpDataDir('none').catch(() => undefined);
  if (dump === undefined) freshCluster = undefined;
  copied(dump);
  return pglite;
}
