/**
 * What `mpay simulate` counts of the device's own work, the platform running
 * in the same process. The device's work runs inside `asDevice` (an
 * AsyncLocalStorage scope); every callback and promise reaction that
 * continues it carries the scope, the servers' work does not (it starts from
 * their sockets). Counted:
 *
 * - its HTTP requests (the global fetch wrapped), and any of them that did
 *   not go through a shaper (a defect of the run: reported, never hidden);
 * - its CPU on the JavaScript thread: process.cpuUsage() read before and
 *   after every callback that runs in the device's scope (the SDK's JS, JOSE,
 *   JSON, OPAQUE's WebAssembly with its Argon2id), summed. getrusage is
 *   process-wide: work of other threads in those instants (libuv's pool
 *   running a server's WebCrypto job) is counted too, an over-estimate;
 * - its WebCrypto calls by kind, whose work runs off the JavaScript thread
 *   (the device's calls compute with WebCrypto, as a browser's, while the
 *   servers' compute with node:crypto: chooseCryptoEngineBy):
 *   each kind is timed alone afterwards (median of repeated calls) and
 *   weighed by how often the device made it.
 *
 * Device CPU per payment = JS-thread CPU + Σ WebCrypto calls × their median.
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { chooseCryptoEngineBy } from '@mpay/envelope';
import { tlsClientScope } from '@mpay/pki';
import { copyArgument, medianMicroseconds } from '../bench/e2e-crypto.ts';

const deviceScope = new AsyncLocalStorage<true>();

/** The process's global fetch at call time (the meter's wrapper while it counts). */
const globalFetch = (url: string, init: RequestInit) => globalThis.fetch(url, init);

/**
 * Runs `work` as the device: its requests, callbacks and WebCrypto calls count
 * as the device's. Its calls go through the process's global fetch (where the
 * meter counts them), also on a TLS platform, whose services' and seed's
 * calls take a fetch of their own (@mpay/pki tlsClientScope).
 */
export function asDevice<T>(work: () => Promise<T>): Promise<T> {
  return tlsClientScope.run(globalFetch, () => deviceScope.run(true, work));
}

type SubtleFunction = (...args: unknown[]) => Promise<unknown>;
const subtleMethods = ['decrypt', 'deriveBits', 'deriveKey', 'digest', 'encrypt', 'sign', 'verify'] as const;
type SubtleMethodName = (typeof subtleMethods)[number];

interface CryptoSample {
  readonly method: SubtleMethodName;
  readonly args: readonly unknown[];
}

export interface DeviceCounts {
  requests: number;
  unshapedRequests: number;
  jsCpuMicros: number;
  cryptoCalls: Map<string, number>;
}

function emptyCounts(): DeviceCounts {
  return { requests: 0, unshapedRequests: 0, jsCpuMicros: 0, cryptoCalls: new Map() };
}

function algorithmName(algorithm: unknown, key: unknown): string {
  const fromKey =
    typeof key === 'object' && key !== null && 'algorithm' in key
      ? (key as { algorithm: Record<string, unknown> }).algorithm
      : {};
  const given = typeof algorithm === 'string' ? { name: algorithm } : (algorithm as Record<string, unknown>);
  const merged = { ...fromKey, ...given };
  const hash = merged.hash;
  const hashName = typeof hash === 'string' ? hash : (hash as { name?: string } | undefined)?.name;
  return [merged.name, merged.namedCurve, hashName].filter((part) => typeof part === 'string').join(' ');
}

function kindOf(method: SubtleMethodName, args: readonly unknown[]): string {
  const data = method === 'digest' ? args[1] : method === 'verify' ? args[3] : args[2];
  const length = data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data.byteLength : 0;
  const bucket = 2 ** Math.max(6, Math.ceil(Math.log2(Math.max(1, length))));
  const algorithm = method === 'digest' ? algorithmName(args[0], undefined) : algorithmName(args[0], args[1]);
  return `${method} ${algorithm}${data === undefined ? '' : ` ≤${bucket} B`}`;
}

