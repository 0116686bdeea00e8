import { STATUS_CODES } from 'node:http';
import { errorCatalogue } from '@mpay/protocol';
import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * GET /openapi.json: each service describes its own HTTP API as an OpenAPI
 * 3.1 document, built from the route options Fastify is given, so that the
 * document cannot drift from what the routes validate:
 *
 * - `schema.params`, `schema.querystring` and `schema.body` are the schemas
 *   the route validates with (Fastify's Ajv, or the bank's strict compiler);
 * - `schema.response` describes the answers. It does NOT serialize them:
 *   createHttpServer installs a serializer compiler that ignores the schema
 *   (see describeOnlySerializerCompiler), because fast-json-stringify would
 *   silently drop fields a schema forgot and coerce types ("1" ↔ 1). A wrong
 *   response schema must fail the contract test
 *   (test/e2e/openapi-contract.test.ts), never change what clients receive;
 * - `schema.summary`, `schema.description`, `schema.tags`, and for a body the
 *   route reads raw (a compact JWS or JWE, iMS XML) and checks with its
 *   protocol's own parser, `schema.rawBody`: its media type and what the text
 *   is. Fastify ignores these keys.
 */

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1) as plain data. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A request body the route reads as text and parses itself (not validated by a JSON Schema). */
export interface RawBodyDoc {
  /** Media types the route accepts, e.g. ['application/jose']. */
  readonly contentTypes: readonly string[];
  /** What the text is, e.g. { type: 'string', contentMediaType: 'application/jose' }. */
  readonly schema: JsonSchema;
  readonly description?: string;
  /** Whether the body may be absent (default: required). */
  readonly optional?: boolean;
}

declare module 'fastify' {
  interface FastifySchema {
    /** One line for the document's operation. */
    summary?: string;
    description?: string;
    tags?: readonly string[];
    /** A body read as text and parsed by the route itself. */
    rawBody?: RawBodyDoc;
    /** A POST (PUT, PATCH) that reads no body: an action named by its URL. */
    noRequestBody?: boolean;
    /** Leave the route out of the document (say why where it is set). */
    hide?: boolean;
    /**
     * The credentials the route requires, as OpenAPI's security requirements
     * (names of `securitySchemes`: any one object of the list suffices; `{}`
     * in the list: the credential is optional). Absent: a public route.
     */
    security?: readonly SecurityRequirement[];
  }
}

/** One OpenAPI security requirement: scheme names (of `securitySchemes`) with their scopes (none here). */
export type SecurityRequirement = Readonly<Partial<Record<SecuritySchemeName, readonly string[]>>>;

/**
 * The credentials mpay's services take, as OpenAPI security schemes (the
 * same in every document; a document lists the ones its routes use).
 */
export const securitySchemes = {
  mpaySignature: {
    type: 'http',
    scheme: 'MPay',
    description:
      'Authorization: MPay <compact JWS>: a request signed by an institution (merchant, FSP, bank, custody) or a device key, bound to the method, the path, a hash of the body and a single-use nonce (@mpay/http-client signed-request.ts)',
  },
  operatorToken: {
    type: 'http',
    scheme: 'bearer',
    description: "The platform operator's token (.mpay/keys/operator-token.json): admin and operator routes",
  },
  merchantToken: {
    type: 'http',
    scheme: 'bearer',
    description: "The shop's merchant token (its configuration): orders, shipment, notifications, the till",
  },
  cartToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      "A cart's token, given when the shop created the cart (POST /carts); an order's, given at its checkout",
  },
  deviceToken: {
    type: 'http',
    scheme: 'bearer',
    description: "A custody customer's device token, given at enrolment",
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The scrape token (metricsToken; MPAY_METRICS_TOKEN of a service process): GET /metrics',
  },
} as const satisfies Record<string, JsonSchema>;

export type SecuritySchemeName = keyof typeof securitySchemes;

/** A route's `security`, if it says one. */
export function securityOfRoute(
  schema: Readonly<Record<string, unknown>> | undefined,
): readonly SecurityRequirement[] | undefined {
  return Array.isArray(schema?.security) ? (schema.security as SecurityRequirement[]) : undefined;
}

/** What the document builder knows of one route. */
export interface RouteRecord {
  readonly method: string;
  /** Fastify's URL, with `:param`. */
  readonly url: string;
  readonly schema: Readonly<Record<string, unknown>> | undefined;
}

