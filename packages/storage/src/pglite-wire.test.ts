import { protocol } from '@electric-sql/pglite';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrontendMessages, type WireValue } from './pglite-wire.ts';

/** PGlite's own serializer: the reference each message's bytes are compared with. */
const { serialize } = protocol;

function joined(parts: readonly Uint8Array[]): number[] {
  return parts.flatMap((part) => [...part]);
}

/** A statement as pglite-statements.ts sends one: stale closes, a Parse when new, then Bind … Sync. */
function reference(
  closes: readonly string[],
  parse: { name: string } | undefined,
  statement: string,
  text: string,
  values: readonly WireValue[],
) {
  return joined([
    ...closes.map((name) => serialize.close({ type: 'S', name })),
    ...(parse === undefined
      ? []
      : [serialize.parse({ ...(parse.name === '' ? {} : { name: parse.name }), text, types: [] })]),
    serialize.bind({ statement, values: [...values] }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
}

function ours(
  closes: readonly string[],
  parse: { name: string } | undefined,
  statement: string,
  text: string,
  values: readonly WireValue[],
) {
  const wire = new FrontendMessages();
  for (const name of closes) wire.closeStatement(name);
  if (parse !== undefined) wire.parse(parse.name, text);
  return [...wire.bind(statement, values).describePortal().execute().sync().take()];
}

describe('the frontend messages of a statement on PGlite', () => {
  it('are byte for byte what PGlite serializes, for texts, bytes, NULLs, Unicode and a buffer that must grow', () => {
    const long = 'é€😀x'.repeat(700); // 7,000 bytes of UTF-8: the 1 KiB buffer grows
    const values: WireValue[] = ['12', null, '', new Uint8Array([0, 1, 255]), long, 'O\'Brien "q"'];
    expect(ours(['mpay_3'], { name: 'mpay_7' }, 'mpay_7', 'SELECT $1', values)).toEqual(
      reference(['mpay_3'], { name: 'mpay_7' }, 'mpay_7', 'SELECT $1', values),
    );
    expect(ours([], undefined, 'mpay_1', 'ignored', [])).toEqual(
      reference([], undefined, 'mpay_1', 'ignored', []),
    );
    // The unnamed statement: past the prepared texts' limit, a text is parsed each time.
    expect(ours([], { name: '' }, '', `SELECT '${long}'`, ['1'])).toEqual(
      reference([], { name: '' }, '', `SELECT '${long}'`, ['1']),
    );
    expect([...new FrontendMessages().query('BEGIN').take()]).toEqual([...serialize.query('BEGIN')]);
    expect([...new FrontendMessages().query(long).take()]).toEqual([...serialize.query(long)]);
  });

  it('agree with PGlite on any statement (property)', () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => new Uint8Array(bytes)),
    );
    const name = fc.stringMatching(/^[a-z_0-9]{0,20}$/);
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 3 }),
        fc.option(name, { nil: undefined }),
        name,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 2000 }),
        fc.array(value, { maxLength: 12 }),
        (closes, parseName, statement, text, values) => {
          const parse = parseName === undefined ? undefined : { name: parseName };
          expect(ours(closes, parse, statement, text, values)).toEqual(
            reference(closes, parse, statement, text, values),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('starts empty after each take, so one writer serves every call', () => {
    const wire = new FrontendMessages();
    wire.bind('a', ['x'.repeat(5_000)]).sync();
    wire.take();
    expect([...wire.sync().take()]).toEqual([...serialize.sync()]);
  });
});
