/**
 * Counting the WebCrypto calls of a payment and timing that mix alone: the
 * crypto-only ceiling of `mpay bench e2e`.
 *
 * `countSubtleCalls` wraps every method of this process's `crypto.subtle`
 * (which jose and @mpay/envelope call) and counts each call by its kind:
 * the method and the algorithm with what fixes its cost (curve, hash,
 * iterations, key length, and the data's length to the next power of two). It keeps a copy of the first call of each kind
 * (arguments and key objects). `timeMix` then runs each kept call alone, one
 * at a time, and weighs its median time by how often a payment made it: the
 * time the crypto of one payment takes on one core when nothing else runs.
 */

type SubtleMethod =
  | 'decrypt'
  | 'deriveBits'
  | 'deriveKey'
  | 'digest'
  | 'encrypt'
  | 'exportKey'
  | 'generateKey'
  | 'importKey'
  | 'sign'
  | 'unwrapKey'
  | 'verify'
  | 'wrapKey';

const methods: readonly SubtleMethod[] = [
  'decrypt',
  'deriveBits',
  'deriveKey',
  'digest',
  'encrypt',
  'exportKey',
  'generateKey',
  'importKey',
  'sign',
  'unwrapKey',
  'verify',
  'wrapKey',
];

interface Sample {
  readonly method: SubtleMethod;
  readonly args: readonly unknown[];
}

export interface SubtleCounter {
  /** Calls by kind since the last reset. */
  counts(): Record<string, number>;
  reset(): void;
  /** Counting on or off (the wrapper stays; off costs one branch). */
  active: boolean;
  /** The kept first call of each kind, for `timeMix`. */
  readonly samples: ReadonlyMap<string, Sample>;
  /** Puts the original methods back. */
  restore(): void;
}

