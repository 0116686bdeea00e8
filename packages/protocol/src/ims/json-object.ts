import { MpayError } from '../errors/index.ts';

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A plain object with exactly the allowed own keys: every required key present,
 * no unknown key (including '__proto__' as an own key from JSON.parse).
 */
export function readObject(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isPlainObject(value)) throw new MpayError('MESSAGE_INVALID', path === '' ? '(message)' : path);
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new MpayError('MESSAGE_INVALID', joinPath(path, key));
    }
  }
  for (const key of required) {
    if (!Object.hasOwn(value, key)) throw new MpayError('MESSAGE_INVALID', joinPath(path, key));
  }
  return value;
}

/** Reads an optional key: absent → undefined, present → parsed (an explicit undefined is not absent). */
export function readOptional<T>(
  object: Record<string, unknown>,
  key: string,
  path: string,
  parse: (value: unknown, path: string) => T,
): T | undefined {
  return Object.hasOwn(object, key) ? parse(object[key], joinPath(path, key)) : undefined;
}

/** `{ [key]: value }` when value is defined, `{}` otherwise, so absent fields stay absent. */
export function optionalEntry<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}