export interface OpenApiInfo {
  /** The service name, e.g. 'gateway'. */
  readonly name: string;
  readonly version: string;
}

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly jsonSchemaDialect: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components: {
    readonly schemas: Record<string, JsonSchema>;
    readonly securitySchemes?: Record<string, JsonSchema>;
  };
}

export interface OpenApiOperation {
  readonly operationId: string;
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: {
    readonly required: boolean;
    readonly description?: string;
    readonly content: Record<string, { readonly schema: JsonSchema }>;
  };
  readonly responses: Record<string, OpenApiResponse>;
  /** What the route requires (none: public, `[]` said explicitly). */
  readonly security: readonly SecurityRequirement[];
}

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly schema: JsonSchema;
  readonly description?: string;
}

export interface OpenApiResponse {
  readonly description: string;
  readonly content?: Record<string, { readonly schema: JsonSchema }>;
}

export const openApiPath = '/openapi.json';
export const jsonSchemaDialect = 'https://json-schema.org/draft/2020-12/schema';
export const errorSchemaName = 'Error';
const errorSchemaRef = { $ref: `#/components/schemas/${errorSchemaName}` } as const;

/**
 * mpay's error body (sendError, MpayError.toJSON): one code from the
 * catalogue, its message, maybe a detail. A few refusals carry a signed
 * word next to it (a bank's `bankAnswer`, the MPASP's sealed `failureMsg1`),
 * so other members may follow `error`.
 */
export const errorBodySchema: JsonSchema = Object.freeze({
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: Object.keys(errorCatalogue) },
        message: { type: 'string' },
        detail: { type: 'string' },
      },
    },
  },
});

/** The methods a document lists; HEAD is Fastify's automatic twin of each GET. */
const documentedMethods = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** `/payments/:id/refunds/:refundId` → `/payments/{id}/refunds/{refundId}` (a `:name(regex)` loses its regex). */
export function openApiPathOf(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}').replace(/\*$/, '{wildcard}');
}

function pathParameterNames(url: string): string[] {
  return [...openApiPathOf(url).matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] as string);
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy as plain JSON: the document never shares (or lets anyone mutate) a route's schema. */
function copy(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema;
}

function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) =>
      segment.startsWith('{') ? `By-${segment.slice(1, -1)}` : segment.replace(/\.json$/, '-json'),
    )
    .flatMap((segment) => segment.split(/[-_.]/))
    .filter((word) => word !== '')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1));
  return `${method}${words.join('')}`;
}

function parametersOf(route: RouteRecord): OpenApiParameter[] {
  const schema = route.schema ?? {};
  const params = isObject(schema.params) ? schema.params : undefined;
  const paramProperties = isObject(params?.properties) ? params.properties : {};
  const path = pathParameterNames(route.url).map(
    (name): OpenApiParameter => ({
      name,
      in: 'path',
      required: true,
      schema: isObject(paramProperties[name]) ? copy(paramProperties[name]) : { type: 'string' },
    }),
  );
  const query = isObject(schema.querystring) ? schema.querystring : undefined;
  const queryProperties = isObject(query?.properties) ? query.properties : {};
  const required = Array.isArray(query?.required) ? (query.required as unknown[]) : [];
  const queryParameters = Object.entries(queryProperties).map(
    ([name, property]): OpenApiParameter => ({
      name,
      in: 'query',
      required: required.includes(name),
      schema: copy(property),
    }),
  );
  return [...path, ...queryParameters];
}

/** A JSON body schema that accepts null means the body may be absent (Fastify passes null then). */
function acceptsNull(schema: JsonSchema): boolean {
  return Array.isArray(schema.type) && schema.type.includes('null');
}

function requestBodyOf(route: RouteRecord): OpenApiOperation['requestBody'] {
  const schema = route.schema ?? {};
  if (isObject(schema.body)) {
    const body = copy(schema.body);
    if (isObject(body.content)) {
      const content = Object.fromEntries(
        Object.entries(body.content).map(([type, entry]) => [
          type,
          { schema: copy(isObject(entry) ? entry.schema : {}) },
        ]),
      );
      return { required: true, content };
    }
    return { required: !acceptsNull(body), content: { 'application/json': { schema: body } } };
  }
  const raw = schema.rawBody as RawBodyDoc | undefined;
  if (raw === undefined) return undefined;
  return {
    required: raw.optional !== true,
    ...(raw.description === undefined ? {} : { description: raw.description }),
    content: Object.fromEntries(raw.contentTypes.map((type) => [type, { schema: copy(raw.schema) }])),
  };
}

