import { join } from 'node:path';
import { isMsisdn } from '@mpay/protocol';
import { openSmsInbox, type StoredSms } from '@mpay/sms';
import { dataDirOf } from './deployment.ts';
import { type CommandIo, printable } from './io.ts';

/** Where the platform's embedded SMS gateway keeps its inboxes: `<data>/sms`. */
export function smsDirOf(dataDir: string): string {
  return join(dataDir, 'sms');
}

/**
 * JSON whose text reaches no terminal as a control: JSON.stringify escapes C0
 * already; DEL and C1 (U+009B is CSI) are escaped too, which is still the same JSON.
 */
function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\u009f]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function describeSms(sms: StoredSms): string {
  return [
    `── ${printable(sms.receivedAt)}  (${printable(sms.id)})`,
    `From: ${printable(sms.from)}`,
    `To:   ${printable(sms.to)}`,
    '',
    printable(sms.text),
    '',
    '',
  ].join('\n');
}

const usageLine = 'usage: mpay sms [MSISDN] [--json] [--data DIR]\n';

/**
 * `mpay sms [MSISDN] [--json] [--data DIR]`: the SMS the platform's embedded
 * SMS gateway received (one-time login codes, key-renewal notices), newest
 * first, all of them or one number's (E.164, `+38970123456`). Reads `<data>/sms`
 * directly, so it works with or without the platform running.
 */
export async function runSms(
  positional: string[],
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  if (positional.length > 1) {
    io.stderr(usageLine);
    return 2;
  }
  const msisdn = positional[0];
  if (msisdn !== undefined && !isMsisdn(msisdn)) {
    io.stderr(`mpay sms: ${printable(msisdn)} is not an MSISDN in E.164 form (+38970123456)\n${usageLine}`);
    return 2;
  }
  const smsDir = smsDirOf(dataDirOf(flags));
  const messages = await openSmsInbox(smsDir).list(msisdn);
  if (flags.has('json')) {
    io.stdout(`${jsonForTerminal(messages)}\n`);
    return 0;
  }
  if (messages.length === 0) {
    io.stdout(`no sms${msisdn === undefined ? '' : ` for ${msisdn}`} in ${smsDir}\n`);
    return 0;
  }
  for (const sms of messages) io.stdout(describeSms(sms));
  return 0;
}
