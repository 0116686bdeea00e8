import { MpayError } from '@mpay/protocol';
import { requirePinFormat } from '../pin/opaque.ts';

const domain = 'mpay-wallet-session-pin/v1\n';
const textEncoder = new TextEncoder();

/** Wrong PINs in a row a session accepts before it locks (the next unlock is a try at custody). */
export const sessionPinTriesMaxDefault = 3;
const sessionPinTriesMaxLimit = 10;

/** Validates the option: an integer in 1..10, 3 when not given. */
export function sessionPinTriesMaxOf(value: number | undefined): number {
  const triesMax = value ?? sessionPinTriesMaxDefault;
  if (!Number.isSafeInteger(triesMax) || triesMax < 1 || triesMax > sessionPinTriesMaxLimit)
    throw new Error(`wallet options: sessionPinTriesMax must be an integer in 1..${sessionPinTriesMaxLimit}`);
  return triesMax;
}

/**
 * The PIN of an unlocked wallet session, kept to check it again without a
 * call to custody: HMAC-SHA-256 of the PIN under a random per-session key
 * that cannot be exported. Memory only, never persisted; gone with the
 * session. `matches` compares with WebCrypto's HMAC verify (constant time).
 */
export class SessionPinCheck {
  readonly #key: CryptoKey;
  readonly #tag: ArrayBuffer;

  private constructor(key: CryptoKey, tag: ArrayBuffer) {
    this.#key = key;
    this.#tag = tag;
  }

  static async create(pin: string): Promise<SessionPinCheck> {
    requirePinFormat(pin);
    const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 256 }, false, [
      'sign',
      'verify',
    ]);
    const tag = await crypto.subtle.sign('HMAC', key, textEncoder.encode(domain + pin));
    return new SessionPinCheck(key, tag);
  }

  async matches(pin: string): Promise<boolean> {
    return crypto.subtle.verify('HMAC', this.#key, this.#tag, textEncoder.encode(domain + pin));
  }
}

/**
 * Counts wrong PINs in a row within a session: WALLET_PIN_INVALID until the
 * last allowed one, which is WALLET_LOCKED (the caller ends the session).
 * A right PIN starts the count again; guessing cannot reset it, since only
 * the right PIN does.
 */
export class SessionPinTries {
  readonly #triesMax: number;
  #wrongInARow = 0;

  constructor(triesMax: number) {
    this.#triesMax = sessionPinTriesMaxOf(triesMax);
  }

  /** Records a check; throws the refusal for a wrong PIN. */
  record(matched: boolean): void {
    if (matched) {
      this.#wrongInARow = 0;
      return;
    }
    this.#wrongInARow += 1;
    throw new MpayError(this.#wrongInARow >= this.#triesMax ? 'WALLET_LOCKED' : 'WALLET_PIN_INVALID');
  }
}
