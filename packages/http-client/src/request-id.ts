/**
 * The request id that follows one piece of work across services: a server
 * takes it from the `x-request-id` of the request it answers (or makes one),
 * logs under it, answers with it, and every call it makes while doing that
 * work carries it on. Browser-safe: where the id comes from is registered by
 * the server side (@mpay/http-server keeps it per request with
 * AsyncLocalStorage); in a browser there is none and nothing is added.
 */
export const requestIdHeader = 'x-request-id';

/** What an incoming id may be (hostile input: bounded, plain characters); anything else is replaced. */
export const requestIdPattern = /^[A-Za-z0-9._:-]{1,100}$/;

let source: (() => string | undefined) | undefined;

/** Registers where outgoing calls find the current work's request id (one source per process). */
export function setRequestIdSource(next: () => string | undefined): void {
  source = next;
}

/** The request id of the work this call is part of, if a server registered a source and is in one. */
export function currentRequestId(): string | undefined {
  return source?.();
}
