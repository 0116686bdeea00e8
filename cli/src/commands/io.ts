export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** `--name value`, `--name=value` and bare `--flag` into a map; the rest stay positional. */
/** The flags that take a value, for a command that declares none of its own (main.ts's table declares the others'). */
const defaultValueFlags: readonly string[] = ['out', 'data', 'format', 'level', 'amount', 'fail', 'gateways'];

export function parseFlags(
  args: readonly string[],
  valueFlags: readonly string[] = defaultValueFlags,
): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const next = args[index + 1];
    if (inline !== undefined) flags.set(name, inline);
    else if (next !== undefined && !next.startsWith('--') && valueFlags.includes(name)) {
      flags.set(name, next);
      index += 1;
    } else flags.set(name, 'true');
  }
  return { flags, positional };
}

/**
 * How `mpay up` runs once started: until the process is asked to stop (Ctrl-C, SIGTERM), or until
 * `failed` gives a reason to (a service given up on), then says so and runs `stop`. Returns that
 * reason, or undefined when asked to stop.
 */
export async function serveUntilStopSignal(
  io: CommandIo,
  stop: () => Promise<void>,
  failed?: Promise<string>,
): Promise<string | undefined> {
  let signalled: () => void = () => {};
  const asked = new Promise<undefined>((done) => {
    signalled = () => done(undefined);
  });
  // Kept until `stop` is done: a second Ctrl-C or a SIGTERM (systemd, docker stop) while stopping does not
  // kill the process half way (the default action), it lets the stop finish.
  process.on('SIGINT', signalled);
  process.on('SIGTERM', signalled);
  try {
    const reason = await Promise.race(failed === undefined ? [asked] : [asked, failed]);
    if (reason === undefined) io.stdout('mpay: stopping …\n');
    else io.stderr(`mpay: ${reason}\n`);
    await stop();
    return reason;
  } finally {
    process.removeListener('SIGINT', signalled);
    process.removeListener('SIGTERM', signalled);
  }
}

// Text from elsewhere (a message, a mail, an argument) is printed without its escape sequences.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const terminalControls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with every terminal control character but tab and newline replaced by U+FFFD. */
export function printable(text: string): string {
  return text.replace(terminalControls, '\uFFFD');
}
