import { mkdir } from 'node:fs/promises';
import { parsePublicJwk } from '@mpay/envelope';
import type { Submitter } from '@mpay/log-service';
import { MpayError } from '@mpay/protocol';
import { type Database, openDatabase } from '@mpay/storage';
import { type ParsedArguments, singleValue } from './arguments.ts';
import { readTextFile } from './files.ts';
import type { LogCommandIo } from './io.ts';

/** What `serve` and `witness` share: where data lives, where to listen, how to stop. */
export interface ServerSettings {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly schemaPrefix: string;
}

export const serverFlags = ['--data', '--port', '--host', '--schema-prefix'] as const;

const schemaPrefixPattern = /^[a-z_][a-z0-9_]{0,40}$/;

/** The shared settings, or undefined for a bad command line. */
export function serverSettings(parsed: ParsedArguments, defaultPort: number): ServerSettings | undefined {
  const [data, port, host, prefix] = serverFlags.map((flag) => singleValue(parsed, flag));
  if (data === null || port === null || host === null || prefix === null) return undefined;
  if (port !== undefined && !/^(0|[1-9][0-9]{0,4})$/.test(port)) return undefined;
  if (prefix !== undefined && !schemaPrefixPattern.test(prefix)) return undefined;
  const portNumber = port === undefined ? defaultPort : Number(port);
  if (portNumber > 65_535) return undefined;
  return {
    dataDir: data ?? process.env.MPAY_DATA_DIR ?? '.mpay',
    port: portNumber,
    host: host ?? '127.0.0.1',
    schemaPrefix: prefix ?? '',
  };
}

/** PGlite in `<data>/<schema>`, or the schema on DATABASE_URL. */
export async function openServerDatabase(settings: ServerSettings, name: string): Promise<Database> {
  const url = process.env.DATABASE_URL;
  if (!url) await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  return openDatabase({
    url: url === '' ? undefined : url,
    dataDir: settings.dataDir,
    schema: `${settings.schemaPrefix}${name}`,
  });
}

/** A submitter file: `{ "id": "...", "signingJwk": { public JWK with kid } }`. */
export async function readSubmitter(io: LogCommandIo, path: string): Promise<Submitter> {
  let value: unknown;
  try {
    value = JSON.parse(await readTextFile(io, path, 'submitter file'));
  } catch (error) {
    if (error instanceof MpayError) throw error;
    throw new MpayError('REQUEST_INVALID', `submitter file ${path} is not JSON`);
  }
  const { id, signingJwk } = (value ?? {}) as { id?: unknown; signingJwk?: unknown };
  if (typeof id !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(id))
    throw new MpayError('REQUEST_INVALID', `submitter id in ${path}`);
  const jwk = parsePublicJwk(signingJwk);
  if (jwk.kid === undefined) throw new MpayError('CRYPTO_KEY_INVALID', `submitter key in ${path} has no kid`);
  return { id, signingJwk: jwk };
}

/** Waits for SIGINT or SIGTERM (or the test's stop), then runs `close`. */
export async function runUntilStopped(io: LogCommandIo, close: () => Promise<void>): Promise<void> {
  const stop =
    io.waitForStop?.() ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  await stop;
  await close();
}