function describeStatus(status: string): string {
  if (status === 'default') return 'An mpay error';
  if (/^[1-5]XX$/i.test(status)) return `Any ${status.toUpperCase()} answer`;
  return STATUS_CODES[Number(status)] ?? 'Answer';
}

function isSuccess(status: string): boolean {
  return status.startsWith('2');
}

/** Whether a response entry gives a schema (else it only describes a status that answers the error body). */
function describesBody(schema: Readonly<Record<string, unknown>>): boolean {
  return ['type', 'content', '$ref', 'anyOf', 'oneOf', 'allOf', 'const', 'enum'].some((key) => key in schema);
}

/** The documented responses of a route (its 2xx, error statuses, and `default`: mpay's error body). */
export function responsesOfRoute(route: RouteRecord): Record<string, OpenApiResponse> {
  const declared = isObject(route.schema?.response) ? route.schema.response : {};
  const responses: Record<string, OpenApiResponse> = {};
  for (const [rawStatus, entry] of Object.entries(declared)) {
    const status = /^[1-5]xx$/.test(rawStatus) ? rawStatus.toUpperCase() : rawStatus;
    const schema = isObject(entry) ? entry : {};
    const description = typeof schema.description === 'string' ? schema.description : describeStatus(status);
    if (!isSuccess(status) && !describesBody(schema)) {
      // An error status with only a description: mpay's error body.
      responses[status] = { description, content: { 'application/json': { schema: errorSchemaRef } } };
    } else if (isObject(schema.content)) {
      const content = Object.fromEntries(
        Object.entries(schema.content).map(([type, media]) => [
          type,
          { schema: copy(isObject(media) ? media.schema : {}) },
        ]),
      );
      responses[status] = { description, content };
    } else if (schema.type === 'null') {
      responses[status] = { description };
    } else {
      responses[status] = { description, content: { 'application/json': { schema: copy(schema) } } };
    }
  }
  responses.default = {
    description: describeStatus('default'),
    content: { 'application/json': { schema: errorSchemaRef } },
  };
  return responses;
}

function operationOf(route: RouteRecord, method: string, path: string): OpenApiOperation {
  const schema = route.schema ?? {};
  const parameters = parametersOf(route);
  const requestBody = requestBodyOf(route);
  return {
    operationId: operationIdOf(method, path),
    ...(typeof schema.summary === 'string' ? { summary: schema.summary } : {}),
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    ...(Array.isArray(schema.tags) ? { tags: [...(schema.tags as string[])] } : {}),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(requestBody === undefined ? {} : { requestBody }),
    responses: responsesOfRoute(route),
    security: (securityOfRoute(schema) ?? []).map((requirement) => copy(requirement)),
  };
}

function methodsOf(route: RouteRecord): string[] {
  return route.method
    .split(',')
    .map((method) => method.toLowerCase())
    .filter((method) => (documentedMethods as readonly string[]).includes(method));
}

/** The OpenAPI 3.1 document of these routes (pure: the same routes give the same document). */
export function buildOpenApiDocument(info: OpenApiInfo, routes: readonly RouteRecord[]): OpenApiDocument {
  const paths: Record<string, Record<string, OpenApiOperation>> = {};
  const sorted = [...routes].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  for (const route of sorted) {
    if (route.schema?.hide === true) continue;
    const path = openApiPathOf(route.url);
    for (const method of methodsOf(route)) {
      const item = paths[path] ?? {};
      item[method] = operationOf(route, method, path);
      paths[path] = item;
    }
  }
  const used = new Set(
    Object.values(paths).flatMap((item) =>
      Object.values(item).flatMap((operation) => operation.security.flatMap((req) => Object.keys(req))),
    ),
  );
  const schemes = Object.fromEntries(
    Object.entries(securitySchemes)
      .filter(([name]) => used.has(name))
      .map(([name, scheme]) => [name, copy(scheme)]),
  );
  return {
    openapi: '3.1.0',
    jsonSchemaDialect,
    info: { title: `mpay ${info.name}`, version: info.version },
    paths,
    components: {
      schemas: { [errorSchemaName]: copy(errorBodySchema) },
      ...(used.size === 0 ? {} : { securitySchemes: schemes }),
    },
  };
}

/**
 * What the document lacks for a route: a summary, a schema of a 2xx answer,
 * and (for a route that takes a body) a schema of the body. Empty when the
 * route is completely described. A route whose answer has no body says
 * `response: { 204: { type: 'null' } }`.
 */
