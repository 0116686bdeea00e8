import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startPlatform } from '../platform/start.ts';
import type { CommandIo } from './io.ts';

export interface Deployment {
  gateway: string;
  bank: string;
  merchantShop: string;
  fspId: string;
  pid: number;
}

export function dataDirOf(flags: Map<string, string>): string {
  return resolve(flags.get('data') ?? process.env.MPAY_DATA_DIR ?? '.mpay');
}

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new Error(`${name} must be a port number`);
  return value;
}

/** `mpay up`: every service in one process on the embedded database (or DATABASE_URL). */
export async function runUp(flags: Map<string, string>, io: CommandIo): Promise<number> {
  const dataDir = dataDirOf(flags);
  const databaseUrl = process.env.DATABASE_URL;
  io.stdout(
    `mpay: starting on ${databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${dataDir}`} …\n`,
  );
  const platform = await startPlatform({
    dataDir,
    databaseUrl,
    ports: {
      gateway: port('MPAY_GATEWAY_PORT', 4100),
      bank: port('MPAY_BANK_PORT', 4101),
      merchantShop: port('MPAY_SHOP_PORT', 4102),
    },
    logger: flags.has('verbose') ? { level: 'info' } : false,
  });
  const deployment: Deployment = { ...platform.urls, fspId: platform.fsp.id, pid: process.pid };
  await writeFile(join(dataDir, 'deployment.json'), `${JSON.stringify(deployment, null, 2)}\n`);
  io.stdout(
    [
      `  gateway (FSP ${platform.fsp.id})   ${platform.urls.gateway}`,
      `  bank xbank                   ${platform.urls.bank}`,
      `  merchant shop (webhooks)     ${platform.urls.merchantShop}`,
      '',
      '  demo parties:',
      `    customer  john.bernard@person.xbank  (+38970123456, PIN ${platform.credentials.customerPin})`,
      '    merchant  merkur.trade@merchant.xbank',
      '',
      'Run `npx mpay demo` in another terminal for a payment end to end. Ctrl-C stops.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  io.stdout('mpay: stopping …\n');
  await platform.close();
  return 0;
}
