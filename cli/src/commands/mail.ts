import { join } from 'node:path';
import { openMailbox, type StoredMail } from '@mpay/mail';
import { dataDirOf } from './deployment.ts';
import { type CommandIo, printable } from './io.ts';

/** Where the platform's embedded mail server keeps its mailboxes: `<data>/mail`. */
export function mailDirOf(dataDir: string): string {
  return join(dataDir, 'mail');
}

function describeMail(mail: StoredMail): string {
  const text = mail.text.replace(/\n$/, '');
  return [
    `── ${printable(mail.date)}  (${printable(mail.id)})`,
    `From:    ${printable(mail.from)}`,
    `To:      ${printable(mail.to.join(', '))}`,
    `Subject: ${printable(mail.subject)}`,
    '',
    printable(text),
    '',
    '',
  ].join('\n');
}

/**
 * `mpay mail [ADDRESS] [--json] [--data DIR]`: the mail the platform's embedded
 * mail server received (the macro client id and mPIN, notices), newest first,
 * all of it or one recipient's. Reads `<data>/mail` directly, so it works with
 * or without the platform running.
 */
export async function runMail(
  positional: string[],
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  if (positional.length > 1) {
    io.stderr('usage: mpay mail [ADDRESS] [--json] [--data DIR]\n');
    return 2;
  }
  const address = positional[0];
  const mailDir = mailDirOf(dataDirOf(flags));
  const mails = await openMailbox(mailDir).list(address);
  if (flags.has('json')) {
    io.stdout(`${JSON.stringify(mails, null, 2)}\n`);
    return 0;
  }
  if (mails.length === 0) {
    io.stdout(`no mail${address === undefined ? '' : ` for ${printable(address)}`} in ${mailDir}\n`);
    return 0;
  }
  for (const mail of mails) io.stdout(describeMail(mail));
  return 0;
}
