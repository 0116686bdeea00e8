import { MpayError } from '@mpay/protocol';

/** Account and transfer ids: UUIDs in canonical lower-case text, so that text equality is id equality. */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isLedgerId(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

export function parseLedgerId(value: unknown, field: string): string {
  if (!isLedgerId(value)) throw new MpayError('REQUEST_INVALID', field);
  return value;
}
