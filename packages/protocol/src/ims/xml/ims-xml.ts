import { MpayError } from '../../errors/index.ts';
import { type ImsJson, imsFromJson, imsToJson } from '../json.ts';
import type { ImsMessage } from '../message.ts';
import { escapeXmlText, isXmlWhitespace } from './characters.ts';
import { resolveXmlLimits, type XmlLimits } from './limits.ts';
import { parseXmlDocument, type XmlElement } from './parse.ts';

/**
 * The XML wire form: the paper's Figure 3, well-formed (its `<from>…<from>` and
 * `<amount>…<amount>` are typos for end tags), with `transactionId` and
 * `procedure` added (and, from the FSP on, `protections`: the level's
 * protections separated by single spaces; from the customer, the sealed
 * `secondFactor` in `<from>`; from the merchant, the sealed private fields in
 * `<data><sealed>`) and the element order fixed as below. The mapping to the
 * JSON form is one to one: each element is the JSON key of the same name
 * (`FSPsign` ↔ `fspSign`), absent optional elements are absent keys, and the
 * amount is currency code and canonical decimal run together (`EUR1000.00`).
 *
 * The timestamp is ISO 8601 UTC ('2002-05-27T12:34:34Z'): the paper's
 * '27.05.2002 12:34:34' does not say in which time zone it is, nor whether
 * 05.27 or 27.05 is meant without knowing the locale.
 */
interface XmlField {
  readonly element: string;
  readonly key: string;
  readonly children?: readonly XmlField[];
}

function leaf(element: string, key = element): XmlField {
  return { element, key };
}

const partyFields: readonly XmlField[] = [leaf('id'), leaf('sign'), leaf('secondFactor')];

const imsXmlSchema: XmlField = {
  element: 'iMS',
  key: '',
  children: [
    leaf('type'),
    leaf('protections'),
    leaf('transactionId'),
    leaf('procedure'),
    {
      element: 'address',
      key: 'address',
      children: [
        { element: 'from', key: 'from', children: partyFields },
        { element: 'to', key: 'to', children: partyFields },
        leaf('FSPsign', 'fspSign'),
        leaf('timestamp'),
      ],
    },
    {
      element: 'data',
      key: 'data',
      children: [
        leaf('accountPayable'),
        leaf('accountReceivable'),
        leaf('amount'),
        leaf('description'),
        {
          element: 'sealed',
          key: 'sealed',
          children: [leaf('content'), leaf('customer'), leaf('payerBank'), leaf('payeeBank')],
        },
      ],
    },
  ],
};

/** '<amount>EUR1000.00</amount>' ↔ { currency: 'EUR', value: '1000.00' }; ISO 4217 codes are three letters. */
const currencyCodeLength = 3;

function leafValue(field: XmlField, text: string): unknown {
  // '<protections>merchant_signature pin</protections>' ↔ ['merchant_signature', 'pin']
  if (field.element === 'protections') return text.split(' ');
  if (field.element !== 'amount') return text;
  return { currency: text.slice(0, currencyCodeLength), value: text.slice(currencyCodeLength) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Element tree → JSON shape; structure errors here, value errors later in imsFromJson. */
function readField(field: XmlField, element: XmlElement, path: string): unknown {
  if (field.children === undefined) {
    if (element.children.length > 0) throw new MpayError('XML_INVALID', `elements inside ${path}`);
    return leafValue(field, element.text);
  }
  if (!isXmlWhitespace(element.text)) throw new MpayError('XML_INVALID', `text in ${path}`);
  const object: Record<string, unknown> = {};
  let previous = -1;
  for (const child of element.children) {
    const index = field.children.findIndex((candidate) => candidate.element === child.name);
    const childField = field.children[index];
    if (childField === undefined) throw new MpayError('XML_INVALID', `unknown element ${path}/${child.name}`);
    if (index === previous) throw new MpayError('XML_INVALID', `duplicate element ${path}/${child.name}`);
    if (index < previous) throw new MpayError('XML_INVALID', `element out of order ${path}/${child.name}`);
    previous = index;
    object[childField.key] = readField(childField, child, `${path}/${child.name}`);
  }
  return object;
}

function writeField(field: XmlField, value: unknown): string {
  const open = `<${field.element}>`;
  const close = `</${field.element}>`;
  if (field.children === undefined) {
    const text = Array.isArray(value)
      ? value.join(' ')
      : isRecord(value)
        ? `${value.currency}${value.value}`
        : String(value);
    return `${open}${escapeXmlText(text)}${close}`;
  }
  const object = isRecord(value) ? value : {};
  const inner = field.children
    .filter((child) => object[child.key] !== undefined)
    .map((child) => writeField(child, object[child.key]))
    .join('');
  return `${open}${inner}${close}`;
}

/** Model → XML, after validating the model; no declaration, no whitespace between elements. */
export function imsToXml(message: ImsMessage): string {
  return writeField(imsXmlSchema, imsToJson(message));
}

/** JSON form → XML form (the JSON is validated first). */
export function imsJsonToXml(json: ImsJson): string {
  return writeField(imsXmlSchema, imsToJson(imsFromJson(json)));
}

/** XML → model: well-formedness and limits first, then the same field rules as `imsFromJson`. */
export function imsFromXml(text: string, limits?: Partial<XmlLimits>): ImsMessage {
  const root = parseXmlDocument(text, resolveXmlLimits(limits));
  if (root.name !== imsXmlSchema.element) throw new MpayError('XML_INVALID', 'root element is not iMS');
  return imsFromJson(readField(imsXmlSchema, root, 'iMS'));
}
