import fc from 'fast-check';

/**
 * Input generators shared by the campaigns: arbitrary text, and mutations of VALID inputs built with
 * the real encoders (so that a case gets past the first checks and reaches the deep code paths).
 * Every generator is a plain fast-check arbitrary: a failing case shrinks and replays by seed and path.
 */

/** Characters that break parsers: controls, lone surrogates, BOM, bidi overrides, astral characters. */
const edgeCharacters = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\r\n',
  ' ',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u00e9',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ufffd',
  '\uffff',
  '\ud800',
  '\udfff',
  '\u{1f600}',
  '\u{10ffff}',
  'e\u0301',
];

/** Tokens of the formats under test: structure characters, numbers, keywords. */
const formatTokens = [
  '"',
  "'",
  '\\',
  '\\u0000',
  '\\ud800',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '.',
  '..',
  '=',
  '-',
  '_',
  '+',
  '/',
  '<',
  '>',
  '</',
  '/>',
  '&',
  '&amp;',
  '&#0;',
  '&#x110000;',
  '&lt;',
  '<![CDATA[',
  ']]>',
  '<!--',
  '-->',
  '<?xml version="1.0"?>',
  '<!DOCTYPE a [<!ENTITY b "c">]>',
  'xmlns="x"',
  '0',
  '-0',
  '00',
  '1e999',
  '-1',
  '9007199254740993',
  '18446744073709551616',
  '0.1',
  '1.',
  'NaN',
  'Infinity',
  'null',
  'true',
  'false',
  '__proto__',
  'constructor',
  '\u2014 ',
  '\n\n',
  'eyJ',
  'AAAA',
  '====',
  '6304',
  '0002',
  '99',
  '\u2014 grease.example',
];

const characterPool = [...edgeCharacters, ...formatTokens, 'a', 'Z', '0', '9', 'A', 'f'];

export const edgeCharacter = fc.constantFrom(...edgeCharacters);
export const token = (extra: readonly string[] = []) => fc.constantFrom(...characterPool, ...extra);

/** Arbitrary text: random code units, random code points, and strings of the format's tokens. */
export function arbitraryText(extraTokens: readonly string[] = [], maxLength = 400): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
      maxLength,
    }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: token(extraTokens), maxLength: Math.ceil(maxLength / 4) }),
  );
}

type Edit =
  | { readonly kind: 'replace'; readonly at: number; readonly text: string }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flipCase'; readonly at: number }
  | {
      readonly kind: 'nest';
      readonly at: number;
      readonly pair: readonly [string, string];
      readonly depth: number;
    }
  | { readonly kind: 'hugeNumber'; readonly at: number; readonly number: string }
  | { readonly kind: 'swap'; readonly at: number; readonly other: number; readonly length: number };

const position = fc.nat({ max: 1_000_000 });
const hugeNumbers = [
  '9'.repeat(40),
  '9'.repeat(400),
  '1'.repeat(5_000),
  '18446744073709551616',
  '9223372036854775808',
  '9007199254740993',
  '4294967296',
  '1e309',
  '-1',
  '-0',
  '0',
  '00000000000000000001',
  '0.000000000000000000001',
  '1.5',
];

function editArbitrary(tokens: readonly string[], nestPairs: readonly (readonly [string, string])[]) {
  const text = fc.oneof(
    { weight: 3, arbitrary: token(tokens) },
    { weight: 1, arbitrary: fc.string({ unit: token(tokens), minLength: 1, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }) },
  );
  const length = fc.integer({ min: 1, max: 64 });
  return fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), at: position, text }),
    fc.record({ kind: fc.constant('insert' as const), at: position, text }),
    fc.record({ kind: fc.constant('delete' as const), at: position, length }),
    fc.record({
      kind: fc.constant('duplicate' as const),
      at: position,
      length,
      times: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 100, max: 2_000 })),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: position }),
    fc.record({ kind: fc.constant('flipCase' as const), at: position }),
    fc.record({
      kind: fc.constant('nest' as const),
      at: position,
      pair: fc.constantFrom(...nestPairs),
      depth: fc.oneof(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 1_000, max: 20_000 })),
    }),
    fc.record({
      kind: fc.constant('hugeNumber' as const),
      at: position,
      number: fc.constantFrom(...hugeNumbers),
    }),
    fc.record({ kind: fc.constant('swap' as const), at: position, other: position, length }),
  ) as fc.Arbitrary<Edit>;
}

