import { assert, MpayError } from '../../errors/index.ts';

/** XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
export function isXmlCharacter(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff)
  );
}

/** Index of the first code point that is not an XML character (lone surrogates included), or -1. */
export function indexOfNonXmlCharacter(text: string): number {
  let index = 0;
  for (const character of text) {
    if (!isXmlCharacter(character.codePointAt(0) ?? 0)) return index;
    index += character.length;
  }
  return -1;
}

/** UTF-8 length without allocating; a lone surrogate counts as the 3 bytes of U+FFFD. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
  }
  return bytes;
}

export function isXmlWhitespace(text: string): boolean {
  return /^[ \t\r\n]*$/.test(text);
}

const predefinedEntities: Readonly<Record<string, string>> = Object.freeze({
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
});

const referencePattern = /&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z_:][A-Za-z0-9._:-]*));/y;

/**
 * Replaces the five predefined entities and character references. Any other
 * named reference is an entity that would need a DTD: XML_FORBIDDEN_CONSTRUCT.
 * A malformed '&' or a reference to a non-character is XML_INVALID.
 */
export function decodeReferences(raw: string): string {
  if (!raw.includes('&')) return raw;
  let decoded = '';
  let position = 0;
  for (let ampersand = raw.indexOf('&'); ampersand >= 0; ampersand = raw.indexOf('&', position)) {
    referencePattern.lastIndex = ampersand;
    const match = referencePattern.exec(raw);
    if (match === null) throw new MpayError('XML_INVALID', 'malformed reference');
    decoded += raw.slice(position, ampersand) + resolveReference(match[1], match[2], match[3]);
    position = referencePattern.lastIndex;
  }
  return decoded + raw.slice(position);
}

function resolveReference(
  hex: string | undefined,
  decimal: string | undefined,
  name: string | undefined,
): string {
  if (name !== undefined) {
    const value = Object.hasOwn(predefinedEntities, name) ? predefinedEntities[name] : undefined;
    if (value === undefined) throw new MpayError('XML_FORBIDDEN_CONSTRUCT', 'entity reference');
    return value;
  }
  const digits = hex ?? decimal ?? '';
  // Longer than any code point: no need to convert (and no loss of precision).
  const codePoint =
    digits.replace(/^0+/, '').length > 7 ? -1 : Number.parseInt(digits, hex === undefined ? 10 : 16);
  if (!isXmlCharacter(codePoint)) throw new MpayError('XML_INVALID', 'character reference');
  return String.fromCodePoint(codePoint);
}

/** Escapes character data so that the output is always well-formed ('>' too, for ']]>'). */
export function escapeXmlText(text: string): string {
  assert(indexOfNonXmlCharacter(text) < 0, 'text to serialise contains a non-XML character');
  return text.replace(/[&<>]/g, (character) =>
    character === '&' ? '&amp;' : character === '<' ? '&lt;' : '&gt;',
  );
}
