import { assert, MpayError } from '../errors/index.ts';

/**
 * EMV QR data objects (EMV QRCPS-MPM §4.7): a two-digit ID, a two-digit
 * length, then the value. Lengths count characters (Unicode code points), not
 * bytes: tag 64 may hold Chinese text whose UTF-8 is three bytes a character.
 * A template's value is itself a list of data objects.
 */
export interface EmvDataObject {
  readonly tag: string;
  /** The value as it stands in the payload (for a template: its encoded children). */
  readonly value: string;
  /** A template's data objects, in payload order; undefined for a primitive value. */
  readonly children?: readonly EmvDataObject[];
}

/** What a builder gives: a primitive value, or a template by its children. */
export type EmvDataObjectInput =
  | { readonly tag: string; readonly value: string }
  | { readonly tag: string; readonly children: readonly EmvDataObjectInput[] };

/** A value is at most 99 characters: its length has two digits. */
export const emvValueLengthMax = 99;

const twoDigits = /^[0-9]{2}$/;

function invalid(detail: string): never {
  throw new MpayError('QR_INVALID', detail);
}

function inRange(tag: string, low: number, high: number): boolean {
  const id = Number(tag);
  return id >= low && id <= high;
}

/**
 * Which IDs hold templates where: at the top, the merchant account
 * information templates (26–51), the additional data field template (62), the
 * merchant information language template (64) and the unreserved templates
 * (80–99); inside 62, its payment-system-specific templates (50–99). Nothing
 * nests deeper, so parsing recurses at most twice.
 */
function isTemplate(parents: readonly string[], tag: string): boolean {
  if (parents.length === 0)
    return inRange(tag, 26, 51) || tag === '62' || tag === '64' || inRange(tag, 80, 99);
  return parents.length === 1 && parents[0] === '62' && inRange(tag, 50, 99);
}

/** Where a data object is, for error details: '62.05'. */
function pathOf(parents: readonly string[], tag: string): string {
  return [...parents, tag].join('.');
}

/**
 * Parses `characters` (one string per code point) as data objects. Every ID
 * and length must be two ASCII digits, every length at least 1 and within
 * what is left, and no ID may appear twice in one list. Templates are parsed
 * as well; a template that is not a well-formed list is refused.
 */
export function parseDataObjects(
  characters: readonly string[],
  parents: readonly string[] = [],
): EmvDataObject[] {
  const objects: EmvDataObject[] = [];
  const seen = new Set<string>();
  let position = 0;
  while (position < characters.length) {
    if (characters.length - position < 4) invalid(`truncated after ${pathOf(parents, 'end')}`);
    const tag = characters.slice(position, position + 2).join('');
    const lengthText = characters.slice(position + 2, position + 4).join('');
    if (!twoDigits.test(tag)) invalid(`id at ${parents.join('.') || 'top'}`);
    if (!twoDigits.test(lengthText)) invalid(`length of ${pathOf(parents, tag)}`);
    const length = Number(lengthText);
    if (length === 0) invalid(`empty ${pathOf(parents, tag)}`);
    const start = position + 4;
    if (start + length > characters.length) invalid(`truncated ${pathOf(parents, tag)}`);
    if (seen.has(tag)) invalid(`duplicate ${pathOf(parents, tag)}`);
    seen.add(tag);
    const valueCharacters = characters.slice(start, start + length);
    const value = valueCharacters.join('');
    objects.push(
      isTemplate(parents, tag)
        ? Object.freeze({
            tag,
            value,
            children: Object.freeze(parseDataObjects(valueCharacters, [...parents, tag])),
          })
        : Object.freeze({ tag, value }),
    );
    position = start + length;
  }
  return objects;
}

/** Number of characters (code points) of `text`. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Encodes one data object; a template's children are encoded first. */
export function encodeDataObject(object: EmvDataObjectInput): string {
  assert(twoDigits.test(object.tag), 'an EMV id is two digits');
  const value = 'children' in object ? object.children.map(encodeDataObject).join('') : object.value;
  const length = characterCount(value);
  if (length === 0 || length > emvValueLengthMax) invalid(`length of ${object.tag}`);
  return `${object.tag}${String(length).padStart(2, '0')}${value}`;
}

/** The data object with this ID in a list, if any. */
export function findDataObject(
  objects: readonly EmvDataObject[] | undefined,
  tag: string,
): EmvDataObject | undefined {
  return objects?.find((object) => object.tag === tag);
}
