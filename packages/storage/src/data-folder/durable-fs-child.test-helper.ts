// A child process for durable-fs.test.ts, run under strace: opens a new PGlite folder, durable
// ("durable") or as PGlite keeps it ("plain"), then commits 20 rows one by one and prints "committed".
import { PGlite } from '@electric-sql/pglite';
import { DurableNodeFs } from './durable-fs.ts';

const [folder, mode] = process.argv.slice(2);
if (folder === undefined || (mode !== 'durable' && mode !== 'plain'))
  throw new Error('usage: <folder> durable|plain');
const pglite = mode === 'durable' ? new PGlite({ fs: new DurableNodeFs(folder) }) : new PGlite(folder);
await pglite.waitReady;
await pglite.exec('CREATE TABLE payments (id int PRIMARY KEY)');
for (let id = 0; id < 20; id += 1) await pglite.query('INSERT INTO payments VALUES ($1)', [id]);
await pglite.close();
console.log('committed');