function describeAlgorithm(algorithm: unknown, key: unknown): string {
  const fromKey =
    typeof key === 'object' && key !== null && 'algorithm' in key
      ? (key as { algorithm: Record<string, unknown> }).algorithm
      : undefined;
  const given = typeof algorithm === 'string' ? { name: algorithm } : (algorithm as Record<string, unknown>);
  const merged = { ...fromKey, ...given } as Record<string, unknown>;
  const hash = merged.hash;
  const hashName = typeof hash === 'string' ? hash : (hash as { name?: string } | undefined)?.name;
  return [
    merged.name,
    merged.namedCurve,
    hashName,
    merged.iterations === undefined ? undefined : `${merged.iterations} iterations`,
    merged.length === undefined ? undefined : `${merged.length} bits`,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
}

/** Where the data of a call is: its cost grows with its length. */
const dataArgument: Partial<Record<SubtleMethod, number>> = {
  digest: 1,
  encrypt: 2,
  decrypt: 2,
  sign: 2,
  verify: 3,
};

/** The data's length as a power-of-two bucket ('≤1024 B'), so that each kind's sample is of its size. */
function sizeOf(method: SubtleMethod, args: readonly unknown[]): string {
  const index = dataArgument[method];
  if (index === undefined) return '';
  const data = args[index];
  const length = data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data.byteLength : 0;
  return ` ≤${2 ** Math.max(6, Math.ceil(Math.log2(Math.max(1, length))))} B`;
}

/** The kind of a call: method, the algorithm details and the data size that decide its cost. */
function kindOf(method: SubtleMethod, args: readonly unknown[]): string {
  return `${kindOfAlgorithm(method, args)}${sizeOf(method, args)}`;
}

function kindOfAlgorithm(method: SubtleMethod, args: readonly unknown[]): string {
  switch (method) {
    case 'importKey':
      return `importKey ${args[0]} ${describeAlgorithm(args[2], undefined)}`;
    case 'exportKey':
      return `exportKey ${args[0]} ${describeAlgorithm(undefined, args[1])}`;
    case 'generateKey':
    case 'digest':
      return `${method} ${describeAlgorithm(args[0], undefined)}`;
    case 'wrapKey':
      return `wrapKey ${describeAlgorithm(args[3], args[2])}`;
    case 'unwrapKey':
      return `unwrapKey ${describeAlgorithm(args[3], args[2])}`;
    default:
      return `${method} ${describeAlgorithm(args[0], args[1])}`;
  }
}

/** A copy of a buffer argument (a caller may reuse its buffer); other arguments as they are. */
export function copyArgument(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return value.slice(0);
  if (ArrayBuffer.isView(value))
    return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  return value;
}

export function countSubtleCalls(): SubtleCounter {
  const subtle = globalThis.crypto.subtle as unknown as Record<
    SubtleMethod,
    (...args: unknown[]) => Promise<unknown>
  >;
  const originals = new Map<SubtleMethod, (...args: unknown[]) => Promise<unknown>>();
  let counts = new Map<string, number>();
  const samples = new Map<string, Sample>();
  const counter: SubtleCounter = {
    active: false,
    counts: () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
    reset: () => {
      counts = new Map();
    },
    samples,
    restore: () => {
      for (const [method, original] of originals) subtle[method] = original;
    },
  };
  for (const method of methods) {
    const original = subtle[method];
    originals.set(method, original);
    subtle[method] = function counted(...args: unknown[]): Promise<unknown> {
      if (counter.active) {
        const kind = kindOf(method, args);
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
        if (!samples.has(kind)) samples.set(kind, { method, args: args.map(copyArgument) });
      }
      return original.apply(globalThis.crypto.subtle, args);
    };
  }
  return counter;
}

export interface MixTiming {
  /** Milliseconds the mix of one payment takes, one call at a time. */
  readonly msPerPayment: number;
  /** Microseconds per call of each kind, as timed alone. */
  readonly microsecondsPerCall: Record<string, number>;
}

/**
 * Times each kind of `perPayment` (calls per payment) with its kept sample,
 * sequentially, for about `budgetMs` per kind (at least 5 calls), and sums
 * calls × the median time per call. A kind without a sample counts as free (none exist:
 * every counted kind keeps its first call).
 */
export async function timeMix(
  perPayment: Record<string, number>,
  samples: ReadonlyMap<string, Sample>,
  budgetMs = 150,
): Promise<MixTiming> {
  const subtle = globalThis.crypto.subtle as unknown as Record<
    SubtleMethod,
    (...args: unknown[]) => Promise<unknown>
  >;
  const microsecondsPerCall: Record<string, number> = {};
  let msPerPayment = 0;
  for (const [kind, calls] of Object.entries(perPayment)) {
    const sample = samples.get(kind);
    if (sample === undefined || calls === 0) continue;
    const run = () => subtle[sample.method]!.apply(globalThis.crypto.subtle, sample.args.map(copyArgument));
    await run();
    const microseconds = await medianMicroseconds(run, budgetMs, 100_000);
    microsecondsPerCall[kind] = Math.round(microseconds * 10) / 10;
    msPerPayment += (calls * microseconds) / 1000;
  }
  return { msPerPayment, microsecondsPerCall };
}

/**
 * `run` replayed for `budgetMs` (at least 5 times, at most `runsMax`): its
 * median time in µs. The median: a call that waited behind other work on
 * this machine does not count for its kind.
 */
export async function medianMicroseconds(
  run: () => Promise<unknown>,
  budgetMs: number,
  runsMax: number,
): Promise<number> {
  const times: number[] = [];
  const started = performance.now();
  while (times.length < 5 || (performance.now() - started < budgetMs && times.length < runsMax)) {
    const before = performance.now();
    await run();
    times.push(performance.now() - before);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]! * 1000;
}

/** Calls per payment of each kind, to two decimals. */
export function perPayment(counts: Record<string, number>, payments: number): Record<string, number> {
  if (payments === 0) return {};
  return Object.fromEntries(
    Object.entries(counts).map(([kind, count]) => [kind, Math.round((count / payments) * 100) / 100]),
  );
}
