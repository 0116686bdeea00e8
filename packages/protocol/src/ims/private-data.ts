import { canonicalize } from '../canonical/index.ts';
import { MpayError } from '../errors/index.ts';
import { type Amount, formatDecimalAmount, parseCurrencyCode, parseDecimalAmount } from '../money/index.ts';
import { parseDescription, parseTransactionId } from './fields.ts';
import { joinPath, optionalEntry, readObject, readOptional } from './json-object.ts';

/** Order lines a sealed data section may carry. */
export const imsOrderLinesMax = 20;
/** Items of one line. */
export const imsOrderLineQuantityMax = 9999;
/**
 * The canonical text of the private fields, in UTF-8 bytes. Sealed, it grows
 * by a third (base64url) plus the headers, and the customer's signature
 * carries it to the customer's bank inside an order of at most 16 KiB: 4 KiB
 * of text leaves room for the rest.
 */
export const imsPrivateDataBytesMax = 4096;

/** One line of the cart: what, how many, at what price each. */
export interface ImsOrderLine {
  /** Shown to the customer; the description's rules (no controls, 1–256 characters). */
  readonly name: string;
  readonly quantity: number;
  readonly unitAmount: Amount;
}

/**
 * The private fields of the data section (iMS §4: "the data can be encrypted
 * to secure the privacy of every player"): what the customer buys. At a level
 * with the `private_data_sealed` protection they travel only inside
 * `data.sealed`, readable by the customer and the two banks, never by the
 * FSP. `transactionId` ties them to the one payment, so a sealed section
 * copied into another message is refused by whoever opens it.
 */
export interface ImsPrivateData {
  readonly transactionId: string;
  readonly description?: string;
  readonly orderLines?: readonly ImsOrderLine[];
}

function readOrderLine(value: unknown, path: string): ImsOrderLine {
  const line = readObject(value, path, ['name', 'quantity', 'unitAmount']);
  const name = parseDescription(line.name, joinPath(path, 'name'));
  const { quantity } = line;
  if (
    !Number.isSafeInteger(quantity) ||
    (quantity as number) < 1 ||
    (quantity as number) > imsOrderLineQuantityMax
  )
    throw new MpayError('MESSAGE_INVALID', joinPath(path, 'quantity'));
  const amount = readObject(line.unitAmount, joinPath(path, 'unitAmount'), ['currency', 'value']);
  const currency = parseCurrencyCode(amount.currency, joinPath(path, 'unitAmount.currency'));
  if (typeof amount.value !== 'string')
    throw new MpayError('AMOUNT_INVALID', joinPath(path, 'unitAmount.value'));
  const unitAmount = parseDecimalAmount(amount.value, currency, joinPath(path, 'unitAmount.value'));
  return Object.freeze({ name, quantity: quantity as number, unitAmount });
}

function readOrderLines(value: unknown, path: string): readonly ImsOrderLine[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > imsOrderLinesMax)
    throw new MpayError('MESSAGE_INVALID', path);
  return Object.freeze(value.map((line, index) => readOrderLine(line, `${path}[${index}]`)));
}

/** Strict JSON → private data: unknown fields, empty data and values out of range are MESSAGE_INVALID with the path. */
export function imsPrivateDataFromJson(value: unknown): ImsPrivateData {
  const data = readObject(value, 'private', ['transactionId'], ['description', 'orderLines']);
  const description = readOptional(data, 'description', 'private', parseDescription);
  const orderLines = readOptional(data, 'orderLines', 'private', readOrderLines);
  if (description === undefined && orderLines === undefined)
    throw new MpayError('MESSAGE_INVALID', 'private');
  return Object.freeze({
    transactionId: parseTransactionId(data.transactionId, 'private.transactionId'),
    ...optionalEntry('description', description),
    ...optionalEntry('orderLines', orderLines),
  });
}

/** Private data → its canonical JSON text (RFC 8785), the plaintext that is sealed; validated first. */
export function imsPrivateDataToText(data: ImsPrivateData): string {
  const json = {
    transactionId: data.transactionId,
    ...optionalEntry('description', data.description),
    ...optionalEntry(
      'orderLines',
      data.orderLines?.map((line) => ({
        name: line.name,
        quantity: line.quantity,
        unitAmount: { currency: line.unitAmount.currency, value: formatDecimalAmount(line.unitAmount) },
      })),
    ),
  };
  imsPrivateDataFromJson(json);
  const text = canonicalize(json);
  if (new TextEncoder().encode(text).length > imsPrivateDataBytesMax)
    throw new MpayError('MESSAGE_INVALID', 'private');
  return text;
}

/**
 * The sealed plaintext → private data: JSON, the strict rules above, and the
 * text must be exactly the canonical text of what it says (no duplicate key,
 * no other spelling), so that every reader, and any later tool, reads one
 * meaning from it.
 */
export function imsPrivateDataFromText(text: string): ImsPrivateData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MpayError('MESSAGE_INVALID', 'private');
  }
  const data = imsPrivateDataFromJson(value);
  if (imsPrivateDataToText(data) !== text) throw new MpayError('MESSAGE_INVALID', 'private');
  return data;
}
