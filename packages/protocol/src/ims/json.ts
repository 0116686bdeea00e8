import { MpayError } from '../errors/index.ts';
import {
  type CurrencyCode,
  formatDecimalAmount,
  parseCurrencyCode,
  parseDecimalAmount,
} from '../money/index.ts';
import { parsePartyId } from '../party/index.ts';
import { type Protection, protections as protectionNames, type SecurityLevel } from '../payment/index.ts';
import {
  parseAccountNumber,
  parseDescription,
  parseSignature,
  parseTimestamp,
  parseTransactionId,
  readOneOf,
} from './fields.ts';
import { joinPath, optionalEntry, readObject, readOptional } from './json-object.ts';
import {
  type ImsAddress,
  type ImsData,
  type ImsMessage,
  type ImsParty,
  type ImsPayer,
  type ImsProcedure,
  type ImsSealedData,
  imsProcedures,
  securityLevels,
} from './message.ts';

/**
 * The JSON wire form: the model with the amount as `{ "currency": "EUR", "value": "1000.00" }`.
 * A type alias (not an interface) so that it is assignable to `Record<string, unknown>`.
 */
export type ImsJson = {
  type: SecurityLevel;
  protections?: Protection[];
  transactionId: string;
  procedure: ImsProcedure;
  address: {
    from: { id: string; sign?: string; secondFactor?: string };
    to: { id: string; sign?: string };
    fspSign?: string;
    timestamp: string;
  };
  data: {
    accountPayable?: string;
    accountReceivable?: string;
    amount: { currency: CurrencyCode; value: string };
    description?: string;
    sealed?: { content: string; customer: string; payerBank: string; payeeBank: string };
  };
};

function readParty(value: unknown, path: string): ImsParty {
  const party = readObject(value, path, ['id'], ['sign']);
  const { id } = parsePartyId(typeof party.id === 'string' ? party.id : '', joinPath(path, 'id'));
  const sign = readOptional(party, 'sign', path, parseSignature);
  return Object.freeze({ id, ...optionalEntry('sign', sign) });
}

function readPayer(value: unknown, path: string): ImsPayer {
  const payer = readObject(value, path, ['id'], ['sign', 'secondFactor']);
  const party = readParty(
    { id: payer.id, ...(Object.hasOwn(payer, 'sign') ? { sign: payer.sign } : {}) },
    path,
  );
  const sealed = readOptional(payer, 'secondFactor', path, parseSealed);
  return Object.freeze({ ...party, ...optionalEntry('secondFactor', sealed) });
}

/** A compact JWE (five base64url parts), bounded like a signature. */
const sealedPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const sealedLengthMax = 4096;
/** The sealed private fields (a description and up to 20 order lines fit well below this); the XML text limit. */
export const imsSealedContentLengthMax = 16_384;

export function parseSealed(value: unknown, path: string, lengthMax = sealedLengthMax): string {
  if (typeof value !== 'string' || value.length > lengthMax || !sealedPattern.test(value))
    throw new MpayError('MESSAGE_INVALID', path);
  return value;
}

function readSealedData(value: unknown, path: string): ImsSealedData {
  const sealed = readObject(value, path, ['content', 'customer', 'payerBank', 'payeeBank']);
  return Object.freeze({
    content: parseSealed(sealed.content, joinPath(path, 'content'), imsSealedContentLengthMax),
    customer: parseSealed(sealed.customer, joinPath(path, 'customer')),
    payerBank: parseSealed(sealed.payerBank, joinPath(path, 'payerBank')),
    payeeBank: parseSealed(sealed.payeeBank, joinPath(path, 'payeeBank')),
  });
}

/** The protections, in the catalogue's order, each once. */
function readProtections(value: unknown, path: string): readonly Protection[] {
  if (!Array.isArray(value) || value.length > protectionNames.length)
    throw new MpayError('MESSAGE_INVALID', path);
  const listed = new Set<Protection>();
  for (const entry of value) {
    const protection = readOneOf(entry, protectionNames, path);
    if (listed.has(protection)) throw new MpayError('MESSAGE_INVALID', path);
    listed.add(protection);
  }
  const ordered = protectionNames.filter((protection) => listed.has(protection));
  if (ordered.some((protection, index) => protection !== value[index]))
    throw new MpayError('MESSAGE_INVALID', path);
  return Object.freeze(ordered);
}

function readAddress(value: unknown): ImsAddress {
  const address = readObject(value, 'address', ['from', 'to', 'timestamp'], ['fspSign']);
  const from = readPayer(address.from, 'address.from');
  const to = readParty(address.to, 'address.to');
  const fspSign = readOptional(address, 'fspSign', 'address', parseSignature);
  const timestamp = parseTimestamp(address.timestamp, 'address.timestamp');
  return Object.freeze({ from, to, ...optionalEntry('fspSign', fspSign), timestamp });
}

function readAmount(value: unknown): ImsData['amount'] {
  const amount = readObject(value, 'data.amount', ['currency', 'value']);
  const currency = parseCurrencyCode(amount.currency, 'data.amount.currency');
  if (typeof amount.value !== 'string') throw new MpayError('AMOUNT_INVALID', 'data.amount.value');
  return parseDecimalAmount(amount.value, currency, 'data.amount.value');
}

function readData(value: unknown): ImsData {
  const optional = ['accountPayable', 'accountReceivable', 'description', 'sealed'];
  const data = readObject(value, 'data', ['amount'], optional);
  const accountPayable = readOptional(data, 'accountPayable', 'data', parseAccountNumber);
  const accountReceivable = readOptional(data, 'accountReceivable', 'data', parseAccountNumber);
  const amount = readAmount(data.amount);
  const description = readOptional(data, 'description', 'data', parseDescription);
  const sealed = readOptional(data, 'sealed', 'data', readSealedData);
  return Object.freeze({
    ...optionalEntry('accountPayable', accountPayable),
    ...optionalEntry('accountReceivable', accountReceivable),
    amount,
    ...optionalEntry('description', description),
    ...optionalEntry('sealed', sealed),
  });
}

