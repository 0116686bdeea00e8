import type { JsonSchema, RawBodyDoc, SecurityRequirement } from './openapi.ts';

/**
 * Building blocks for the route schemas that only describe (response
 * schemas and raw bodies, see openapi.ts), so that each service writes its
 * answers' shapes in a few lines. Request schemas that validate stay with
 * their routes, written out: they are the contract the validator enforces.
 */

/** An object with exactly these properties: the contract test then fails on any field the answer adds. */
export function exactObject(
  properties: Readonly<Record<string, JsonSchema>>,
  optional: readonly string[] = [],
): JsonSchema {
  return {
    type: 'object',
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    additionalProperties: false,
    properties,
  };
}

/** An object with at least these properties (for views that carry more than a client relies on). */
export function openObject(
  properties: Readonly<Record<string, JsonSchema>>,
  optional: readonly string[] = [],
): JsonSchema {
  return {
    type: 'object',
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    properties,
  };
}

export function arrayOf(items: JsonSchema): JsonSchema {
  return { type: 'array', items };
}

export function nullable(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, { type: 'null' }] };
}

export const stringSchema: JsonSchema = Object.freeze({ type: 'string' });
export const booleanSchema: JsonSchema = Object.freeze({ type: 'boolean' });
export const integerSchema: JsonSchema = Object.freeze({ type: 'integer' });
export const anyObject: JsonSchema = Object.freeze({ type: 'object' });
/** A time as toISOString writes it. */
export const isoTime: JsonSchema = Object.freeze({
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
});
export const uuid: JsonSchema = Object.freeze({
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
});
/** A whole number of minor units as decimal text (money never travels as a JSON number). */
export const minorUnitsText: JsonSchema = Object.freeze({ type: 'string', pattern: '^-?[0-9]{1,19}$' });
export const currencyCode: JsonSchema = Object.freeze({ type: 'string', pattern: '^[A-Z]{3}$' });
/** A JWK: its members depend on its key type. */
export const jwk: JsonSchema = Object.freeze({
  type: 'object',
  required: ['kty'],
  properties: { kty: stringSchema },
});
export const jwkSet: JsonSchema = exactObject({ keys: arrayOf(jwk) });
/** A compact JWS (three base64url parts) or JWE (five). */
export const compactJose: JsonSchema = Object.freeze({
  type: 'string',
  contentMediaType: 'application/jose',
  pattern: '^[A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]*){2}((\\.[A-Za-z0-9_-]*){2})?$',
});

/** A body of compact JOSE the route reads as text (application/jose, or text/plain from a browser form). */
export function joseBody(
  description: string,
  contentTypes: readonly string[] = ['application/jose'],
): RawBodyDoc {
  return { contentTypes, schema: compactJose, description };
}

/** A response schema for an answer that is text of this media type, not JSON. */
export function textAnswer(mediaType: string, schema: JsonSchema = stringSchema): JsonSchema {
  return { content: { [mediaType]: { schema } } };
}

/** A response with no body (204 and the like). */
export const noBody: JsonSchema = Object.freeze({ type: 'null', description: 'No body' });

/** `{ state: 'pending' }`: the 202 of evidence not yet proved by the log. */
export const pendingState: JsonSchema = exactObject({ state: { const: 'pending' } });

/** Names an error status in a route's responses (the document gives it mpay's error body). */
export function errorAnswer(description: string): JsonSchema {
  return { description };
}

/** An mpay-receipt/v1 file (see @mpay/merkle receipt.ts): what `mpay log verify` checks offline. */
export const logReceipt: JsonSchema = exactObject(
  {
    version: { const: 'mpay-receipt/v1' },
    transactionId: stringSchema,
    messages: arrayOf(stringSchema),
    entry: exactObject({ kind: stringSchema, metadata: { type: 'object' }, submitter: stringSchema }),
    proof: stringSchema,
    logKey: stringSchema,
    witnessKeys: arrayOf(stringSchema),
  },
  ['logKey', 'witnessKeys'],
);

/** `security` of a route signed with `Authorization: MPay <jws>` (an institution's or a device's key). */
export const signedRequest: readonly SecurityRequirement[] = Object.freeze([{ mpaySignature: [] }]);
/** `security` of an operator's route (the platform's operator token as a bearer token). */
export const operatorOnly: readonly SecurityRequirement[] = Object.freeze([{ operatorToken: [] }]);
/** `security` of GET /metrics. */
export const metricsScrape: readonly SecurityRequirement[] = Object.freeze([{ metricsToken: [] }]);
