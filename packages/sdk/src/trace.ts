/** One message as it crossed the wire, for `mpay demo` and for audits. */
export interface TracedMessage {
  /** What this message is in the flow, e.g. `merchant-request`. */
  step: string;
  kind: 'jws' | 'jwe';
  /** Who signed it (JWS) or who it is encrypted to (JWE). */
  party: string;
  compact: string;
}

export type MessageTrace = (message: TracedMessage) => void;