/** The meter: installed once per run, read per payment with `take`. */
export class DeviceMeter {
  #counts = emptyCounts();
  readonly #samples = new Map<string, CryptoSample>();
  readonly #shapedOrigins: Set<string>;
  readonly #originalFetch = globalThis.fetch;
  readonly #originalSubtle = new Map<SubtleMethodName, SubtleFunction>();
  readonly #hook;
  readonly #restoreEngine: () => void;
  #depth = 0;
  #enteredAt: NodeJS.CpuUsage | undefined;
  readonly unshapedSamples: string[] = [];

  constructor(shapedOrigins: readonly string[]) {
    this.#shapedOrigins = new Set(shapedOrigins);
    // The phone computes its crypto in a browser (WebCrypto), the servers beside it with node:crypto.
    this.#restoreEngine = chooseCryptoEngineBy(() =>
      deviceScope.getStore() === true ? 'webcrypto' : 'node:crypto',
    );
    const original = this.#originalFetch;
    globalThis.fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (deviceScope.getStore() === true) {
        this.#counts.requests += 1;
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!this.#shapedOrigins.has(new URL(url).origin)) {
          this.#counts.unshapedRequests += 1;
          if (this.unshapedSamples.length < 5) this.unshapedSamples.push(url);
        }
      }
      return original(input, init);
    };
    const subtle = globalThis.crypto.subtle as unknown as Record<SubtleMethodName, SubtleFunction>;
    for (const method of subtleMethods) {
      const originalMethod = subtle[method];
      this.#originalSubtle.set(method, originalMethod);
      subtle[method] = (...args: unknown[]): Promise<unknown> => {
        if (deviceScope.getStore() === true) {
          const kind = kindOf(method, args);
          this.#counts.cryptoCalls.set(kind, (this.#counts.cryptoCalls.get(kind) ?? 0) + 1);
          if (!this.#samples.has(kind)) this.#samples.set(kind, { method, args: args.map(copyArgument) });
        }
        return originalMethod.apply(globalThis.crypto.subtle, args);
      };
    }
    this.#hook = createHook({
      before: () => {
        this.#depth += 1;
        if (this.#depth === 1 && deviceScope.getStore() === true) this.#enteredAt = process.cpuUsage();
      },
      after: () => {
        if (this.#depth === 1 && this.#enteredAt !== undefined) {
          const used = process.cpuUsage(this.#enteredAt);
          this.#counts.jsCpuMicros += used.user + used.system;
          this.#enteredAt = undefined;
        }
        this.#depth = Math.max(0, this.#depth - 1);
      },
    });
    this.#hook.enable();
  }

  /** What was counted since the last `take`; the counts start again from zero. */
  take(): DeviceCounts {
    const counts = this.#counts;
    this.#counts = emptyCounts();
    return counts;
  }

  /** Each WebCrypto kind the device used, timed alone: median µs per call (at least 5 calls, about `budgetMs` each). */
  async timeCryptoKinds(budgetMs = 100): Promise<Map<string, number>> {
    const subtle = globalThis.crypto.subtle as unknown as Record<SubtleMethodName, SubtleFunction>;
    const medians = new Map<string, number>();
    for (const [kind, sample] of this.#samples) {
      const run = () =>
        this.#originalSubtle
          .get(sample.method)!
          .apply(subtle, sample.args.map(copyArgument)) as Promise<unknown>;
      try {
        await run();
      } catch {
        continue; // a sample that cannot be replayed (a key used once): left out, its kind named free
      }
      medians.set(kind, await medianMicroseconds(run, budgetMs, 10_000));
    }
    return medians;
  }

  /** Puts fetch, crypto.subtle and the crypto engine back and stops the hook. */
  restore(): void {
    this.#hook.disable();
    this.#restoreEngine();
    globalThis.fetch = this.#originalFetch;
    const subtle = globalThis.crypto.subtle as unknown as Record<SubtleMethodName, SubtleFunction>;
    for (const [method, original] of this.#originalSubtle) subtle[method] = original;
  }
}
