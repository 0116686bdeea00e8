import { join } from 'node:path';
import type { GeneratedKeyPair } from '@mpay/envelope';
import { requestJson, signRequest } from '@mpay/http-client';
import { MpayError, parsePartyId } from '@mpay/protocol';
import { dataDirOf, readDeployment, readJson } from './deployment.ts';
import { type CommandIo, parseFlags } from './io.ts';

export const custodyUsage = `mpay custody — the trusted mobile certificate server (iMS §5)

Usage:
  mpay custody unblock PARTY [--bank BANK] [--data DIR]
      the customer's bank lifts custody's PIN block of PARTY (after 5 failed tries): a request
      signed with the bank's institutional key from <data>/keys/BANK-interbank.json; BANK is
      the bank in PARTY's id unless given
`;

/** Flags of `mpay custody` that take a value; `--bank xbank` becomes `--bank=xbank` for parseFlags. */
const valueFlags = ['bank'];
const bankIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

function withFlagValues(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    const next = args[index + 1];
    if (
      valueFlags.includes(arg.slice(2)) &&
      arg.startsWith('--') &&
      next !== undefined &&
      !next.startsWith('--')
    ) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else joined.push(arg);
  }
  return joined;
}

/** `mpay custody …`: only `unblock` so far. */
export async function runCustodyCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const [subcommand, ...rest] = args;
  const { flags, positional } = parseFlags(withFlagValues(rest));
  if (subcommand === undefined || subcommand === 'help' || subcommand === '--help') {
    io.stdout(custodyUsage);
    return 0;
  }
  if (subcommand !== 'unblock' || positional.length !== 1) {
    io.stderr(`mpay custody: expected \`unblock PARTY\`\n\n${custodyUsage}`);
    return 2;
  }
  return unblock(positional[0]!, flags, io);
}

/** The bank that keeps the customer's account: `--bank`, else the one the party id names. */
function bankOfCustomer(partyId: string, flags: Map<string, string>): string {
  const given = flags.get('bank');
  if (given !== undefined) {
    if (!bankIdPattern.test(given)) throw new MpayError('REQUEST_INVALID', `--bank ${given}`);
    return given;
  }
  const party = parsePartyId(partyId, 'PARTY');
  if (party.kind !== 'person')
    throw new MpayError('PARTY_ID_INVALID', 'PARTY must be a person (or give --bank)');
  return party.bank;
}

/**
 * `POST /customers/:partyId/unblock` at custody, signed by the customer's
 * bank (issuer the bank's id, audience custody's id) with the bank's
 * institutional key: custody accepts it only from the bank it has on record
 * for that customer. Prints custody's answer.
 */
async function unblock(partyId: string, flags: Map<string, string>, io: CommandIo): Promise<number> {
  const dataDir = dataDirOf(flags);
  const deployment = await readDeployment(dataDir);
  const custody = deployment.custody;
  if (custody === undefined)
    throw new MpayError('SERVICE_UNAVAILABLE', 'no custody in deployment.json: restart the platform');
  const bankId = bankOfCustomer(partyId, flags);
  const key = await readJson<GeneratedKeyPair>(join(dataDir, 'keys', `${bankId}-interbank.json`));
  if (key === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no institutional key of ${bankId} in ${dataDir}`);
  const path = `/customers/${encodeURIComponent(partyId)}/unblock`;
  const authorization = await signRequest(
    { method: 'POST', path, body: '' },
    { issuer: bankId, audience: custody.id, key: key.privateJwk },
  );
  const { body } = await requestJson<{ partyId?: unknown; status?: unknown }>(`${custody.url}${path}`, {
    body: '',
    contentType: 'text/plain',
    headers: { authorization },
    responseBytesMax: 16 * 1024,
  });
  if (body.status !== 'unblocked' && body.status !== 'not-blocked')
    throw new MpayError('SERVICE_UNAVAILABLE', 'custody answer: status');
  io.stdout(
    body.status === 'unblocked'
      ? `${partyId}: unblocked by ${bankId} at ${custody.id}; the count of failed tries starts again and the customer's phones are alerted.\n`
      : `${partyId}: not-blocked at ${custody.id}; nothing changed.\n`,
  );
  return 0;
}
