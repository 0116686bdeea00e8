import { MpayError } from '../../errors/index.ts';
import { decodeReferences, indexOfNonXmlCharacter, isXmlWhitespace, utf8ByteLength } from './characters.ts';
import type { XmlLimits } from './limits.ts';

/**
 * A small, strict XML reader for element-only documents such as the iMS
 * message. It is not a general XML parser, by design. It accepts elements
 * without attributes, character data, the five predefined entities and
 * character references, and an optional leading XML declaration (UTF-8,
 * version 1.0). It refuses: DOCTYPE and every other markup declaration,
 * entity references (XML_FORBIDDEN_CONSTRUCT), processing instructions
 * (XML_FORBIDDEN_CONSTRUCT), comments, CDATA sections, attributes (namespace
 * declarations included), mixed content (XML_INVALID). It never recurses, so
 * deep nesting fails on `depthMax`, not on the call stack.
 */
export interface XmlElement {
  readonly name: string;
  readonly children: readonly XmlElement[];
  /** Character data of a leaf, verbatim after decoding; '' for an element with children. */
  readonly text: string;
}

interface OpenElement {
  name: string;
  children: XmlElement[];
  text: string;
}

interface Reader {
  readonly text: string;
  readonly limits: XmlLimits;
  position: number;
  elementCount: number;
  readonly stack: OpenElement[];
}

const namePattern = /[A-Za-z_][A-Za-z0-9._-]*/y;
const whitespacePattern = /[ \t\r\n]*/y;
const declarationPattern =
  /<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.0\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])(?:UTF|utf)-8\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(?:yes|no)\3)?[ \t\r\n]*\?>/y;

function invalid(detail: string): never {
  throw new MpayError('XML_INVALID', detail);
}