/**
 * Rules across fields. Roles: the payee is a merchant, the payer a person or a
 * merchant, and they differ. Signing chain: the FSP fills both accounts
 * together and signs only after the merchant; the customer signs only after the FSP.
 */
function checkRolesAndSigningChain(message: ImsMessage): void {
  const from = parsePartyId(message.address.from.id);
  const to = parsePartyId(message.address.to.id);
  if (from.kind !== 'person' && from.kind !== 'merchant')
    throw new MpayError('MESSAGE_INVALID', 'address.from.id');
  if (to.kind !== 'merchant' || to.id === from.id) throw new MpayError('MESSAGE_INVALID', 'address.to.id');
  // The receivable account is optional: mpay's FSP leaves it out, since the merchant's bank alone
  // resolves the payee to an account (the customer's bank learns no merchant account number, macro §5.3).
  // A receivable without a payable is never a stage of the chain.
  const { accountPayable, accountReceivable, description, sealed } = message.data;
  if (accountReceivable !== undefined && accountPayable === undefined) {
    throw new MpayError('MESSAGE_INVALID', 'data.accountPayable');
  }
  // Private fields travel either in clear or sealed, never both.
  if (sealed !== undefined && description !== undefined)
    throw new MpayError('MESSAGE_INVALID', 'data.description');
  // At a level that seals the private fields the FSP fills in no account: the customer's bank debits the
  // account its own binding names, and no account number travels in clear.
  const sealedLevel = message.protections?.includes('private_data_sealed') === true;
  if (sealedLevel && (accountPayable !== undefined || description !== undefined))
    throw new MpayError(
      'MESSAGE_INVALID',
      accountPayable === undefined ? 'data.description' : 'data.accountPayable',
    );
  const { fspSign } = message.address;
  const accountsFilled = sealedLevel || accountPayable !== undefined;
  if (fspSign !== undefined && (message.address.to.sign === undefined || !accountsFilled)) {
    throw new MpayError('MESSAGE_INVALID', 'address.fspSign');
  }
  // The FSP writes the protections when it countersigns; the customer adds the second factor after that.
  if (message.protections !== undefined && message.address.to.sign === undefined)
    throw new MpayError('MESSAGE_INVALID', 'protections');
  if (message.address.from.secondFactor !== undefined && fspSign === undefined)
    throw new MpayError('MESSAGE_INVALID', 'address.from.secondFactor');
  if (message.address.from.sign !== undefined && fspSign === undefined) {
    throw new MpayError('MESSAGE_INVALID', 'address.from.sign');
  }
}

/** Strict JSON → model: unknown fields, wrong types and values out of range fail with the field path in `detail`. */
export function imsFromJson(value: unknown): ImsMessage {
  const root = readObject(
    value,
    '',
    ['type', 'transactionId', 'procedure', 'address', 'data'],
    ['protections'],
  );
  const protections = readOptional(root, 'protections', '', readProtections);
  const message: ImsMessage = Object.freeze({
    type: readOneOf(root.type, securityLevels, 'type'),
    ...optionalEntry('protections', protections),
    transactionId: parseTransactionId(root.transactionId, 'transactionId'),
    procedure: readOneOf(root.procedure, imsProcedures, 'procedure'),
    address: readAddress(root.address),
    data: readData(root.data),
  });
  checkRolesAndSigningChain(message);
  validatedMessages.add(message);
  return message;
}

/**
 * The messages `imsFromJson` built: frozen at every level (parties, address,
 * data, amount, sealed data, protections), so that what was checked once
 * stays true, and `validateImsMessage` need not check it again. A payment's
 * message is turned to JSON several times a step (its signed contents, its
 * push, its row); each check was a whole parse.
 */
const validatedMessages = new WeakSet<ImsMessage>();

function partyToJson(party: ImsPayer): ImsJson['address']['from'] {
  return {
    id: party.id,
    ...optionalEntry('sign', party.sign),
    ...optionalEntry('secondFactor', party.secondFactor),
  };
}

function toJsonUnchecked(message: ImsMessage): ImsJson {
  const { address, data } = message;
  return {
    type: message.type,
    ...optionalEntry('protections', message.protections === undefined ? undefined : [...message.protections]),
    transactionId: message.transactionId,
    procedure: message.procedure,
    address: {
      from: partyToJson(address.from),
      to: partyToJson(address.to),
      ...optionalEntry('fspSign', address.fspSign),
      timestamp: address.timestamp,
    },
    data: {
      ...optionalEntry('accountPayable', data.accountPayable),
      ...optionalEntry('accountReceivable', data.accountReceivable),
      amount: { currency: data.amount.currency, value: formatDecimalAmount(data.amount, 'data.amount') },
      ...optionalEntry('description', data.description),
      ...optionalEntry('sealed', data.sealed === undefined ? undefined : { ...data.sealed }),
    },
  };
}

/**
 * Checks a model built in code (types alone cannot hold the rules) and returns
 * it frozen and normalised; the same checks as `imsFromJson`.
 */
export function validateImsMessage(message: ImsMessage): ImsMessage {
  if (validatedMessages.has(message)) return message;
  return imsFromJson(toJsonUnchecked(message));
}

/** Model → JSON wire form, after validating the model. Absent optional fields are omitted. */
export function imsToJson(message: ImsMessage): ImsJson {
  return toJsonUnchecked(validateImsMessage(message));
}
