// A child process for durable-fs.test.ts: opens a new PGlite folder with durable storage as the services
// do once started, commits a row (prints "first committed"), then makes the disk fail as `mode` says and
// commits another (prints "second committed" if it could):
// - flush-eio: the WAL's flush fails with EIO; the process must stop (status 74), never hang;
// - write-enospc: the WAL's write fails with ENOSPC (a full disk), which aborts the engine; the same;
// - directory-einval: a directory's flush says EINVAL (a file system that cannot flush directories),
//   which PostgreSQL tolerates: the commit goes on.
import { statSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { DurableNodeFs, flushFaultsForTests } from './durable-fs.ts';

const [folder, mode] = process.argv.slice(2);
if (folder === undefined || !['flush-eio', 'write-enospc', 'directory-einval'].includes(mode ?? ''))
  throw new Error('usage: <folder> flush-eio|write-enospc|directory-einval');
const fs = new DurableNodeFs(folder);
const pglite = new PGlite({ fs });
await pglite.waitReady;
fs.stopProcessOnEngineAbort();
await pglite.exec('CREATE TABLE payments (id int PRIMARY KEY)');
await pglite.query('INSERT INTO payments VALUES (1)');
console.log('first committed');
const failure = (code: string) => Object.assign(new Error(`${code}: injected by the test`), { code });
if (mode === 'flush-eio')
  flushFaultsForTests.fail = (path) => (path.includes('pg_wal') ? failure('EIO') : undefined);
let directoriesRefused = 0;
if (mode === 'directory-einval')
  flushFaultsForTests.fail = (path) => {
    if (!statSync(path).isDirectory()) return undefined;
    directoriesRefused += 1;
    return failure('EINVAL');
  };
if (mode === 'write-enospc') {
  // The engine's writes go through Emscripten's NODEFS; ENOSPC is its errno 51.
  const FS = (pglite as unknown as { Module: { FS: EmscriptenFs } }).Module.FS;
  const write = FS.filesystems.NODEFS.stream_ops.write;
  FS.filesystems.NODEFS.stream_ops.write = function (stream, ...rest) {
    if (FS.filesystems.NODEFS.realPath(stream.node).includes('pg_wal/0')) throw new FS.ErrnoError(51);
    return write.call(this, stream, ...rest);
  };
}
// A checkpoint flushes the data files and the directories too.
await pglite.query('INSERT INTO payments VALUES (2)');
await pglite.exec('CREATE TABLE refunds (id int PRIMARY KEY)');
await pglite.exec('CHECKPOINT');
console.log('second committed');
console.log(`directory flushes refused: ${directoriesRefused}`);
await pglite.close();

interface EmscriptenFs {
  ErrnoError: new (errno: number) => Error;
  filesystems: {
    NODEFS: {
      realPath(node: unknown): string;
      stream_ops: { write: (this: unknown, stream: { node: unknown }, ...rest: unknown[]) => number };
    };
  };
}
