import { createLogService, defaultOrigin, migrateLog } from '@mpay/log-service';
import { generateNoteKey } from '@mpay/merkle';
import { parseArguments, singleValue } from './arguments.ts';
import { readKey } from './files.ts';
import { exitOk, type LogCommandIo } from './io.ts';
import { serverKey } from './key-source.ts';
import { openServerDatabase, readSubmitter, runUntilStopped, serverFlags, serverSettings } from './server.ts';

export const defaultLogPort = 4110;

/**
 * `serve [--data DIR] [--port N] [--host H] [--schema-prefix P] [--origin NAME] [--skey FILE]
 *   [--submitter FILE ...] [--witness URL --witness-key FILE ...]`: the log as
 * its own process. Its key is --skey (with the .vkey beside it) or
 * DIR/keys/log.skey, created on first start;
 * prints `log <url>` and `log-key <verifier key>` once it listens.
 */
export async function runServe(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const parsed = parseArguments(args, [
    ...serverFlags,
    '--origin',
    '--skey',
    '--submitter',
    '--witness',
    '--witness-key',
  ]);
  if (parsed === undefined || parsed.positional.length > 0) return undefined;
  const settings = serverSettings(parsed, defaultLogPort);
  const origin = singleValue(parsed, '--origin');
  const skey = singleValue(parsed, '--skey');
  const witnessUrls = parsed.flags.get('--witness') ?? [];
  const witnessKeyFiles = parsed.flags.get('--witness-key') ?? [];
  if (settings === undefined || origin === null || skey === null) return undefined;
  if (witnessUrls.length !== witnessKeyFiles.length) return undefined;
  const submitters = await Promise.all(
    (parsed.flags.get('--submitter') ?? []).map((path) => readSubmitter(io, path)),
  );
  const witnesses = await Promise.all(
    witnessUrls.map(async (url, i) => ({ url, verifierKey: await readKey(io, witnessKeyFiles[i]!) })),
  );
  const key = await serverKey(io, skey, settings.dataDir, 'log', () =>
    generateNoteKey(origin ?? defaultOrigin),
  );
  const database = await openServerDatabase(settings, 'log');
  try {
    await migrateLog(database);
    const service = await createLogService({
      database,
      signerKey: key.signerKey,
      submitters,
      witnesses,
      logger: { level: 'warn' },
    });
    const url = await service.listen(settings.port, settings.host);
    service.start();
    io.stdout(`log ${url}\nlog-key ${key.verifierKey}\n`);
    await runUntilStopped(io, () => service.close());
  } finally {
    await database.close();
  }
  return exitOk;
}
