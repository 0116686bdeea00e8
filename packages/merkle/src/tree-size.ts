import { treeSizeMax } from './limits.ts';

/** Tree sizes and indices cross the API as `number` or `bigint`; inside they are `bigint`. */
export type TreeSize = number | bigint;

/** Returns the value as a bigint in [0, 2^64 - 1], or undefined if it is not one. */
export function toUint64(value: TreeSize): bigint | undefined {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return undefined;
    return BigInt(value);
  }
  if (typeof value !== 'bigint' || value < 0n || value > treeSizeMax) return undefined;
  return value;
}

/** Number of bits needed to write the value (0 for 0). */
export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

/** Number of trailing zero bits; the value must be positive. */
export function trailingZeros(value: bigint): number {
  let count = 0;
  let rest = value;
  while ((rest & 1n) === 0n) {
    rest >>= 1n;
    count++;
  }
  return count;
}

export function isPowerOfTwo(value: bigint): boolean {
  return value > 0n && (value & (value - 1n)) === 0n;
}
