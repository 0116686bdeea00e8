/**
 * Counting the crypto calls of a payment and timing that mix alone: the
 * crypto-only ceiling of `mpay bench e2e`.
 *
 * `countCryptoCalls` wraps every method of this process's `crypto.subtle`
 * (which jose and @mpay/envelope's WebCrypto engine call) and every
 * operation of @mpay/envelope's node:crypto engine (its table of calls,
 * wrapped through `instrumentNodeCalls`: sign, verify, SHA-256, ECDH,
 * AES-GCM, HKDF), and counts each call by its kind: the
 * engine, the method and the algorithm with what fixes its cost (curve, hash,
 * iterations, key length, and the data's length to the next power of two). It
 * keeps a copy of the first call of each kind (arguments and key objects).
 * `timeMix` then runs each kept call alone, one at a time, through the engine
 * that made it, and weighs its median time by how often a payment made it:
 * the time the crypto of one payment takes on one core when nothing else runs.
 */
import { instrumentNodeCalls, type NodeCryptoCalls } from '@mpay/envelope/instrumentation';

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

/** The operations of the envelope's node:crypto engine, each one crypto call (`NodeCryptoCalls`). */
type NodeMethod = keyof NodeCryptoCalls;
const nodeMethods: readonly NodeMethod[] = [
  'sign',
  'verify',
  'sha256',
  'generateP256',
  'ecdhP256',
  'aes256GcmSeal',
  'aes256GcmOpen',
  'hkdfSha256',
];

/** Where the data of a node:crypto call is, for the calls whose cost grows with its length. */
const nodeDataArgument: Partial<Record<NodeMethod, number>> = {
  sign: 1,
  verify: 1,
  sha256: 0,
  aes256GcmSeal: 0,
  aes256GcmOpen: 0,
};

type Sample =
  | { readonly engine: 'subtle'; readonly method: SubtleMethod; readonly args: readonly unknown[] }
  | {
      readonly engine: 'node';
      readonly method: NodeMethod;
      readonly args: readonly unknown[];
      /** The operation itself, uncounted (the plain table's). */
      readonly plain: (...args: unknown[]) => unknown;
    };

export interface CryptoCounter {
  /** Calls by kind since the last reset. */
  counts(): Record<string, number>;
  reset(): void;
  /** Counting on or off (the wrapper stays; off costs one branch). */
  active: boolean;
  /** The kept first call of each kind, for `timeMix`. */
  readonly samples: ReadonlyMap<string, Sample>;
  /** Puts the original methods and functions back. */
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
  return sizeBucket(args[index]);
}

/** A buffer's length to the next power of two, at least 64: ' ≤1024 B'. */
function sizeBucket(data: unknown): string {
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

/** The kind of a node:crypto call: the operation, its JWS algorithm (sign, verify), its data's size. */
function kindOfNode(method: NodeMethod, args: readonly unknown[]): string {
  const index = nodeDataArgument[method];
  const size = index === undefined ? '' : sizeBucket(args[index]);
  const algorithm = method === 'sign' || method === 'verify' ? ` ${String(args[0])}` : '';
  return `node:crypto ${method}${algorithm}${size}`;
}

/** A copy of a buffer argument (a caller may reuse its buffer); other arguments as they are. */
export function copyArgument(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return value.slice(0);
  if (ArrayBuffer.isView(value))
    return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  return value;
}

export function countCryptoCalls(): CryptoCounter {
  const subtle = globalThis.crypto.subtle as unknown as Record<
    SubtleMethod,
    (...args: unknown[]) => Promise<unknown>
  >;
  const restorers: (() => void)[] = [];
  let counts = new Map<string, number>();
  const samples = new Map<string, Sample>();
  const counter: CryptoCounter = {
    active: false,
    counts: () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
    reset: () => {
      counts = new Map();
    },
    samples,
    restore: () => {
      for (const restore of restorers) restore();
    },
  };
  const record = (kind: string, sample: () => Sample) => {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    if (!samples.has(kind)) samples.set(kind, sample());
  };
  for (const method of methods) {
    const original = subtle[method];
    restorers.push(() => {
      subtle[method] = original;
    });
    subtle[method] = function counted(...args: unknown[]): Promise<unknown> {
      if (counter.active)
        record(kindOf(method, args), () => ({ engine: 'subtle', method, args: args.map(copyArgument) }));
      return original.apply(globalThis.crypto.subtle, args);
    };
  }
  const restoreNode = instrumentNodeCalls((plainTable) => {
    const plain = plainTable as unknown as Record<NodeMethod, (...args: unknown[]) => unknown>;
    const counted: Partial<Record<NodeMethod, (...args: unknown[]) => unknown>> = {};
    for (const method of nodeMethods) {
      const original = plain[method].bind(plain);
      counted[method] = (...args: unknown[]): unknown => {
        if (counter.active)
          record(kindOfNode(method, args), () => ({
            engine: 'node',
            method,
            args: args.map(copyArgument),
            plain: original,
          }));
        return original(...args);
      };
    }
    return counted as unknown as NodeCryptoCalls;
  });
  if (restoreNode !== undefined) restorers.push(restoreNode);
  return counter;
}

/** Runs a kept call again, through the engine that made it, on fresh copies of its buffers. */
function replay(sample: Sample): Promise<unknown> {
  const args = sample.args.map(copyArgument);
  if (sample.engine === 'subtle') {
    const subtle = globalThis.crypto.subtle as unknown as Record<
      SubtleMethod,
      (...args: unknown[]) => Promise<unknown>
    >;
    return subtle[sample.method]!.apply(globalThis.crypto.subtle, args);
  }
  return Promise.resolve(sample.plain(...args));
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
  const microsecondsPerCall: Record<string, number> = {};
  let msPerPayment = 0;
  for (const [kind, calls] of Object.entries(perPayment)) {
    const sample = samples.get(kind);
    if (sample === undefined || calls === 0) continue;
    const run = () => replay(sample);
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
