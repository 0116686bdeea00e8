import {
  type Amount,
  assert,
  type ChallengeContent,
  canonicalBytes,
  createPaymentRequestContent,
  createTransactionData,
  hashTransactionData,
  type MacroMessageKind,
  type MacroParty,
  type MacroStepNumber,
  macroAmountOf,
  type PaymentRequestContent,
  parseTransactionData,
  type Sha256Digest,
  type TransactionData,
} from '@mpay/protocol';

/**
 * The device's side of steps 1–5 of §4.2 (seed 002), pure helpers over the
 * core's contents: the MacroClient (client.ts) sends what they build.
 */

/** What the device asks to pay (step 1): the client, the merchant, the amount. */
export interface MacroPaymentInput {
  /** ID_C, as mailed after the registration. */
  readonly clientId: string;
  /** The MSISDN registered with ID_C: it identifies the mPIN client (§3). */
  readonly msisdn: string;
  /** ID_M: the merchant's party id (its bank, ID_MB, is read from it). */
  readonly merchantId: string;
  /** AmtInfo_c */
  readonly amount: Amount;
  /** TransactionData's date (default: now). */
  readonly date?: Date;
  /** Default: a fresh UUID. Keep the prepared request to retry it. */
  readonly requestId?: string;
  readonly idempotencyKey?: string;
  /** The step-1 message's own lifetime (default 120 s); T_EXP is the MPASP's. */
  readonly requestLifetimeSeconds?: number;
  /** The device's clock, milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** A step-1 request ready to send: the exact bytes and key to send again on a retry. */
export interface PreparedMacroPayment {
  readonly clientId: string;
  readonly request: PaymentRequestContent;
  /** Kept on the device: the MPASP sees only its hash until the client's consent names it (step 7). */
  readonly transactionData: TransactionData;
  /** The compact JWE under the request key. */
  readonly body: string;
  readonly idempotencyKey: string;
}

/** Step 2 as the MPASP answered it: ID_T, T_iS, T_EXP (the challenge itself is opened at step 3). */
export interface MacroPaymentStarted {
  readonly clientId: string;
  readonly transactionId: string;
  readonly requestId: string;
  readonly challengedAt: string;
  readonly expiresAt: string;
  readonly request: PaymentRequestContent;
  readonly transactionData: TransactionData;
}

/** Step 3 done: the challenge opened, and the payment's channel key that opened it. */
export interface OpenedMacroChallenge {
  readonly transactionId: string;
  readonly challenge: ChallengeContent;
  readonly channelKey: Uint8Array;
}

/** Step 5 done: SID_T created; the MPASP sends the Payment Request to the client bank (step 6). */
export interface MacroSessionCreated {
  readonly transactionId: string;
  readonly sessionId: string;
  readonly status: string;
}

/**
 * One message of §4.2 as the device sent or received it (MacroClient,
 * MacroBankClient `onMessage`), for a trace: nothing in it is secret, and
 * nothing in the clients depends on it. `macro_mpin_login` is mpay's own
 * message of step 3: the try-counting OPAQUE login that opens the challenge.
 */
export interface MacroMessageObserved {
  readonly step: MacroStepNumber;
  readonly from: MacroParty;
  readonly to: MacroParty;
  readonly message: MacroMessageKind | 'macro_mpin_login';
  /** The exact bytes mpay sent for it: a request's body, or the compact JWE / JWS an answer carries. */
  readonly bytes: number;
  /** Who signed or sealed it, how, and under which key (from the message's protected headers). */
  readonly protection: string;
  /** The HTTP exchange that carried it, e.g. `POST /macro/payments`. */
  readonly route: string;
}

export type MacroMessageObserver = (message: MacroMessageObserved) => void;

/** UTF-8 length of what was sent. */
export function byteLengthOf(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * A compact JWS or JWE's protected header for a trace (`JWE dir/A256GCM, kid
 * …`), read without verifying anything: only ever printed, never trusted.
 */
export function describeCompact(compact: string): string {
  const parts = compact.split('.');
  let header: Record<string, unknown> = {};
  try {
    const json = new TextDecoder().decode(
      Uint8Array.from(atob((parts[0] ?? '').replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)),
    );
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed === 'object' && parsed !== null) header = parsed as Record<string, unknown>;
  } catch {
    // Not a compact serialization: described by its kind alone.
  }
  const kind = parts.length === 5 ? 'JWE' : 'JWS';
  const algorithm =
    kind === 'JWE' ? `${String(header.alg ?? '?')}/${String(header.enc ?? '?')}` : String(header.alg ?? '?');
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const shortKid = kid === undefined ? '' : `, kid ${kid.length > 40 ? `${kid.slice(0, 12)}…` : kid}`;
  return `${kind} ${algorithm}${shortKid}`;
}

export const requestLifetimeSecondsDefault = 120;
export const requestLifetimeSecondsMax = 600;

/**
 * SHA-256 through WebCrypto (async), for the core's synchronous digest: the
 * digest of the one input computed first, handed to the core, which must ask
 * for exactly that input.
 */
export async function precomputedDigest(bytes: Uint8Array): Promise<Sha256Digest> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return (input) => {
    assert(
      input.length === bytes.length && input.every((byte, index) => byte === bytes[index]),
      'the digest is asked for the input it was computed for',
    );
    return digest;
  };
}

/** h(TransactionData), as the core computes it (SHA-256 over its RFC 8785 form), in a browser too. */
export async function hashTransactionDataAsync(data: TransactionData): Promise<string> {
  const valid = parseTransactionData(data);
  return hashTransactionData(valid, await precomputedDigest(canonicalBytes(valid)));
}

/** Step 1's content and TransactionData for `input` (checked as the MPASP checks them). */
export async function createMacroPaymentRequest(
  input: MacroPaymentInput,
  mpaspId: string,
): Promise<{ request: PaymentRequestContent; transactionData: TransactionData }> {
  const nowMs = (input.now ?? Date.now)();
  const lifetimeSeconds = input.requestLifetimeSeconds ?? requestLifetimeSecondsDefault;
  assert(
    Number.isSafeInteger(lifetimeSeconds) &&
      lifetimeSeconds >= 1 &&
      lifetimeSeconds <= requestLifetimeSecondsMax,
    `requestLifetimeSeconds is in 1..${requestLifetimeSecondsMax}`,
  );
  const transactionData = createTransactionData({
    date: input.date ?? new Date(nowMs),
    amount: input.amount,
    merchantId: input.merchantId,
  });
  const request = createPaymentRequestContent({
    clientId: input.clientId,
    mpaspId,
    requestId: input.requestId ?? crypto.randomUUID(),
    amount: macroAmountOf(input.amount),
    transactionDataHash: await hashTransactionDataAsync(transactionData),
    expiresAt: new Date(nowMs + lifetimeSeconds * 1000),
  });
  return { request, transactionData };
}
