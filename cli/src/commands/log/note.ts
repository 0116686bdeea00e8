import { openNote, signNote } from '@mpay/merkle';
import { parseArguments } from './arguments.ts';
import { readKey } from './files.ts';
import { exitOk, type LogCommandIo } from './io.ts';

/** `note sign --skey FILE...`: stdin note text → stdout signed note. */
export async function runNoteSign(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const parsed = parseArguments(args, ['--skey']);
  const keyFiles = parsed?.flags.get('--skey') ?? [];
  if (parsed === undefined || parsed.positional.length > 0 || keyFiles.length === 0) return undefined;
  const signerKeys = await Promise.all(keyFiles.map((path) => readKey(io, path)));
  io.stdout(await signNote(await io.stdin(), signerKeys));
  return exitOk;
}

/** `note verify --vkey FILE`: stdin signed note → exit 0 and the text on stdout if that key's signature verifies. */
export async function runNoteVerify(args: readonly string[], io: LogCommandIo): Promise<number | undefined> {
  const parsed = parseArguments(args, ['--vkey']);
  const keyFiles = parsed?.flags.get('--vkey') ?? [];
  if (parsed === undefined || parsed.positional.length > 0 || keyFiles.length !== 1) return undefined;
  const verifierKey = await readKey(io, keyFiles[0]!);
  const opened = await openNote(await io.stdin(), [verifierKey]);
  io.stdout(opened.text);
  return exitOk;
}
