// A child process for durable-fs.test.ts: opens a new PGlite folder with durable storage, commits a
// row, then makes the flush of its WAL fail (EIO, as a disk that failed would) and commits another.
// Prints "first committed" after the first; a failed flush must then stop it (status 74, the cause on
// stderr), never let it print "second committed" nor hang.
import { PGlite } from '@electric-sql/pglite';
import { DurableNodeFs, flushFaultsForTests } from './durable-fs.ts';

const [folder] = process.argv.slice(2);
if (folder === undefined) throw new Error('usage: <folder>');
const pglite = new PGlite({ fs: new DurableNodeFs(folder) });
await pglite.waitReady;
await pglite.exec('CREATE TABLE payments (id int PRIMARY KEY)');
await pglite.query('INSERT INTO payments VALUES (1)');
console.log('first committed');
flushFaultsForTests.fail = (path) =>
  path.includes('pg_wal')
    ? Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 })
    : undefined;
await pglite.query('INSERT INTO payments VALUES (2)');
console.log('second committed');
