import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMpayError } from '../../errors/index.ts';
import { imsMessageArbitrary, sampleImsJson, sampleSignatures } from '../arbitraries.test-helper.ts';
import { imsDescriptionLengthMax, imsSignatureLengthMax } from '../fields.ts';
import { imsFromJson, imsToJson } from '../json.ts';
import { imsFromXml, imsJsonToXml, imsToXml } from './ims-xml.ts';
import { defaultXmlLimits } from './limits.ts';

function outcome(text: string): string {
  try {
    imsFromXml(text);
  } catch (error) {
    if (isMpayError(error)) return `${error.code}`;
    throw error;
  }
  return 'accepted';
}

/** Figure 3 of the iMS paper, character for character (its `<from>` and `<amount>` are never closed). */
const figure3 = ` <iMS>
<type>medium</type>
<address>
<from>
<id>John.Bernard@person.xbank</id>
<sign>abcad3456f454aabcdeehee4aed32a</sign>
<from>
<to>
<id>Merkur.Trade@merchant.xbank</id>
<sign> abc78dfd6fd454aabcdeehee4ead2a</sign>
</to>
<FSPsign>abc78d454aab ad345abcdeeheehe</FSPsign>
<timestamp>27.05.2002 12:34:34</timestamp>
</address>
<data>
<accountPayable>1234-5678-9abc</accountPayable>
<accountReceivable>9876-543-21de</accountReceivable>
<amount>EUR1000.00<amount>
</data>
</iMS>
`;

const fixFrom = (text: string) => text.replace('</sign>\n<from>', '</sign>\n</from>');
const fixAmount = (text: string) => text.replace('EUR1000.00<amount>', 'EUR1000.00</amount>');

/** Figure 3 well-formed and adapted: transactionId and procedure added, JWS signatures, an ISO 8601 timestamp. */
function adaptedFigure3(): string {
  return fixAmount(fixFrom(figure3))
    .replace(
      '<type>medium</type>',
      '<type>medium</type>\n<transactionId>0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d</transactionId>\n<procedure>m-commerce</procedure>',
    )
    .replace('abcad3456f454aabcdeehee4aed32a', sampleSignatures.customer)
    .replace(' abc78dfd6fd454aabcdeehee4ead2a', sampleSignatures.merchant)
    .replace('abc78d454aab ad345abcdeeheehe', sampleSignatures.fsp)
    .replace('27.05.2002 12:34:34', '2002-05-27T12:34:34Z');
}

const sampleXml =
  '<iMS><type>medium</type>' +
  '<protections>merchant_signature fsp_countersignature customer_signature pin</protections>' +
  '<transactionId>0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d</transactionId>' +
  '<procedure>m-commerce</procedure><address>' +
  `<from><id>john.bernard@person.xbank</id><sign>${sampleSignatures.customer}</sign></from>` +
  `<to><id>merkur.trade@merchant.xbank</id><sign>${sampleSignatures.merchant}</sign></to>` +
  `<FSPsign>${sampleSignatures.fsp}</FSPsign><timestamp>2002-05-27T12:34:34Z</timestamp></address>` +
  '<data><accountPayable>1234-5678-9abc</accountPayable><accountReceivable>9876-543-21de</accountReceivable>' +
  '<amount>EUR1000.00</amount></data></iMS>';

describe("the paper's Figure 3", () => {
  it('is not well-formed as printed, and each of its two typos alone breaks it', () => {
    expect(outcome(figure3)).toBe('XML_INVALID');
    expect(outcome(fixFrom(figure3))).toBe('XML_INVALID');
    expect(outcome(fixAmount(figure3))).toBe('XML_INVALID');
  });

  it('once well-formed, is still not a valid message (no transactionId, the date format, the signatures)', () => {
    expect(outcome(fixAmount(fixFrom(figure3)))).toBe('MESSAGE_INVALID');
  });

  it('parses when well-formed and adapted, with its own ids, accounts and amount', () => {
    const message = imsFromXml(adaptedFigure3());
    expect(message.address.from.id).toBe('john.bernard@person.xbank');
    expect(message.address.to.id).toBe('merkur.trade@merchant.xbank');
    expect(message.data).toEqual({
      accountPayable: '1234-5678-9abc',
      accountReceivable: '9876-543-21de',
      amount: { currency: 'EUR', minor: 100000n },
    });
    expect(imsToXml(message)).toBe(sampleXml.replace(/<protections>[^<]*<\/protections>/, ''));
  });
});

