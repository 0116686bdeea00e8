import { MpayError } from '../errors/index.ts';

declare const partyIdBrand: unique symbol;

/** A party address in canonical (lower-case) form, produced only by `parsePartyId`/`formatPartyId`. */
export type PartyId = string & { readonly [partyIdBrand]: 'PartyId' };

export type PartyKind = 'person' | 'merchant' | 'bank' | 'fsp';

/**
 * A parsed party address. The iMS paper asks that ids be unambiguous by their
 * format alone (§4), so the kind is read from the syntax, never looked up:
 *
 *   person    <name>@person.<bank>     john.bernard@person.xbank
 *   merchant  <name>@merchant.<bank>   merkur.trade@merchant.xbank
 *   bank      <bank>                   xbank
 *   fsp       fsp.<name>               fsp.mpay
 *
 * A bank is a single label with no dot; the FSP (the gateway) is the reserved
 * label `fsp`, a dot and its own label, so it can never be read as a bank, and
 * several FSPs can be told apart. `fsp`, `person` and `merchant` are not valid
 * bank names. Telephone numbers are aliases (`Msisdn`), not party ids: the
 * gateway resolves them before a message is built, so that signatures name a
 * party and not a number that may be reassigned.
 *
 * Ids are case-insensitive ASCII: the input is checked against the ASCII
 * charset first and then lower-cased (lower-casing first would let, e.g., the
 * Kelvin sign U+212A become 'k').
 */
export type ParsedPartyId =
  | {
      readonly kind: 'person' | 'merchant';
      readonly name: string;
      readonly bank: string;
      readonly id: PartyId;
    }
  | { readonly kind: 'bank' | 'fsp'; readonly name: string; readonly id: PartyId };

/** Limits, in characters (ids are ASCII). */
export const partyNameLengthMax = 64;
export const bankNameLengthMax = 32;
export const partyIdLengthMax = partyNameLengthMax + '@merchant.'.length + bankNameLengthMax;

export const reservedBankNames: readonly string[] = Object.freeze(['fsp', 'person', 'merchant']);

/** Local part of a person or merchant: ASCII letters/digits in runs joined by single '.', '-' or '_'. */
const partyNamePattern = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** A bank or FSP label: a letter, then letters, digits or inner hyphens; 2 to 32 characters. */
const bankNamePattern = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const partyIdCharset = /^[A-Za-z0-9._@-]+$/;

function isPartyName(name: string): boolean {
  return name.length <= partyNameLengthMax && partyNamePattern.test(name);
}

function isBankName(name: string): boolean {
  return name.length <= bankNameLengthMax && bankNamePattern.test(name) && !reservedBankNames.includes(name);
}

const personOrMerchantPattern = /^([^@]*)@(person|merchant)\.([^@]*)$/;

function parseLowerCase(id: string): ParsedPartyId | undefined {
  if (id.includes('@')) {
    const match = personOrMerchantPattern.exec(id);
    const [, name = '', kind, bank = ''] = match ?? [];
    if ((kind !== 'person' && kind !== 'merchant') || !isPartyName(name) || !isBankName(bank))
      return undefined;
    return { kind, name, bank, id: id as PartyId };
  }
  if (id.startsWith('fsp.')) {
    const name = id.slice('fsp.'.length);
    return isBankName(name) ? { kind: 'fsp', name, id: id as PartyId } : undefined;
  }
  return isBankName(id) ? { kind: 'bank', name: id, id: id as PartyId } : undefined;
}

/** Parses and normalises a party address; anything else is PARTY_ID_INVALID. */
export function parsePartyId(text: string, detail?: string): ParsedPartyId {
  if (typeof text !== 'string' || text.length > partyIdLengthMax || !partyIdCharset.test(text)) {
    throw new MpayError('PARTY_ID_INVALID', detail);
  }
  const parsed = parseLowerCase(text.toLowerCase());
  if (parsed === undefined) throw new MpayError('PARTY_ID_INVALID', detail);
  return Object.freeze(parsed);
}

/** True for a party id already in canonical form (what the model stores). */
export function isPartyId(value: unknown): value is PartyId {
  if (typeof value !== 'string') return false;
  try {
    return parsePartyId(value).id === value;
  } catch {
    return false;
  }
}

/** Builds a party id from its parts, e.g. formatPartyId({ kind: 'person', name: 'john.bernard', bank: 'xbank' }). */
export function formatPartyId(
  parts: { kind: 'person' | 'merchant'; name: string; bank: string } | { kind: 'bank' | 'fsp'; name: string },
): PartyId {
  switch (parts.kind) {
    case 'person':
    case 'merchant':
      return parsePartyId(`${parts.name}@${parts.kind}.${parts.bank}`).id;
    case 'fsp':
      return parsePartyId(`fsp.${parts.name}`).id;
    case 'bank':
      return parsePartyId(parts.name).id;
  }
}
