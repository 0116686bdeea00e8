import { createWitnessServer, defaultWitnessName, migrateWitness, Witness } from '@mpay/log-service';
import { generateCosignerKey, parseVerifierKey } from '@mpay/merkle';
import { parseArguments, singleValue } from './arguments.ts';
import { readKey } from './files.ts';
import { exitOk, type LogCommandIo } from './io.ts';
import { serverKey } from './key-source.ts';
import { openServerDatabase, runUntilStopped, serverFlags, serverSettings } from './server.ts';

export const defaultWitnessPort = 4111;

/**
 * `witness --log-key FILE [--log-key FILE ...] [--data DIR] [--port N] [--host H]
 *   [--schema-prefix P] [--name NAME] [--skey FILE]`: a witness (c2sp.org/tlog-witness) for
 * those logs as its own process. Its cosigner key is --skey or DIR/keys/log-witness.skey,
 * created on first start; prints `witness <url>` and `witness-key <verifier key>`.
 */
export async function runWitness(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const parsed = parseArguments(args, [...serverFlags, '--log-key', '--name', '--skey']);
  if (parsed === undefined || parsed.positional.length > 0) return undefined;
  const settings = serverSettings(parsed, defaultWitnessPort);
  const name = singleValue(parsed, '--name');
  const skey = singleValue(parsed, '--skey');
  const logKeyFiles = parsed.flags.get('--log-key') ?? [];
  if (settings === undefined || name === null || skey === null || logKeyFiles.length === 0) return undefined;
  const logs = await Promise.all(
    logKeyFiles.map(async (path) => {
      const verifierKey = await readKey(io, path);
      return { origin: (await parseVerifierKey(verifierKey)).name, verifierKey };
    }),
  );
  const key = await serverKey(io, skey, settings.dataDir, 'log-witness', () =>
    generateCosignerKey(name ?? defaultWitnessName),
  );
  const database = await openServerDatabase(settings, 'log_witness');
  try {
    await migrateWitness(database);
    const witness = await Witness.create({
      database,
      signerKey: key.signerKey,
      logs,
      onAlarm: (alarm) =>
        io.stderr(
          `witness alarm ${alarm.code}: ${alarm.origin} held ${alarm.heldTreeSize}, refused ${alarm.refusedTreeSize}\n`,
        ),
    });
    const server = createWitnessServer(witness, { logger: { level: 'warn' } });
    const url = await server.listen({ port: settings.port, host: settings.host });
    io.stdout(`witness ${url}\nwitness-key ${key.verifierKey}\n`);
    await runUntilStopped(io, () => server.close());
  } finally {
    await database.close();
  }
  return exitOk;
}