export function gapsOf(route: RouteRecord): string[] {
  const schema = route.schema ?? {};
  if (schema.hide === true) return [];
  const gaps: string[] = [];
  if (typeof schema.summary !== 'string' || schema.summary === '') gaps.push('summary');
  const response = isObject(schema.response) ? schema.response : {};
  if (!Object.keys(response).some(isSuccess)) gaps.push('2xx response schema');
  const method = String(route.method).toUpperCase();
  if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && !isObject(schema.body)) {
    if (schema.rawBody === undefined && schema.noRequestBody !== true) gaps.push('body schema');
  }
  return gaps;
}

const routesOfApp = new WeakMap<FastifyInstance, RouteRecord[]>();

/** Every route registered on this app since registerOpenApi, in registration order (HEAD twins included). */
export function routesOf(app: FastifyInstance): readonly RouteRecord[] {
  return routesOfApp.get(app) ?? [];
}

/** Each route of this app the document does not fully describe, with what it lacks (HEAD twins left out). */
export function undocumentedRoutes(app: FastifyInstance): { method: string; url: string; gaps: string[] }[] {
  return expandMethods(routesOf(app))
    .filter((route) => route.method !== 'HEAD')
    .map((route) => ({ method: route.method, url: route.url, gaps: gapsOf(route) }))
    .filter((route) => route.gaps.length > 0);
}

/** How long a client or proxy may keep the document: it changes only with a new release. */
export const openApiMaxAgeSeconds = 300;

/**
 * Serializes every answer with JSON.stringify, exactly as Fastify does for a
 * route without a response schema: response schemas only describe (see the
 * comment at the top of this file).
 */
export function describeOnlySerializerCompiler(): (data: unknown) => string {
  return (data) => JSON.stringify(data);
}

/**
 * Collects every route (an onRoute hook: call this before any route is
 * added) and serves GET /openapi.json. The document is public and may be
 * cached: it tells only the API's shape, which the open-source code tells
 * anyway, never data, keys or configuration; it is built once, on the first
 * request, when every route is registered.
 */
export function registerOpenApi(app: FastifyInstance, info: OpenApiInfo): void {
  const routes: RouteRecord[] = [];
  routesOfApp.set(app, routes);
  app.addHook('onRoute', (options: RouteOptions) => {
    routes.push({
      method: Array.isArray(options.method) ? options.method.join(',') : String(options.method),
      url: options.url,
      // Read when the document is built: a later onRoute hook (documentSecurity) may give the route a new schema.
      get schema() {
        return options.schema as Readonly<Record<string, unknown>> | undefined;
      },
    });
  });
  let document: string | undefined;
  app.get(
    openApiPath,
    {
      schema: {
        summary: 'This OpenAPI 3.1 document',
        tags: ['operations'],
        response: {
          200: {
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: {
              openapi: { const: '3.1.0' },
              info: { type: 'object' },
              paths: { type: 'object' },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      document ??= JSON.stringify(buildOpenApiDocument(info, expandMethods(routes)));
      return reply
        .header('cache-control', `public, max-age=${openApiMaxAgeSeconds}`)
        .type('application/json; charset=utf-8')
        .send(document);
    },
  );
}

/** One record per method (a route given `['GET', 'POST']` is two operations). */
function expandMethods(routes: readonly RouteRecord[]): RouteRecord[] {
  return routes.flatMap((route) =>
    route.method.split(',').map((method) => ({ method, url: route.url, schema: route.schema })),
  );
}

/**
 * Gives the routes registered from now on in this scope their `security`
 * (see FastifySchema.security): from `table` by `METHOD url` (as the route
 * registers it), else `otherwise` (absent: the route keeps what it says, or
 * is public). Call it where the routes' authentication is decided (a
 * service's scope with an authentication hook, or a service's one table),
 * so that the document says what each route requires. A route's own
 * `security` wins.
 */
export function documentSecurity(
  app: FastifyInstance,
  table: Readonly<Record<string, readonly SecurityRequirement[]>>,
  otherwise?: readonly SecurityRequirement[],
): void {
  app.addHook('onRoute', (options: RouteOptions) => {
    const schema = (options.schema ?? {}) as Readonly<Record<string, unknown>>;
    if (schema.security !== undefined || schema.hide === true) return;
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    const security =
      methods
        .map((method) => table[`${String(method).toUpperCase()} ${options.url}`])
        .find((entry) => entry !== undefined) ?? otherwise;
    if (security !== undefined) options.schema = { ...schema, security };
  });
}
