/**
 * Which fetch outgoing calls use. Browser-safe: nothing here knows of TLS
 * client certificates; a Node process that has them (@mpay/pki's
 * `tlsFetch`, an undici Agent with the service's certificate and the
 * deployment's CA) registers a source, or passes a fetch per call in
 * RequestOptions. Without either, the global fetch.
 *
 * A fetch may carry an `exchange`: the same call without the WHATWG
 * machinery (streams, Request and Response objects), for answers read whole
 * and bounded, which is what calls between services are. @mpay/pki's
 * clients carry one over undici's `request`; measured on this machine kind,
 * a small JSON call costs about a sixth of the client CPU of a fetch
 * (docs/benchmarks.md). A fetch without one is called as a fetch.
 */
export type FetchFunction = ((url: string, init: RequestInit) => Promise<Response>) & {
  readonly exchange?: ExchangeFunction;
};

/** What one exchange sends. */
export interface ExchangeRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array<ArrayBuffer> | undefined;
  /** Ends the exchange: its promise, or the read of its body, rejects (a timeout, a caller that gave up). */
  readonly signal: AbortSignal;
  /**
   * 'manual': a redirect is the answer, never followed (a webhook). An
   * exchange over undici's `request` never follows one whatever this says;
   * one over fetch follows by fetch's default otherwise.
   */
  readonly redirect?: 'manual';
}

/** An answer whose status and headers have come: its body is then read once, bounded, or discarded. */
export interface ExchangeAnswer {
  readonly status: number;
  /** The Content-Type header, '' when there is none. */
  readonly contentType: string;
  /** A header of the answer by its name (any case), undefined when absent; several are joined with ", ". */
  header(name: string): string | undefined;
  /** The body as UTF-8 text; undefined when it passes `bytesMax` (the read stops there, the rest is dropped). */
  read(bytesMax: number): Promise<string | undefined>;
  /**
   * Throws the body away unused, without waiting for it; never rejects. Over
   * undici (the services' calls) a short body that ends within a second is
   * read to its end behind the caller's back so that its connection is kept;
   * one still arriving past that is dropped with its connection.
   */
  discard(): Promise<void>;
}

export type ExchangeFunction = (url: string, request: ExchangeRequest) => Promise<ExchangeAnswer>;

let source: (() => FetchFunction | undefined) | undefined;

/**
 * Registers where outgoing calls find the fetch of the current work (one
 * source per process; e.g. one that answers per service from an
 * AsyncLocalStorage, so that each institution in one process presents its
 * own certificate). `undefined` removes it.
 */
export function setFetchSource(next: (() => FetchFunction | undefined) | undefined): void {
  source = next;
}

/** The source registered now (setFetchSource), to put it back after a registration of one's own. */
export function fetchSource(): (() => FetchFunction | undefined) | undefined {
  return source;
}

/** The fetch a call uses: the one it was given, else the registered source's, else the global fetch. */
export function fetchFor(given: FetchFunction | undefined): FetchFunction {
  return given ?? source?.() ?? ((url, init) => fetch(url, init));
}

/** The exchange a call uses: that of the fetch `fetchFor` picks, or one over that fetch. */
export function exchangeFor(given: FetchFunction | undefined): ExchangeFunction {
  const chosen = fetchFor(given);
  return chosen.exchange ?? fetchExchange(chosen);
}

/** An exchange over a fetch (the browser's, the global one, a test's). */
export function fetchExchange(fetchWith: FetchFunction): ExchangeFunction {
  return async (url, request) => {
    const response = await fetchWith(url, {
      method: request.method,
      headers: { ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: request.signal,
      ...(request.redirect === undefined ? {} : { redirect: request.redirect }),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      header: (name) => response.headers.get(name) ?? undefined,
      read: (bytesMax) => readBounded(response, bytesMax),
      discard: async () => {
        // A body that failed after the head (a reset) rejects its cancel: nothing to report then.
        await response.body?.cancel().catch(() => undefined);
      },
    };
  };
}

/**
 * Reads at most `bytesMax` bytes of a response body as UTF-8 text, stopping
 * (and cancelling the stream) as soon as the limit is passed, rather than
 * after reading it all.
 */
export async function readBounded(response: Response, bytesMax: number): Promise<string | undefined> {
  const bytes = await readBoundedBytes(response, bytesMax);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** `readBounded`'s bytes, as they came: undefined past `bytesMax`. */
export async function readBoundedBytes(
  response: Response,
  bytesMax: number,
): Promise<Uint8Array | undefined> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > bytesMax) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  // Web standards only (no Buffer): the same client runs in browsers.
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