function applyEdit(text: string, edit: Edit): string {
  const at = edit.at % (text.length + 1);
  switch (edit.kind) {
    case 'replace':
      return text.slice(0, at) + edit.text + text.slice(at + 1);
    case 'insert':
      return text.slice(0, at) + edit.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + edit.length);
    case 'duplicate': {
      const part = text.slice(at, at + edit.length);
      return text.slice(0, at) + part.repeat(edit.times + 1) + text.slice(at + edit.length);
    }
    case 'truncate':
      return text.slice(0, at);
    case 'flipCase': {
      const character = text.charAt(at);
      const flipped =
        character === character.toUpperCase() ? character.toLowerCase() : character.toUpperCase();
      return text.slice(0, at) + flipped + text.slice(at + 1);
    }
    case 'nest': {
      const [open, close] = edit.pair;
      return text.slice(0, at) + open.repeat(edit.depth) + close.repeat(edit.depth) + text.slice(at);
    }
    case 'hugeNumber': {
      // The run of digits at or after the position becomes the huge number (or it is inserted).
      const match = /[0-9]+/.exec(text.slice(at));
      if (match === null) return text.slice(0, at) + edit.number + text.slice(at);
      const start = at + match.index;
      return text.slice(0, start) + edit.number + text.slice(start + match[0].length);
    }
    case 'swap': {
      const other = edit.other % (text.length + 1);
      const [first, second] = at <= other ? [at, other] : [other, at];
      const length = Math.min(edit.length, second - first);
      const left = text.slice(first, first + length);
      const right = text.slice(second, second + length);
      return (
        text.slice(0, first) + right + text.slice(first + length, second) + left + text.slice(second + length)
      );
    }
  }
}

export interface MutationOptions {
  /** Tokens of the format, inserted and substituted besides the shared ones. */
  readonly tokens?: readonly string[];
  /** Open/close pairs for deep nesting ('[', ']'), ('<a>', '</a>'). */
  readonly nestPairs?: readonly (readonly [string, string])[];
  /** Most edits applied to one seed (default 6). */
  readonly editsMax?: number;
}

const defaultNestPairs: readonly (readonly [string, string])[] = [
  ['[', ']'],
  ['{"a":', '}'],
  ['<a>', '</a>'],
  ['(', ')'],
];

/** A valid seed with 1..editsMax byte-level edits: flips, inserts, deletes, duplicates, truncation, nesting, huge numbers. */
export function mutatedText(seeds: readonly string[], options: MutationOptions = {}): fc.Arbitrary<string> {
  if (seeds.length === 0) throw new Error('mutatedText needs at least one seed');
  const edits = fc.array(editArbitrary(options.tokens ?? [], options.nestPairs ?? defaultNestPairs), {
    minLength: 1,
    maxLength: options.editsMax ?? 6,
  });
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), edits)
    .map(([index, list]) => list.reduce(applyEdit, seeds[index] ?? ''));
}

/** A seed unchanged, or the arbitrary text, or a mutation: the mix every text campaign feeds. */
export function textInputs(seeds: readonly string[], options: MutationOptions = {}): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 3, arbitrary: arbitraryText(options.tokens) },
    { weight: 8, arbitrary: mutatedText(seeds, options) },
  );
}

// ---------------------------------------------------------------------------------------------
// JSON values: what JSON.parse of a network body can give (never functions, symbols, undefined).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function nested(depth: number, leaf: Json, asObject: boolean): Json {
  let value = leaf;
  for (let level = 0; level < depth; level += 1) value = asObject ? { a: value } : [value];
  return value;
}

