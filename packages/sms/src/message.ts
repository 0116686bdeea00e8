import { isMsisdn } from '@mpay/protocol';

/** One SMS to send: the recipient's MSISDN in E.164 form and the text. */
export interface OutgoingSms {
  /** E.164: `+`, a non-zero digit, 6 to 14 more digits (`+38970123456`). */
  readonly to: string;
  /** 1 to `textCharactersMax` code points (918 by default: 6 concatenated segments); `\n` is the only control character. */
  readonly text: string;
}

/** An alphanumeric sender id (3GPP TS 23.040 §9.1.2.5: at most 11 characters), or an MSISDN. */
const alphanumericSenderIdPattern = /^[A-Za-z0-9]{1,11}$/;

/**
 * What no SMS text may hold: control characters (C0 except `\n`, DEL, C1),
 * which would reach a terminal or a handset as commands, and lone surrogates,
 * which no SMS encoding can carry.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const refusedTextCharacters = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]|\p{Cs}/u;

/** Whether `value` can name the sender of an SMS: an alphanumeric sender id or an MSISDN. */
export function isSmsSenderId(value: unknown): value is string {
  return typeof value === 'string' && (alphanumericSenderIdPattern.test(value) || isMsisdn(value));
}

/** Whether `value` is a text one SMS can carry: 1..`textCharactersMax` code points, no control character but `\n`. */
export function isSmsText(value: unknown, textCharactersMax: number): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  // Cheap bound first: a code point is at most two UTF-16 units.
  if (value.length > 2 * textCharactersMax) return false;
  return [...value].length <= textCharactersMax && !refusedTextCharacters.test(value);
}

/** The first field of `sms` that cannot be sent ('to' or 'text'), or undefined when it can be. */
export function invalidSmsFieldOf(
  sms: { readonly to?: unknown; readonly text?: unknown },
  textCharactersMax: number,
): 'to' | 'text' | undefined {
  if (!isMsisdn(sms.to)) return 'to';
  if (!isSmsText(sms.text, textCharactersMax)) return 'text';
  return undefined;
}
