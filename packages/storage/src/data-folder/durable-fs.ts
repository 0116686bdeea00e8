/**
 * PGlite's folder storage, made durable: a commit reaches the disk.
 *
 * PGlite keeps a data folder through Emscripten's NODEFS. There, PostgreSQL's
 * `fdatasync()` (its WAL flush at every commit: `wal_sync_method` is
 * `fdatasync`) is a system call that checks the descriptor and reports
 * success, and `fsync()` (data files at a checkpoint, a directory after a
 * file was created or renamed) does nothing either, since NODEFS has no
 * fsync operation. Found by reading PGlite 0.3's Emscripten glue and checked
 * with `strace` (data-folder/durable-fs.test.ts): not one fsync or fdatasync
 * reached the kernel. A committed payment stayed in the kernel's page cache:
 * kept when the process is killed, lost when the machine loses power or its
 * kernel crashes, and the database possibly damaged, once a checkpoint has
 * recycled WAL that still described pages never written.
 *
 * Here both reach the disk, where PostgreSQL asks for them:
 * - `fdatasync(fd)` on a file of the folder becomes `fs.fdatasyncSync` on its
 *   real descriptor; `fsync(fd)` becomes `fs.fsyncSync`;
 * - `fsync` on a directory of the folder opens the real directory and syncs it;
 * - a stream outside the folder (PGlite's in-memory files) has nothing to sync.
 *
 * A failed sync stops the process (`stopOnFailedFlush`). PostgreSQL itself
 * would PANIC and restart from its WAL (`data_sync_retry` is off): after a
 * failed flush, the kernel may have dropped the pages it could not write, so
 * nothing in memory can be trusted. PGlite cannot restart its engine, and
 * told EIO it froze the whole process, timers and other services included,
 * without a word (measured: the event loop never ran again). So mpay says
 * which file of which folder failed and why, on stderr, and exits with
 * status 74 (EX_IOERR). A supervisor (`mpay up --processes`, systemd)
 * restarts the service, which recovers from what the disk holds, as
 * PostgreSQL proper does after a PANIC.
 *
 * The cost: each sync blocks the process's event loop for the disk's flush
 * time (docs/benchmarks.md has the measured effect on a payment). PostgreSQL
 * proper pays the same flush, in its own process.
 */

import { closeSync, constants, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** Emscripten's numbering (not Linux's) of the one error a sync reports itself. */
const emscriptenErrno = { EBADF: 8 } as const;

/** The exit status of a process stopped by a failed flush: EX_IOERR (sysexits.h). */
export const failedFlushExitStatus = 74;

/** What a failed flush is reported with before the process stops. */
export interface FailedFlush {
  /** The data folder. */
  readonly folder: string;
  /** The file or directory whose flush failed. */
  readonly path: string;
  readonly error: Error;
}

/**
 * The line a failed flush writes to stderr, then the exit (see the module's
 * comment). The process cannot go on: the engine that asked for the flush
 * must not be answered at all.
 */
export function stopOnFailedFlush(failure: FailedFlush): never {
  const code = (failure.error as NodeJS.ErrnoException).code ?? failure.error.name;
  return stopProcess(
    `the embedded database in ${failure.folder} could not flush ${failure.path} to the disk (${code}: ${failure.error.message}); the last commit may not be on the disk, and nothing this process holds can be trusted`,
  );
}

/**
 * The same stop when the engine itself gave up after the start (`Aborted()`):
 * a write it could not make (ENOSPC: the disk is full) or any other PANIC.
 * PGlite cannot run its engine again, and the next statement froze the
 * process (measured by a review: a 2 s timer had not fired after 25 s).
 */
export function stopOnEngineAbort(folder: string, what: unknown): never {
  return stopProcess(
    `the embedded database engine of ${folder} stopped (${String(what)}): a write to the folder failed (a full disk?) or the engine hit an error it cannot go on from`,
  );
}

function stopProcess(why: string): never {
  process.stderr.write(
    `mpay: fatal: STORAGE_UNAVAILABLE: ${why}: this process stops now (status ${failedFlushExitStatus}); a supervisor restarts it (mpay up --processes, systemd), and the restart recovers from what the disk holds (mpay up in one process stops with all its services)\n`,
  );
  process.exit(failedFlushExitStatus);
}

/**
 * What PostgreSQL tolerates from the flush of a directory (fsync_fname_ext):
 * a file system that cannot flush directories says so with these, and the
 * flush of the files in it stands. Anything else is a failed flush.
 */
const directoryFlushUnsupported: ReadonlySet<string> = new Set(['EBADF', 'EINVAL', 'EACCES']);

/**
 * Tests only (not exported by the package): a flush fails with this error
 * instead of reaching the kernel, when it returns one for the path.
 */
export const flushFaultsForTests: {
  fail: ((path: string) => Error | undefined) | undefined;
} = { fail: undefined };

interface EmscriptenNode {
  readonly mode: number;
  readonly mount: { readonly type: unknown };
}

interface EmscriptenStream {
  readonly node: EmscriptenNode;
  /** The real descriptor, on a NODEFS file (directories have none). */
  readonly nfd?: number;
}

interface EmscriptenFs {
  getStream(fd: number): EmscriptenStream | null | undefined;
  isDir(mode: number): boolean;
  ErrnoError: new (errno: number) => Error;
  filesystems: {
    NODEFS: {
      realPath(node: EmscriptenNode): string;
      stream_ops: { fsync?: (stream: EmscriptenStream) => number };
    };
  };
}

interface EmscriptenModule {
  FS: EmscriptenFs;
}

type WasmImports = Record<string, Record<string, unknown>>;
type InstantiateWasm = (imports: WasmImports, done: (...args: unknown[]) => void) => unknown;

