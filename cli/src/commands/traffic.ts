/**
 * Bytes over the air per party, for `mpay demo` and `mpay bench e2e`'s
 * driver (bench/e2e-traffic.ts) alike: the
 * global `fetch` is wrapped and each call is counted for the party whose
 * code made it (AsyncLocalStorage). Sent: path (and query, if asked),
 * headers and body; received:
 * headers and body as it streams (a stream's pushed events included, while
 * counting). HTTP request and status lines, chunk framing and TCP/TLS
 * overhead are not counted. Calls made outside `as(party, …)` are not
 * counted (a demo's operator and shop look-ups).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface PartyTraffic {
  sent: number;
  received: number;
  roundTrips: number;
}

/** One counted call: its party, method and path, and its bytes so far. */
export interface CountedCall {
  readonly party: string;
  readonly method: string;
  readonly path: string;
  sent: number;
  received: number;
}

export interface TrafficMeter<P extends string> {
  /** Totals per party while counting. */
  readonly traffic: Record<P, PartyTraffic>;
  /** Every call counted, in order. */
  readonly calls: readonly CountedCall[];
  /** Runs `work` as `party`: the fetches it makes (and their streams) are that party's. */
  as<T>(party: P, work: () => T): T;
  /** Whether calls and streamed bytes count now (true from the start). */
  counting: boolean;
  /** Puts the original `fetch` back. */
  restore(): void;
}

function headerBytes(headers: Headers): number {
  let bytes = 0;
  headers.forEach((value, name) => {
    bytes += name.length + value.length + 4;
  });
  return bytes;
}

function bodyBytes(body: RequestInit['body']): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  return 0;
}

export interface MeterOptions<P extends string> {
  /** Whether a request's query string counts in its bytes sent (default false). */
  readonly countQuery?: boolean;
  /** Whether each call is kept in `calls` (default true; false for a long run). */
  readonly keepCalls?: boolean;
  /** Whether counting starts at once (default true). */
  readonly counting?: boolean;
  /** Where the calling party is kept (default a new one): the caller's own `as`. */
  readonly partyOf?: AsyncLocalStorage<P>;
}

/** Wraps the global fetch until `restore`; one meter at a time. */
export function meterFetch<P extends string>(
  parties: readonly P[],
  options: MeterOptions<P> = {},
): TrafficMeter<P> {
  const partyOf = options.partyOf ?? new AsyncLocalStorage<P>();
  const keepCalls = options.keepCalls ?? true;
  const traffic = Object.fromEntries(
    parties.map((party) => [party, { sent: 0, received: 0, roundTrips: 0 }]),
  ) as Record<P, PartyTraffic>;
  const calls: CountedCall[] = [];
  const original = globalThis.fetch;
  const meter: TrafficMeter<P> = {
    traffic,
    calls,
    counting: options.counting ?? true,
    as: (party, work) => partyOf.run(party, work),
    restore: () => {
      globalThis.fetch = original;
    },
  };
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const party = partyOf.getStore();
    if (party === undefined) return original(input, init);
    const counted = traffic[party];
    const inWindow = meter.counting;
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const call: CountedCall = {
      party,
      method: init?.method ?? (init?.body === undefined ? 'GET' : 'POST'),
      path: url.pathname,
      sent:
        url.pathname.length +
        (options.countQuery === true ? url.search.length : 0) +
        headerBytes(new Headers(init?.headers)) +
        bodyBytes(init?.body),
      received: 0,
    };
    if (inWindow) {
      counted.roundTrips += 1;
      counted.sent += call.sent;
      if (keepCalls) calls.push(call);
    }
    const response = await original(input, init);
    if (inWindow) {
      const bytes = headerBytes(response.headers);
      counted.received += bytes;
      call.received += bytes;
    }
    if (response.body === null) return response;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (meter.counting) {
          counted.received += chunk.byteLength;
          call.received += chunk.byteLength;
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  return meter;
}
