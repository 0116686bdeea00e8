import { createInterface } from 'node:readline/promises';
import { MpayError } from '@mpay/protocol';

/**
 * What the customer types at the terminal: the password (never echoed, never
 * on the command line where `ps` and the shell's history would keep it) and
 * the SMS code. Without a terminal the password comes from
 * MPAY_BANKING_PASSWORD and the code from --code-from-sms; nothing is read
 * from a pipe by surprise.
 */
export interface BankingTerminal {
  /** Whether a person is there to ask (stdin and stderr are terminals). */
  readonly interactive: boolean;
  /** Asks without echo (the password). */
  askHidden(question: string): Promise<string>;
  /** Asks with echo (the SMS code). */
  ask(question: string): Promise<string>;
}

/** The longest line read from the terminal. */
const lineLengthMax = 1_024;

const endOfText = '\u0003';
const endOfTransmission = '\u0004';

/** Reads one line from a TTY in raw mode, echoing nothing; Ctrl-C and Ctrl-D abandon it. */
function readHiddenLine(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error === undefined) resolve(line);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const character of chunk.toString('utf8')) {
        if (character === '\r' || character === '\n') return finish();
        if (character === endOfText || character === endOfTransmission)
          return finish(new MpayError('REQUEST_INVALID', 'no password typed'));
        if (character === '\u007f' || character === '\b') line = line.slice(0, -1);
        else if (line.length < lineLengthMax) line += character;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

async function readLine(question: string): Promise<string> {
  const reader = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return (await reader.question(question)).slice(0, lineLengthMax);
  } finally {
    reader.close();
  }
}

export const processTerminal: BankingTerminal = {
  get interactive() {
    return process.stdin.isTTY === true && process.stderr.isTTY === true;
  },
  askHidden: readHiddenLine,
  ask: readLine,
};

/** The environment variable a script gives the password in (the process's own environment only). */
export const passwordVariable = 'MPAY_BANKING_PASSWORD';

/**
 * The customer's password: MPAY_BANKING_PASSWORD, else asked without echo on
 * a terminal (twice when a new one is chosen), else REQUEST_INVALID saying how
 * to give it.
 */
export async function passwordOf(
  env: Readonly<Record<string, string | undefined>>,
  terminal: BankingTerminal,
  options: { readonly choosing: boolean },
): Promise<string> {
  const given = env[passwordVariable];
  if (given !== undefined && given !== '') return given;
  if (!terminal.interactive)
    throw new MpayError(
      'REQUEST_INVALID',
      `no password: set ${passwordVariable} or run on a terminal to be asked`,
    );
  const password = await terminal.askHidden(
    options.choosing ? 'Choose a mobile banking password (at least 8 characters): ' : 'Password: ',
  );
  if (!options.choosing) return password;
  const again = await terminal.askHidden('The same password again: ');
  if (again !== password) throw new MpayError('REQUEST_INVALID', 'the two passwords differ');
  return password;
}
