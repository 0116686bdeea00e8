import { MpayError } from '@mpay/protocol';

/**
 * The subset of JSON Schema the bank's routes use, checked strictly. Fastify's
 * default Ajv setup coerces types (a JSON number 100 passes as the string
 * "100") and silently removes unknown properties; a payment API must refuse
 * both. A schema outside this subset is a programmer error, caught when the
 * route is registered.
 */
export interface ObjectSchema {
  readonly type: 'object' | readonly ['object', 'null'];
  readonly properties: Readonly<Record<string, StrictSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties: false;
}

export interface StringSchema {
  readonly type: 'string';
  readonly pattern?: string;
  readonly enum?: readonly string[];
  readonly minLength?: number;
  readonly maxLength?: number;
}

export interface IntegerSchema {
  readonly type: 'integer';
  readonly minimum: number;
  readonly maximum: number;
}

export interface BooleanSchema {
  readonly type: 'boolean';
}

/** A list with bounds on its length (every list a route takes has a limit). */
export interface ArraySchema {
  readonly type: 'array';
  readonly items: StrictSchema;
  readonly minItems: number;
  readonly maxItems: number;
}

export type StrictSchema = ObjectSchema | StringSchema | IntegerSchema | BooleanSchema | ArraySchema;

type Check = (value: unknown, path: string) => string | undefined;

const knownKeywords: Readonly<Record<string, readonly string[]>> = {
  object: ['type', 'properties', 'required', 'additionalProperties'],
  string: ['type', 'pattern', 'enum', 'minLength', 'maxLength'],
  integer: ['type', 'minimum', 'maximum'],
  boolean: ['type'],
  array: ['type', 'items', 'minItems', 'maxItems'],
};

function compileArray(schema: ArraySchema): Check {
  const item = compile(schema.items);
  return (value, path) => {
    if (!Array.isArray(value)) return `${path} must be an array`;
    if (value.length < schema.minItems || value.length > schema.maxItems)
      return `${path} must have ${schema.minItems}..${schema.maxItems} items`;
    for (const [index, element] of value.entries()) {
      const problem = item(element, `${path}[${index}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function compileString(schema: StringSchema): Check {
  const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u');
  return (value, path) => {
    if (typeof value !== 'string') return `${path} must be a string`;
    if (schema.minLength !== undefined && value.length < schema.minLength) return `${path} is too short`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${path} is too long`;
    if (pattern !== undefined && !pattern.test(value)) return `${path} must match ${schema.pattern}`;
    if (schema.enum !== undefined && !schema.enum.includes(value))
      return `${path} must be one of ${schema.enum.join(', ')}`;
    return undefined;
  };
}

function compileObject(schema: ObjectSchema): Check {
  if (schema.additionalProperties !== false)
    throw new Error('strict schema: objects need additionalProperties: false');
  const properties = Object.entries(schema.properties).map(
    ([name, property]) => [name, compile(property)] as const,
  );
  const names = new Set(Object.keys(schema.properties));
  const required = schema.required ?? [];
  return (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return `${path} must be an object`;
    const unknown = Object.keys(value).find((name) => !names.has(name));
    if (unknown !== undefined) return `${path}.${unknown} is not allowed`;
    const missing = required.find((name) => !Object.hasOwn(value, name));
    if (missing !== undefined) return `${path}.${missing} is required`;
    for (const [name, check] of properties) {
      const field = (value as Record<string, unknown>)[name];
      const problem = Object.hasOwn(value, name) ? check(field, `${path}.${name}`) : undefined;
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

export function compile(schema: StrictSchema): Check {
  const type = Array.isArray(schema.type) ? 'object' : (schema.type as string);
  const unknown = Object.keys(schema).find((keyword) => !(knownKeywords[type] ?? []).includes(keyword));
  if (unknown !== undefined) throw new Error(`strict schema: unsupported keyword ${unknown} for ${type}`);
  switch (schema.type) {
    case 'string':
      return compileString(schema);
    case 'boolean':
      return (value, path) => (typeof value === 'boolean' ? undefined : `${path} must be a boolean`);
    case 'array':
      return compileArray(schema);
    case 'integer':
      return (value, path) =>
        typeof value === 'number' &&
        Number.isSafeInteger(value) &&
        value >= schema.minimum &&
        value <= schema.maximum
          ? undefined
          : `${path} must be an integer in ${schema.minimum}..${schema.maximum}`;
    default:
      return compileObject(schema);
  }
}

/**
 * A Fastify validator compiler for StrictSchema. Fastify passes null for an
 * absent body; a schema typed ['object', 'null'] turns it into {}.
 */
export function strictValidatorCompiler({
  schema,
}: {
  schema: unknown;
}): (data: unknown) => { error?: Error; value?: unknown } {
  const strict = schema as StrictSchema;
  const check = compile(strict);
  const nullable = Array.isArray(strict.type);
  return (data) => {
    if (data === null && nullable) return { value: {} };
    const problem = check(data, '$');
    return problem === undefined ? { value: data } : { error: new MpayError('REQUEST_INVALID', problem) };
  };
}
