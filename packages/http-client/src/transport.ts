/**
 * Which fetch outgoing calls use. Browser-safe: nothing here knows of TLS
 * client certificates; a Node process that has them (@mpay/pki's
 * `tlsFetch`, an undici Agent with the service's certificate and the
 * deployment's CA) registers a source, or passes a fetch per call in
 * RequestOptions. Without either, the global fetch.
 */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

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

/** The fetch a call uses: the one it was given, else the registered source's, else the global fetch. */
export function fetchFor(given: FetchFunction | undefined): FetchFunction {
  return given ?? source?.() ?? ((url, init) => fetch(url, init));
}
