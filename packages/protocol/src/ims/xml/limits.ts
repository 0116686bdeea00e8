import { assert } from '../../errors/index.ts';

/** Limits on an XML document, checked before and while parsing; exceeding one is XML_LIMIT_EXCEEDED. */
export interface XmlLimits {
  /** UTF-8 size of the whole document. */
  readonly documentBytesMax: number;
  /** Nesting depth; the root element is depth 1 (an iMS message needs 4). */
  readonly depthMax: number;
  /** Elements in the document (an iMS message has at most 23, with the sealed private fields). */
  readonly elementCountMax: number;
  /** Character data of one element after references are decoded, in UTF-16 code units. */
  readonly textLengthMax: number;
}

export const defaultXmlLimits: XmlLimits = Object.freeze({
  documentBytesMax: 64 * 1024,
  depthMax: 8,
  elementCountMax: 64,
  textLengthMax: 16 * 1024,
});

/** Upper bounds on what a caller may configure, so a typo cannot switch a limit off. */
export const xmlLimitsCeiling: XmlLimits = Object.freeze({
  documentBytesMax: 16 * 1024 * 1024,
  depthMax: 256,
  elementCountMax: 65_536,
  textLengthMax: 1024 * 1024,
});

/** Defaults overridden by `options`; every limit must be an integer from 1 to its ceiling (a programmer error otherwise). */
export function resolveXmlLimits(options: Partial<XmlLimits> = {}): XmlLimits {
  const limits = { ...defaultXmlLimits, ...options };
  for (const name of Object.keys(defaultXmlLimits) as (keyof XmlLimits)[]) {
    const value = limits[name];
    assert(
      Number.isSafeInteger(value) && value >= 1 && value <= xmlLimitsCeiling[name],
      `XML limit ${name} must be an integer from 1 to ${xmlLimitsCeiling[name]}`,
    );
  }
  return Object.freeze(limits);
}
