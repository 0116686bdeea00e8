import { isMpayError } from '@mpay/protocol';
import { exitFailure, exitOk, exitUsage, type LogCommandIo } from './io.ts';
import { runKeygen } from './keygen.ts';
import { runNoteSign, runNoteVerify } from './note.ts';
import { runServe } from './serve.ts';
import { logUsage } from './usage.ts';
import { runVerify } from './verify.ts';
import { runWitness } from './witness.ts';

export type { LogCommandIo } from './io.ts';
export { logUsage } from './usage.ts';

type Command = (args: readonly string[], io: LogCommandIo) => Promise<number | undefined>;

/** Dispatch table: words of the command line → command. A command returns undefined for bad arguments. */
const commands: ReadonlyArray<[readonly string[], Command]> = [
  [['note', 'sign'], runNoteSign],
  [['note', 'verify'], runNoteVerify],
  [['keygen'], runKeygen],
  [['verify'], runVerify],
  [['serve'], runServe],
  [['witness'], runWitness],
];

/** The writer the `mpay` binary uses when its caller passes none. */
async function writeNodeFile(path: string, contents: string, options: { mode: number; exclusive: boolean }) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, contents, { mode: options.mode, flag: options.exclusive ? 'wx' : 'w' });
}

/**
 * `mpay log ...`: the transparency log's tools (keys, notes, receipts) and servers. Returns the exit
 * status. Errors are reported as `error <CODE>: <message>` on stderr, with the
 * stable code from the mpay error catalogue.
 */
export async function runLogCommand(args: string[], io: LogCommandIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(logUsage);
    return exitOk;
  }
  const match = commands.find(([words]) => words.every((word, i) => args[i] === word));
  if (match === undefined) {
    io.stderr(logUsage);
    return exitUsage;
  }
  try {
    const status = await match[1](args.slice(match[0].length), {
      ...io,
      writeFile: io.writeFile ?? writeNodeFile,
    });
    if (status !== undefined) return status;
    io.stderr(logUsage);
    return exitUsage;
  } catch (error) {
    if (!isMpayError(error)) throw error;
    const detail = error.detail === undefined ? '' : ` (${error.detail})`;
    io.stderr(`error ${error.code}: ${error.message}${detail}\n`);
    return exitFailure;
  }
}