describe('imsToXml / imsFromXml', () => {
  it('writes the sample exactly, optional elements omitted', () => {
    expect(imsToXml(imsFromJson(sampleImsJson()))).toBe(sampleXml);
    expect(imsJsonToXml(sampleImsJson())).toBe(sampleXml);
    const unsigned = imsFromXml(
      sampleXml.replace(
        /<sign>[^<]*<\/sign>|<FSPsign>[^<]*<\/FSPsign>|<account\w+>[^<]*<\/account\w+>|<protections>[^<]*<\/protections>/g,
        '',
      ),
    );
    expect(imsToXml(unsigned)).not.toContain('sign>');
    expect(unsigned.data).toEqual({ amount: { currency: 'EUR', minor: 100000n } });
  });

  it('reads the protections as single-space separated names in the catalogue order, and the sealed second factor in <from> only', () => {
    const sealed = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVy.dGFn';
    const withCode = sampleXml.replace(
      '</sign></from>',
      `</sign><secondFactor>${sealed}</secondFactor></from>`,
    );
    expect(imsFromXml(withCode).address.from.secondFactor).toBe(sealed);
    expect(imsToXml(imsFromXml(withCode))).toBe(withCode);
    const outcomeOf = (xml: string) => {
      try {
        imsFromXml(xml);
        return 'accepted';
      } catch (error) {
        return (error as { code?: string; detail?: string }).detail ?? 'error';
      }
    };
    expect(outcomeOf(sampleXml.replace('customer_signature pin', 'pin customer_signature'))).toBe(
      'protections',
    );
    expect(outcomeOf(sampleXml.replace('customer_signature pin', 'customer_signature  pin'))).toBe(
      'protections',
    );
    expect(outcomeOf(sampleXml.replace(' pin<', ' pin pin<'))).toBe('protections');
    expect(outcomeOf(sampleXml.replace(' pin<', ' fingerprint<'))).toBe('protections');
    expect(
      outcomeOf(sampleXml.replace('</sign></to>', `</sign><secondFactor>${sealed}</secondFactor></to>`)),
    ).toBe('address.to.secondFactor');
  });

  it('escapes the description so that the output is always well-formed', () => {
    const json = sampleImsJson();
    json.data.description = 'a<b&c>d]]>"\'&amp;';
    const xml = imsJsonToXml(json);
    expect(xml).toContain('<description>a&lt;b&amp;c&gt;d]]&gt;"\'&amp;amp;</description>');
    expect(imsToJson(imsFromXml(xml))).toEqual(json);
  });

  it.each([
    ['EUR-1.00', 'AMOUNT_INVALID'],
    ['EUR0.00', 'AMOUNT_INVALID'],
    ['EUR1.001', 'AMOUNT_INVALID'],
    ['EUR1.0', 'AMOUNT_INVALID'],
    ['EUR1e3', 'AMOUNT_INVALID'],
    ['EURabc', 'AMOUNT_INVALID'],
    ['EUR 1.00', 'AMOUNT_INVALID'],
    ['EUR1,000.00', 'AMOUNT_INVALID'],
    ['EUR', 'AMOUNT_INVALID'],
    ['EUR99999999999999.00', 'AMOUNT_TOO_LARGE'],
    ['XXX1.00', 'CURRENCY_INVALID'],
    ['eur1.00', 'CURRENCY_INVALID'],
    [' EUR1.00', 'CURRENCY_INVALID'],
    ['1000.00', 'CURRENCY_INVALID'],
    ['', 'CURRENCY_INVALID'],
    ['JPY1000', 'accepted'],
    ['BHD1.500', 'accepted'],
  ])('<amount>%s</amount> → %s', (amount, code) => {
    expect(outcome(sampleXml.replace('EUR1000.00', amount))).toBe(code);
  });

  it.each([
    ['unknown element', sampleXml.replace('</data>', '<tip>1</tip></data>'), 'XML_INVALID'],
    [
      'duplicate element',
      sampleXml.replace('<type>medium</type>', '<type>medium</type><type>large</type>'),
      'XML_INVALID',
    ],
    [
      'elements out of order',
      sampleXml.replace(/<type>medium<\/type>(<protections>[^<]*<\/protections>)/, '$1<type>medium</type>'),
      'XML_INVALID',
    ],
    [
      'element inside a leaf',
      sampleXml.replace('<type>medium</type>', '<type><b>medium</b></type>'),
      'XML_INVALID',
    ],
    ['text in a section', sampleXml.replace('<data>', '<data>x'), 'XML_INVALID'],
    ['wrong root element', sampleXml.replace('<iMS>', '<ims>').replace('</iMS>', '</ims>'), 'XML_INVALID'],
    ['wrong case of FSPsign', sampleXml.replaceAll('FSPsign>', 'FSPSign>'), 'XML_INVALID'],
    ['JSON key instead of element', sampleXml.replaceAll('FSPsign>', 'fspSign>'), 'XML_INVALID'],
    ['attribute', sampleXml.replace('<amount>', '<amount currency="USD">'), 'XML_INVALID'],
    [
      'entity in a field',
      sampleXml.replace('<type>medium</type>', '<type>&xxe;</type>'),
      'XML_FORBIDDEN_CONSTRUCT',
    ],
    [
      'whitespace around a value',
      sampleXml.replace('<type>medium</type>', '<type> medium </type>'),
      'MESSAGE_INVALID',
    ],
    ['missing element', sampleXml.replace(/<timestamp>[^<]*<\/timestamp>/, ''), 'MESSAGE_INVALID'],
    ['empty section', sampleXml.replace(/<data>.*<\/data>/, '<data/>'), 'MESSAGE_INVALID'],
    ['empty leaf', sampleXml.replace('<type>medium</type>', '<type/>'), 'MESSAGE_INVALID'],
    ['MSISDN as id', sampleXml.replace('john.bernard@person.xbank', '+38970123456'), 'PARTY_ID_INVALID'],
    [
      'indented, with declaration',
      `<?xml version="1.0" encoding="UTF-8"?>\n${sampleXml.replaceAll('><', '>\n  <')}\n`,
      'accepted',
    ],
  ])('%s → %s', (_name, text, code) => {
    expect(outcome(text)).toBe(code);
  });

  it('the largest valid message fits the default limits', () => {
    const json = sampleImsJson();
    const longest = `${'h'.repeat(100)}.${'p'.repeat(imsSignatureLengthMax - 202)}.${'s'.repeat(100)}`;
    json.address.from.sign = longest;
    json.address.to.sign = longest;
    json.address.fspSign = longest;
    json.data.description = '😀'.repeat(imsDescriptionLengthMax / 2);
    const xml = imsJsonToXml(json);
    expect(new TextEncoder().encode(xml).length).toBeLessThan(defaultXmlLimits.documentBytesMax);
    expect(imsToJson(imsFromXml(xml))).toEqual(json);
  });
});