/** Syncs made so far, by kind (for tests and diagnostics). */
export interface DurableSyncCounts {
  /** fdatasync on a file: PostgreSQL's WAL flush at a commit. */
  dataOnly: number;
  /** fsync on a file: data files at a checkpoint, WAL segments. */
  files: number;
  /** fsync on a directory, after a file in it was created, renamed or removed. */
  directories: number;
}

export class DurableNodeFs extends NodeFS {
  readonly syncs: DurableSyncCounts = { dataOnly: 0, files: 0, directories: 0 };
  readonly #folder: string;
  readonly #onFailedFlush: (failure: FailedFlush) => never;
  #stopOnAbort = false;

  /** `onFailedFlush` (tests): what a failed flush does instead of stopping the process; it must not return. */
  constructor(folder: string, options: { readonly onFailedFlush?: (failure: FailedFlush) => never } = {}) {
    super(folder);
    this.#folder = folder;
    this.#onFailedFlush = options.onFailedFlush ?? stopOnFailedFlush;
  }

  /**
   * From now on an abort of the engine stops the process (stopOnEngineAbort).
   * Called once the database has started and passed its start checks: an
   * abort while it starts is a folder it cannot open, which the opener
   * reports itself (STORAGE_UNAVAILABLE naming the folder, a refused start).
   */
  stopProcessOnEngineAbort(): void {
    this.#stopOnAbort = true;
  }

  override async init(pg: PGlite, options: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, options);
    let fs: EmscriptenFs | undefined;
    const sync = (stream: EmscriptenStream, dataOnly: boolean): void => {
      if (fs === undefined || stream.node.mount.type !== fs.filesystems.NODEFS) return;
      const nodefs = fs.filesystems.NODEFS;
      // The real path only where it is needed: a directory, a failure, a test's fault (not every commit's flush).
      const pathOf = () => nodefs.realPath(stream.node);
      let directory = false;
      try {
        directory = fs.isDir(stream.node.mode);
        const nfd = stream.nfd;
        const injected = flushFaultsForTests.fail?.(pathOf());
        if (injected !== undefined) throw injected;
        if (directory) {
          syncDirectory(pathOf());
          this.syncs.directories += 1;
        } else if (nfd !== undefined && dataOnly) {
          fdatasyncSync(nfd);
          this.syncs.dataOnly += 1;
        } else if (nfd !== undefined) {
          fsyncSync(nfd);
          this.syncs.files += 1;
        }
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (directory && code !== undefined && directoryFlushUnsupported.has(code)) return;
        let path = '(a file of the folder)';
        try {
          path = pathOf();
        } catch {
          // Named as above: the failure is reported all the same.
        }
        this.#onFailedFlush({
          folder: this.#folder,
          path,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    };
    const instantiate = emscriptenOpts.instantiateWasm as InstantiateWasm | undefined;
    if (instantiate === undefined)
      throw new Error('PGlite no longer instantiates its engine through its options');
    const preRun = (emscriptenOpts.preRun ?? []) as ((module: EmscriptenModule) => void)[];
    const onAbort = emscriptenOpts.onAbort as ((what: unknown) => void) | undefined;
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        // Emscripten calls it from abort(), before it throws RuntimeError: Aborted() into PGlite.
        onAbort: (what: unknown) => {
          if (this.#stopOnAbort) stopOnEngineAbort(this.#folder, what);
          onAbort?.(what);
        },
        preRun: [
          ...preRun,
          (module: EmscriptenModule) => {
            fs = module.FS;
            const owned = fs;
            // Returned to the engine's fsync as WASI's fd_sync expects: 0 (a failure stops the process first).
            owned.filesystems.NODEFS.stream_ops.fsync = (stream) => {
              sync(stream, false);
              return 0;
            };
          },
        ],
        instantiateWasm: (imports: WasmImports, done: (...args: unknown[]) => void) => {
          const env = imports.env;
          if (env === undefined || typeof env.__syscall_fdatasync !== 'function')
            throw new Error(
              'PGlite’s engine no longer imports fdatasync: its durability must be checked again',
            );
          // A system call's answer: 0, or a negative errno.
          env.__syscall_fdatasync = (fd: number): number => {
            // Emscripten keeps a closed descriptor's slot as null.
            const stream = fs?.getStream(fd);
            if (stream === undefined || stream === null) return -emscriptenErrno.EBADF;
            sync(stream, true);
            return 0;
          };
          return instantiate(imports, done);
        },
      } as typeof emscriptenOpts,
    };
  }
}

/** fsync on a directory: what it lists (a file created, renamed or removed in it) survives a power loss. */
export function syncDirectory(path: string): void {
  const directory = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** Files flushed at once while a new folder is synced (the flushes run on libuv's threads, not the event loop). */
const treeSyncConcurrency = 8;

async function filesAndDirectoriesUnder(
  folder: string,
  files: string[],
  directories: string[],
): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) await filesAndDirectoriesUnder(path, files, directories);
    else if (entry.isFile()) files.push(path);
  }
  directories.push(folder);
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Every file and directory under `folder` flushed to disk, as `initdb` does
 * before it reports a new cluster: PGlite writes its first cluster through
 * the same NODEFS, never synced. Files first, then the directories that list
 * them, deepest first.
 */
export async function syncFolderTree(folder: string): Promise<void> {
  const files: string[] = [];
  const directories: string[] = [];
  await filesAndDirectoriesUnder(folder, files, directories);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const path = files[next++];
      if (path !== undefined) await syncFile(path);
    }
  };
  await Promise.all(Array.from({ length: treeSyncConcurrency }, worker));
  for (const directory of directories) await syncFile(directory);
}
