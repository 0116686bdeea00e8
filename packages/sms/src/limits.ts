/**
 * Longest text of one SMS: 6 concatenated segments of 153 GSM 03.38 characters
 * (160 less the 7 of the concatenation header). Counted in Unicode code points.
 */
export const smsTextCharactersMax = 6 * 153;

/** Every limit of the embedded SMS gateway, as named options. */
export interface SmsLimits {
  /** Largest `POST /messages` body, in bytes (413 above). */
  readonly requestBodyBytesMax: number;
  /** Longest text accepted, in code points (at most `smsTextCharactersMax`; 400 above). */
  readonly textCharactersMax: number;
  /** Most messages one inbox (one MSISDN) keeps; a message to a full inbox is refused (429). */
  readonly messagesPerInboxMax: number;
  /** Most inboxes (distinct MSISDNs) under the data folder; a new one beyond it is refused (429). */
  readonly inboxesMax: number;
  /** The Retry-After of a refusal for a full inbox or a full store: nothing empties them by itself soon. */
  readonly storageFullRetryAfterSeconds: number;
  /** Most requests handled at once; above it 503 at once. */
  readonly requestsInFlightMax: number;
  /** Longest time one request may take, body included. */
  readonly requestTimeoutMs: number;
}

const smsDefaults: SmsLimits = {
  requestBodyBytesMax: 16 * 1024,
  textCharactersMax: smsTextCharactersMax,
  messagesPerInboxMax: 1_000,
  inboxesMax: 10_000,
  storageFullRetryAfterSeconds: 60,
  requestsInFlightMax: 32,
  requestTimeoutMs: 30_000,
};

/** Every limit of an SMS sender (the client of a gateway), as named options. */
export interface SmsSenderLimits {
  /** Time for the whole exchange with the gateway: connection, request, answer. */
  readonly requestTimeoutMs: number;
  /** Largest answer read from the gateway, in bytes; a larger one is cut off and counts as no answer. */
  readonly responseBytesMax: number;
  /** Longest text sent, in code points (at most `smsTextCharactersMax`). */
  readonly textCharactersMax: number;
  /** A gateway's Retry-After is passed on up to this many seconds. */
  readonly retryAfterSecondsMax: number;
}

const smsSenderDefaults: SmsSenderLimits = {
  requestTimeoutMs: 10_000,
  responseBytesMax: 16 * 1024,
  textCharactersMax: smsTextCharactersMax,
  retryAfterSecondsMax: 3_600,
};

function checkInteger(scope: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${scope}: ${name} must be an integer in ${min}..${max}`);
  }
}

export function createSmsLimits(options: Partial<SmsLimits> = {}): SmsLimits {
  const limits = { ...smsDefaults, ...options };
  const check = (name: keyof SmsLimits, min: number, max: number) =>
    checkInteger('sms limits', name, limits[name], min, max);
  // A full-length text of 4-byte characters, each escaped as two \uXXXX in JSON, is about 11 KiB.
  check('requestBodyBytesMax', 1024, 1024 * 1024);
  check('textCharactersMax', 1, smsTextCharactersMax);
  check('messagesPerInboxMax', 1, 100_000);
  check('inboxesMax', 1, 1_000_000);
  check('storageFullRetryAfterSeconds', 1, 86_400);
  check('requestsInFlightMax', 1, 1_024);
  check('requestTimeoutMs', 1_000, 10 * 60_000);
  return Object.freeze({
    requestBodyBytesMax: limits.requestBodyBytesMax,
    textCharactersMax: limits.textCharactersMax,
    messagesPerInboxMax: limits.messagesPerInboxMax,
    inboxesMax: limits.inboxesMax,
    storageFullRetryAfterSeconds: limits.storageFullRetryAfterSeconds,
    requestsInFlightMax: limits.requestsInFlightMax,
    requestTimeoutMs: limits.requestTimeoutMs,
  });
}

export function createSmsSenderLimits(options: Partial<SmsSenderLimits> = {}): SmsSenderLimits {
  const limits = { ...smsSenderDefaults, ...options };
  const check = (name: keyof SmsSenderLimits, min: number, max: number) =>
    checkInteger('sms sender limits', name, limits[name], min, max);
  check('requestTimeoutMs', 100, 5 * 60_000);
  check('responseBytesMax', 256, 1024 * 1024);
  check('textCharactersMax', 1, smsTextCharactersMax);
  check('retryAfterSecondsMax', 0, 86_400);
  return Object.freeze({
    requestTimeoutMs: limits.requestTimeoutMs,
    responseBytesMax: limits.responseBytesMax,
    textCharactersMax: limits.textCharactersMax,
    retryAfterSecondsMax: limits.retryAfterSecondsMax,
  });
}