function shortName(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

function checkDocument(text: string, limits: XmlLimits): void {
  if (typeof text !== 'string') invalid('not a string');
  // A UTF-16 code unit is at least one UTF-8 byte: the cheap test first.
  if (text.length > limits.documentBytesMax || utf8ByteLength(text) > limits.documentBytesMax) {
    throw new MpayError('XML_LIMIT_EXCEEDED', 'documentBytesMax');
  }
  if (indexOfNonXmlCharacter(text) >= 0) invalid('character not allowed in XML');
}

/** At a '<' followed by '!' or '?': everything of that kind is refused. */
function refuseSpecialMarkup(reader: Reader): never {
  const { text, position } = reader;
  if (text.startsWith('<!--', position)) invalid('comment');
  if (text.startsWith('<![CDATA[', position)) invalid('CDATA section');
  if (text.startsWith('<!', position)) throw new MpayError('XML_FORBIDDEN_CONSTRUCT', 'markup declaration');
  throw new MpayError('XML_FORBIDDEN_CONSTRUCT', 'processing instruction');
}

function isSpecialMarkup(reader: Reader): boolean {
  const next = reader.text[reader.position + 1];
  return next === '!' || next === '?';
}

function skipWhitespace(reader: Reader): void {
  whitespacePattern.lastIndex = reader.position;
  whitespacePattern.exec(reader.text);
  reader.position = whitespacePattern.lastIndex;
}

/** Byte-order mark, XML declaration and whitespace before the root element. */
function skipProlog(reader: Reader): void {
  if (reader.text.startsWith('\uFEFF')) reader.position = 1;
  if (/^<\?xml[ \t\r\n]/.test(reader.text.slice(reader.position, reader.position + 6))) {
    declarationPattern.lastIndex = reader.position;
    if (declarationPattern.exec(reader.text) === null) invalid('unsupported XML declaration');
    reader.position = declarationPattern.lastIndex;
  }
  skipWhitespace(reader);
  if (reader.position >= reader.text.length) invalid('no root element');
  if (reader.text[reader.position] !== '<') invalid('text outside the root element');
  if (isSpecialMarkup(reader)) refuseSpecialMarkup(reader);
}

/** Only whitespace may follow the root element. */
function checkEpilog(reader: Reader): void {
  skipWhitespace(reader);
  if (reader.position >= reader.text.length) return;
  if (reader.text[reader.position] !== '<') invalid('text outside the root element');
  if (isSpecialMarkup(reader)) refuseSpecialMarkup(reader);
  invalid('more than one root element');
}

function readName(reader: Reader): string {
  namePattern.lastIndex = reader.position;
  const match = namePattern.exec(reader.text);
  if (match === null) invalid('malformed tag');
  reader.position = namePattern.lastIndex;
  return match[0];
}

function appendText(reader: Reader, raw: string): void {
  const open = reader.stack.at(-1);
  if (open === undefined) invalid('text outside the root element');
  if (raw.includes(']]>')) invalid("']]>' in character data");
  open.text += decodeReferences(raw);
  if (open.text.length > reader.limits.textLengthMax)
    throw new MpayError('XML_LIMIT_EXCEEDED', 'textLengthMax');
}

function closeElement(reader: Reader): XmlElement {
  const open = reader.stack.pop();
  if (open === undefined) invalid('end tag without start tag');
  if (open.children.length > 0 && !isXmlWhitespace(open.text)) invalid(`mixed content in <${open.name}>`);
  const element: XmlElement = Object.freeze({
    name: open.name,
    children: Object.freeze(open.children),
    text: open.children.length > 0 ? '' : open.text,
  });
  reader.stack.at(-1)?.children.push(element);
  return element;
}

/** At '<' + name: opens an element; returns it if it closed at once ('<a/>'). */
function readStartTag(reader: Reader): XmlElement | undefined {
  reader.position += 1;
  const name = readName(reader);
  reader.elementCount += 1;
  if (reader.elementCount > reader.limits.elementCountMax)
    throw new MpayError('XML_LIMIT_EXCEEDED', 'elementCountMax');
  if (reader.stack.length + 1 > reader.limits.depthMax) throw new MpayError('XML_LIMIT_EXCEEDED', 'depthMax');
  skipWhitespace(reader);
  reader.stack.push({ name, children: [], text: '' });
  if (reader.text.startsWith('/>', reader.position)) {
    reader.position += 2;
    return closeElement(reader);
  }
  if (reader.text[reader.position] === '>') {
    reader.position += 1;
    return undefined;
  }
  namePattern.lastIndex = reader.position;
  invalid(
    namePattern.test(reader.text)
      ? `attribute on <${shortName(name)}>`
      : `malformed tag <${shortName(name)}>`,
  );
}

/** At '</': closes the innermost open element, which must have the same name. */
function readEndTag(reader: Reader): XmlElement {
  reader.position += 2;
  const name = readName(reader);
  skipWhitespace(reader);
  if (reader.text[reader.position] !== '>') invalid(`malformed end tag </${shortName(name)}>`);
  reader.position += 1;
  const open = reader.stack.at(-1);
  if (open === undefined || open.name !== name) invalid(`mismatched end tag </${shortName(name)}>`);
  return closeElement(reader);
}

/** From the root's '<' to just after its end tag, iteratively. */
function readRootElement(reader: Reader): XmlElement {
  for (;;) {
    const next = reader.text.indexOf('<', reader.position);
    const end = next < 0 ? reader.text.length : next;
    if (end > reader.position) appendText(reader, reader.text.slice(reader.position, end));
    if (next < 0) invalid('unclosed element');
    reader.position = next;
    if (isSpecialMarkup(reader)) refuseSpecialMarkup(reader);
    const closed = reader.text[next + 1] === '/' ? readEndTag(reader) : readStartTag(reader);
    if (closed !== undefined && reader.stack.length === 0) return closed;
  }
}

/** Parses a whole document into its root element, or throws XML_INVALID / XML_FORBIDDEN_CONSTRUCT / XML_LIMIT_EXCEEDED. */
export function parseXmlDocument(text: string, limits: XmlLimits): XmlElement {
  checkDocument(text, limits);
  const reader: Reader = { text, limits, position: 0, elementCount: 0, stack: [] };
  skipProlog(reader);
  const root = readRootElement(reader);
  checkEpilog(reader);
  return root;
}
