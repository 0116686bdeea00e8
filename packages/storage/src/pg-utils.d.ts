/** node-postgres's own conversion of a query parameter (no types ship for its lib/utils). */
declare module 'pg/lib/utils.js' {
  /** null for null and undefined, a Buffer for binary data, text for the rest (arrays as array literals, objects as JSON). */
  export function prepareValue(value: unknown): string | Uint8Array | null;
}
