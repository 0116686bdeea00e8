import { createConnection } from 'node:net';
import { requestDeadlineMs, within } from '../../../../test/support/deadlines.ts';

/** A bare SMTP client for tests: says exactly what a test writes, so that a hostile client can be played. */
export interface RawSmtp {
  /** Sends one command line and returns the server's complete reply (all its lines). */
  command(line: string): Promise<string>;
  /** The next reply without sending anything (the greeting). */
  reply(): Promise<string>;
  close(): void;
}

/** A complete reply: any `NNN-` continuation lines, then one `NNN ` line. */
const replyPattern = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/;

export async function openRawSmtp(port: number, host = '127.0.0.1'): Promise<RawSmtp> {
  const socket = createConnection({ port, host });
  socket.setEncoding('utf8');
  let buffer = '';
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    wake?.();
  });
  socket.on('close', () => {
    ended = true;
    wake?.();
  });
  socket.on('error', () => undefined);
  await within(
    new Promise<void>((connected, failed) => {
      socket.once('connect', connected);
      socket.once('error', failed);
    }),
    { deadlineMs: requestDeadlineMs, what: `an SMTP connection to ${host}:${port}` },
  );

  async function nextReply(): Promise<string> {
    for (;;) {
      const match = replyPattern.exec(buffer);
      if (match !== null) {
        buffer = buffer.slice(match[0].length);
        return match[0].trimEnd();
      }
      if (ended) throw new Error(`the SMTP connection closed; unread: ${JSON.stringify(buffer)}`);
      await new Promise<void>((woken) => {
        wake = woken;
      });
    }
  }

  const reply = () => within(nextReply(), { deadlineMs: requestDeadlineMs, what: 'an SMTP reply' });
  return {
    reply,
    async command(line: string) {
      socket.write(`${line}\r\n`);
      return reply();
    },
    close: () => socket.destroy(),
  };
}
