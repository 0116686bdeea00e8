import { generateCosignerKey, generateNoteKey } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import { parseArguments } from './arguments.ts';
import { exitOk, type LogCommandIo } from './io.ts';

/** A file name for a key name: key names may contain '/', ':' and any non-space Unicode. */
export function keyFileBase(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

function joinPath(directory: string, file: string): string {
  return directory.endsWith('/') ? `${directory}${file}` : `${directory}/${file}`;
}

async function writeNewFile(
  writeFile: NonNullable<LogCommandIo['writeFile']>,
  path: string,
  contents: string,
  mode: number,
): Promise<void> {
  try {
    await writeFile(path, contents, { mode, exclusive: true });
  } catch (error) {
    throw new MpayError('INTERNAL', `cannot create ${path} (it must not exist yet)`, { cause: error });
  }
}

/** `keygen NAME [--witness] [--out DIR]`: a note key (type 0x01), or with --witness a cosigner key (0x04). */
export async function runKeygen(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const parsed = parseArguments(args, ['--out'], ['--witness']);
  const out = parsed?.flags.get('--out') ?? [];
  if (parsed === undefined || parsed.positional.length !== 1 || out.length > 1) return undefined;
  const generate = parsed.switches.has('--witness') ? generateCosignerKey : generateNoteKey;
  const { signerKey, verifierKey } = await generate(parsed.positional[0]!);
  const directory = out[0];
  if (directory === undefined) {
    io.stdout(`${signerKey}\n${verifierKey}\n`);
    return exitOk;
  }
  if (io.writeFile === undefined) throw new MpayError('INTERNAL', 'no file writer');
  const base = joinPath(directory, keyFileBase(parsed.positional[0]!));
  await writeNewFile(io.writeFile, `${base}.skey`, `${signerKey}\n`, 0o600);
  await writeNewFile(io.writeFile, `${base}.vkey`, `${verifierKey}\n`, 0o644);
  io.stdout(`${verifierKey}\n`);
  return exitOk;
}