describe('JSON ⇄ model ⇄ XML, one to one', () => {
  it('property: message → XML → model → JSON → model is the identity; XML is stable', () => {
    fc.assert(
      fc.property(imsMessageArbitrary, (message) => {
        const xml = imsToXml(message);
        const fromXml = imsFromXml(xml);
        expect(fromXml).toEqual(message);
        expect(imsFromJson(imsToJson(fromXml))).toEqual(message);
        expect(imsToXml(fromXml)).toBe(xml);
      }),
      { numRuns: 300 },
    );
  });

  it('property: JSON → XML → JSON is the identity', () => {
    fc.assert(
      fc.property(imsMessageArbitrary, (message) => {
        const json = imsToJson(message);
        expect(imsToJson(imsFromXml(imsJsonToXml(json)))).toEqual(json);
      }),
      { numRuns: 300 },
    );
  });

  it('property: damaged documents fail with an MpayError, never anything else', () => {
    const damage = fc.record({
      at: fc.nat(),
      cut: fc.nat({ max: 8 }),
      insert: fc.constantFrom(
        '',
        '<',
        '>',
        '&',
        '/',
        '<x>',
        '</data>',
        '<!--',
        '<?x?>',
        '&lt;',
        '&#0;',
        '"',
        '\u0000',
        ' ',
      ),
    });
    fc.assert(
      fc.property(imsMessageArbitrary, damage, (message, { at, cut, insert }) => {
        const xml = imsToXml(message);
        const position = at % (xml.length + 1);
        const damaged = xml.slice(0, position) + insert + xml.slice(position + cut);
        try {
          const parsed = imsFromXml(damaged);
          expect(imsFromXml(imsToXml(parsed))).toEqual(parsed);
        } catch (error) {
          expect(isMpayError(error)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
