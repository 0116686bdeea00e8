import { MpayError } from '@mpay/protocol';

const decimal = /^(?:0|[1-9][0-9]{0,19})$/;

/** A required unsigned decimal parameter (query or path), as a bigint; anything else is REQUEST_INVALID. */
export function uint64Parameter(source: unknown, name: string): bigint {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || !decimal.test(value) || BigInt(value) > (1n << 64n) - 1n) {
    throw new MpayError('REQUEST_INVALID', name);
  }
  return BigInt(value);
}

/**
 * A required list of unsigned decimals separated by commas (`1,5,9`), 1 to
 * `countMax` of them, as bigints; anything else is REQUEST_INVALID.
 */
export function uint64ListParameter(source: unknown, name: string, countMax: number): bigint[] {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string') throw new MpayError('REQUEST_INVALID', name);
  const parts = value.split(',');
  if (parts.length > countMax) throw new MpayError('REQUEST_INVALID', `${name}: at most ${countMax}`);
  return parts.map((part) => uint64Parameter({ [name]: part }, name));
}

/** Indices and sizes leave the service as JSON numbers; a log never nears 2^53 entries. */
export function jsonNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MpayError('INTERNAL', 'size beyond 2^53');
  return Number(value);
}
