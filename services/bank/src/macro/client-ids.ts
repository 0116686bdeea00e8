import { randomInt } from 'node:crypto';
import { signPayload } from '@mpay/envelope';
import { type MacroClientIdContent, MpayError, parseMsisdn, parsePartyId } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import { keyBindingStatus } from '../key-depository/bindings.ts';
import type { DepositoryContext } from '../key-depository/context.ts';
import { selectKeyBinding } from '../key-depository/store.ts';
import { insertMacroClient, type MacroClientRecord, selectMacroClientOfParty } from './store.ts';

/**
 * Client id issuance at the client bank (seed 002 §3: "At the time of
 * registration, the bank issues the ID for registered users"). The MPASP asks
 * when one of this bank's customers registers for macro payments; the bank
 * issues the id only for a customer whose device key it bound, under a
 * binding that is this bank's, that customer's and active now: the bank
 * thereby vouches for the person and the account behind the client id.
 */
export interface ClientIdRequest {
  readonly partyId: string;
  readonly msisdn: string;
  /** The serial of the key binding whose key signed the registration at the MPASP. */
  readonly bindingSerial: string;
}

export interface IssuedClientId {
  readonly content: MacroClientIdContent;
  /** The bank's compact JWS over `{ macroClient: content }`, to the caller, for the client id. */
  readonly statement: string;
  /** False when the party already had its client id (it is issued once per customer). */
  readonly created: boolean;
}

/** Twelve random digits, as ID_C's number: 10^12 ids per bank, drawn at random so that they cannot be enumerated. */
const clientNumberDigits = 12;
/** Draws of a fresh id before giving up; at a million clients one draw collides with probability 10^-6. */
const clientIdDrawsMax = 8;
/** How long the bank's signed statement verifies: the MPASP checks it when it answers and keeps it. */
export const clientIdStatementLifetimeSeconds = 86_400;

/** A fresh client id of `bankId`: 'C', twelve digits, '.', the bank's id. */
export function newClientId(bankId: string, draw: (max: number) => number = randomInt): string {
  const number = draw(10 ** clientNumberDigits);
  if (!Number.isSafeInteger(number) || number < 0 || number >= 10 ** clientNumberDigits) {
    throw new Error('assertion failed: a client number has twelve digits');
  }
  return `C${number.toString().padStart(clientNumberDigits, '0')}.${bankId}`;
}

/** The binding must be this bank's, this party's and active: anything else is refused with its own code. */
async function requireActiveBinding(sql: Sql, serial: string, partyId: string, now: Date): Promise<void> {
  // Locked like a payment order locks it: a revocation that commits first is seen.
  const binding = await selectKeyBinding(sql, serial, true);
  if (binding === undefined || binding.partyId !== partyId) throw new MpayError('KEY_BINDING_INVALID');
  const status = keyBindingStatus(binding, now);
  if (status === 'revoked') throw new MpayError('KEY_BINDING_REVOKED');
  if (status === 'expired') throw new MpayError('KEY_BINDING_EXPIRED');
}

async function issueOnce(
  sql: Sql,
  fresh: Omit<MacroClientRecord, 'clientId'>,
  bankId: string,
  draw: (max: number) => number,
): Promise<{ record: MacroClientRecord; created: boolean }> {
  const existing = await selectMacroClientOfParty(sql, fresh.partyId);
  if (existing !== undefined) return { record: existing, created: false };
  for (let attempt = 0; attempt < clientIdDrawsMax; attempt += 1) {
    const record: MacroClientRecord = { ...fresh, clientId: newClientId(bankId, draw) };
    if (await insertMacroClient(sql, record)) return { record, created: true };
    // Not inserted: a concurrent issue for this party won (use it), or the number was taken (draw again).
    const winner = await selectMacroClientOfParty(sql, fresh.partyId);
    if (winner !== undefined) return { record: winner, created: false };
  }
  throw new MpayError('SERVICE_UNAVAILABLE', 'no free client id');
}

/**
 * Issues (or gives again) the client id of `request.partyId`, and signs it.
 * Idempotent per party: the first id issued is the party's for good, whatever
 * MSISDN or device a later request names; the binding of each request is
 * still checked.
 */
export async function issueClientId(
  context: DepositoryContext,
  request: ClientIdRequest,
  caller: string,
  draw: (max: number) => number = randomInt,
): Promise<IssuedClientId> {
  const party = parsePartyId(request.partyId, 'partyId');
  if (party.kind !== 'person' || party.id !== request.partyId || party.bank !== context.bank.id) {
    throw new MpayError('PARTY_ID_INVALID', 'partyId');
  }
  const msisdn = parseMsisdn(request.msisdn, 'msisdn');
  const now = context.clock();
  const { record, created } = await context.database.transaction(async (sql) => {
    await requireActiveBinding(sql, request.bindingSerial, party.id, now);
    return issueOnce(
      sql,
      { partyId: party.id, msisdn, bindingSerial: request.bindingSerial, issuedTo: caller, issuedAt: now },
      context.bank.id,
      draw,
    );
  });
  if (record.partyId !== party.id) throw new Error('assertion failed: a client id is its own party’s');
  if (created) context.log.info({ clientId: record.clientId, partyId: party.id }, 'macro client id issued');
  const content: MacroClientIdContent = {
    kind: 'macro_client_id',
    clientId: record.clientId,
    partyId: record.partyId,
    bankId: context.bank.id,
  };
  // Signed with the wall clock, as the bank's answers to orders are: freshness is about transport.
  const statement = await signPayload(
    { macroClient: content },
    {
      issuer: context.bank.id,
      audience: caller,
      transactionId: record.clientId,
      expiresInSeconds: clientIdStatementLifetimeSeconds,
    },
    context.bank.signingKey,
  );
  return { content, statement, created };
}
