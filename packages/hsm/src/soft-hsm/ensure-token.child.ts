/**
 * `node --import tsx ensure-token.child.ts DIRECTORY LABEL`: ensures a softhsm2
 * token from another process, for the tests of what one process sees of the
 * tokens another one makes.
 */
import { ensureSoftHsmToken } from './ensure-token.ts';

const [directory, tokenLabel] = process.argv.slice(2);
if (directory === undefined || tokenLabel === undefined) {
  process.stderr.write('usage: ensure-token.child.ts DIRECTORY LABEL\n');
  process.exit(2);
}
await ensureSoftHsmToken({ directory, tokenLabel });
process.stdout.write('ready\n');