/** Values that break validators: edge numbers, long and odd strings, deep nesting, `__proto__` keys. */
const nastyValue: fc.Arbitrary<Json> = fc.oneof(
  // Copied for each case (JSON keeps an own '__proto__' key), so that no edit changes the constants.
  fc
    .constantFrom<Json>(
      null,
      true,
      false,
      0,
      -0,
      -1,
      1.5,
      2 ** 53,
      2 ** 53 + 2,
      1e308,
      -1e308,
      5e-324,
      Number.MAX_SAFE_INTEGER,
      '',
      ' ',
      '0',
      '-0',
      '1e3',
      '1.0',
      '01',
      '9'.repeat(400),
      'x'.repeat(70_000),
      '\u0000',
      '\ud800',
      '\u202e',
      'EUR',
      'eur',
      'a@person.xbank',
      '__proto__',
      [],
      {},
      [[]],
      JSON.parse('{"__proto__":{"polluted":1}}') as Json,
      JSON.parse('{"constructor":{"prototype":{"x":1}}}') as Json,
    )
    .map((value) => JSON.parse(JSON.stringify(value)) as Json),
  fc.integer({ min: 2, max: 60 }).map((depth) => nested(depth, 1, false)),
  fc.integer({ min: 2_000, max: 12_000 }).map((depth) => nested(depth, 'x', true)),
  fc.integer({ min: 2_000, max: 12_000 }).map((depth) => nested(depth, null, false)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: edgeCharacter, maxLength: 10 }),
  fc.double().map((value) => (Number.isFinite(value) ? value : 0)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

type Path = readonly (string | number)[];

/** Paths deeper than this are not edited (a deeply nested value inserted earlier is left whole). */
const pathDepthMax = 24;

function pathsOf(value: Json, path: Path = [], into: Path[] = []): Path[] {
  into.push(path);
  if (path.length >= pathDepthMax) return into;
  if (Array.isArray(value)) {
    for (const [index, child] of value.entries()) pathsOf(child, [...path, index], into);
  } else if (value !== null && typeof value === 'object')
    for (const key of Object.keys(value)) pathsOf(value[key] as Json, [...path, key], into);
  return into;
}

type JsonEdit =
  | { readonly kind: 'set'; readonly at: number; readonly value: Json }
  | { readonly kind: 'remove'; readonly at: number }
  | { readonly kind: 'addKey'; readonly at: number; readonly key: string; readonly value: Json }
  | { readonly kind: 'wrap'; readonly at: number; readonly inObject: boolean }
  | { readonly kind: 'stringify'; readonly at: number }
  | { readonly kind: 'copyFrom'; readonly at: number; readonly from: number }
  | { readonly kind: 'editText'; readonly at: number; readonly edit: Edit };

function parentAndKey(
  root: Json,
  path: Path,
): [Record<string | number, Json> | Json[], string | number] | undefined {
  if (path.length === 0) return undefined;
  let parent: Json = root;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[key] as Json;
  return [parent as Record<string | number, Json>, path[path.length - 1] as string | number];
}

function getAt(root: Json, path: Path): Json {
  let value = root;
  for (const key of path) value = (value as Record<string | number, Json>)[key] as Json;
  return value;
}

/** Applies one structural edit; the root itself can be replaced (returned). */
function applyJsonEdit(root: Json, edit: JsonEdit): Json {
  const paths = pathsOf(root);
  const path = paths[edit.at % paths.length] ?? [];
  const replace = (value: Json): Json => {
    const place = parentAndKey(root, path);
    if (place === undefined) return value;
    const [parent, key] = place;
    (parent as Record<string | number, Json>)[key] = value;
    return root;
  };
  const current = getAt(root, path);
  switch (edit.kind) {
    case 'set':
      return replace(edit.value);
    case 'remove': {
      const place = parentAndKey(root, path);
      if (place === undefined) return null;
      const [parent, key] = place;
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Record<string, Json>)[key];
      return root;
    }
    case 'addKey':
      if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
        // defineProperty, so that '__proto__' becomes an own key as JSON.parse makes it.
        Object.defineProperty(current, edit.key, {
          value: edit.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        return root;
      }
      if (Array.isArray(current)) {
        current.push(edit.value);
        return root;
      }
      return replace({ [edit.key]: edit.value });
    case 'wrap':
      return replace(edit.inObject ? { value: current } : [current]);
    case 'stringify':
      try {
        return replace(typeof current === 'string' ? current : JSON.stringify(current));
      } catch {
        return root; // too deep for JSON.stringify
      }
    case 'copyFrom': {
      // A copy (never shared, so no edit can make a cycle); a value too deep to copy is left alone.
      let copy: Json;
      try {
        copy = JSON.parse(JSON.stringify(getAt(root, paths[edit.from % paths.length] ?? []))) as Json;
      } catch {
        return root;
      }
      return replace(copy);
    }
    case 'editText':
      return typeof current === 'string' ? replace(applyEdit(current, edit.edit)) : root;
  }
}

function jsonEditArbitrary(tokens: readonly string[]): fc.Arbitrary<JsonEdit> {
  const key = fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'kind', 'id', 'extra', '', 'amount', 'toString'),
    fc.string({ maxLength: 8 }),
  );
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('set' as const), at: position, value: nastyValue }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), at: position }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('addKey' as const), at: position, key, value: nastyValue }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: position, inObject: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('stringify' as const), at: position }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('copyFrom' as const), at: position, from: position }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('editText' as const),
        at: position,
        edit: editArbitrary(tokens, defaultNestPairs),
      }),
    },
  ) as fc.Arbitrary<JsonEdit>;
}

/** A valid JSON seed with 1..4 structural edits: values replaced by nasty ones, keys removed or added, strings edited. */
export function mutatedJson(seeds: readonly Json[], tokens: readonly string[] = []): fc.Arbitrary<Json> {
  if (seeds.length === 0) throw new Error('mutatedJson needs at least one seed');
  return fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(jsonEditArbitrary(tokens), { minLength: 1, maxLength: 4 }),
    )
    .map(([index, edits]) => edits.reduce(applyJsonEdit, structuredClone(seeds[index] ?? null)));
}

/**
 * What a JSON body parser can receive: a seed, any JSON value, a structural mutation of a seed, or the
 * text of a seed mutated and parsed again (a text that no longer parses is dropped for the seed).
 */
export function jsonInputs(seeds: readonly Json[], tokens: readonly string[] = []): fc.Arbitrary<Json> {
  const texts = seeds.map((seed) => JSON.stringify(seed));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds).map((seed) => structuredClone(seed)) },
    { weight: 1, arbitrary: nastyValue },
    { weight: 8, arbitrary: mutatedJson(seeds, tokens) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(mutatedText(texts, { tokens }), fc.nat({ max: seeds.length - 1 }))
        .map(([text, index]) => {
          try {
            return JSON.parse(text) as Json;
          } catch {
            return structuredClone(seeds[index] ?? null);
          }
        }),
    },
  );
}
