import { bankOperator, demoParties } from '@mpay/cli';
import {
  type OpenApiDocument,
  type OpenApiOperation,
  type OpenApiResponse,
  undocumentedRoutes,
} from '@mpay/http-server';
import { createAmount } from '@mpay/protocol';
import type {
  BankTrust,
  CustodyEnrolment,
  CustodyTrust,
  DelegateSignature,
  FspTrust,
  InboxEvent,
  MacroApprovalOutcome,
  MacroApprovalRequest,
  MacroConfirmation,
  MacroMerchantConfirmation,
  MacroMerchantConfirmationPage,
  MacroRegistered,
  MacroSessionCreated,
  PaymentRequestAccepted,
  RefundAnswer,
  TillClaimAccepted,
} from '@mpay/sdk';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentSettledDeadlineMs, waitFor } from '../support/deadlines.ts';
import { evidenceOf, startTestPlatform, type TestPlatform } from './harness.ts';

/**
 * The contract: every service serves an OpenAPI 3.1 document at
 * /openapi.json that names every route it has, and what the services really
 * answer during a payment, a refund and their evidence matches what the
 * documents say. Every response this process's global fetch receives from a
 * service (the SDKs', the seed's, this file's own calls) is recorded and
 * validated against the schema of its route, status and media type. The
 * services' calls to one another go through undici's request in their own
 * scope (cli/src/platform/plain-client.ts), not the global fetch: their
 * answers are checked on the server side, by the answer check every e2e
 * platform installs (test/support/answer-contract.ts).
 */

interface Recorded {
  readonly method: string;
  readonly url: URL;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const recorded: Recorded[] = [];
const realFetch = globalThis.fetch;

/** Records each answer's copy; an event stream is left unread (it lasts as long as its client). */
async function recordingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await realFetch(input, init);
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/event-stream')) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const copy = response.clone();
    recorded.push({ method, url, status: response.status, contentType, body: await copy.text() });
  }
  return response;
}

let test: TestPlatform;
let services: { name: string; url: string; app: FastifyInstance | undefined }[] = [];
const documents = new Map<string, OpenApiDocument>();

beforeAll(async () => {
  globalThis.fetch = recordingFetch as typeof fetch;
  test = await startTestPlatform();
  const { platform } = test;
  services = [
    { name: 'gateway', url: platform.urls.gateway, app: platform.gateway.app },
    ...platform.banks.map((bank) => ({ name: bank.id, url: bank.url, app: bank.service.app })),
    { name: 'custody', url: platform.urls.custody, app: platform.custody.app },
    { name: 'log', url: platform.urls.log, app: platform.log.log.app },
    // The witness's app stays inside the log stack: its document is checked, its route list is not.
    { name: 'witness', url: platform.urls.witness, app: undefined },
    { name: 'merchant-shop', url: platform.urls.merchantShop, app: platform.merchantShop.app },
  ];
  for (const service of services) {
    const response = await fetch(`${service.url}/openapi.json`);
    expect(response.status, service.name).toBe(200);
    documents.set(new URL(service.url).origin, (await response.json()) as OpenApiDocument);
  }
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await test?.close();
});

/** Every (method, path) printRoutes shows: Fastify's own view of the routes, independent of openapi.ts. */
function printedRoutes(app: FastifyInstance): string[] {
  const lines = app.printRoutes({ commonPrefix: false }).split('\n');
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of lines) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    stack.push(match[2] as string);
    for (const method of (match[3] ?? '').split(', ').filter((name) => name !== '' && name !== 'HEAD')) {
      routes.push(`${method.toLowerCase()} ${stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return routes;
}

function documentedOperations(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method} ${path}`),
  );
}

describe('every service documents its API', () => {
  it('serves an OpenAPI 3.1 document with JSON Schema 2020-12 and the error body', () => {
    for (const service of services) {
      const document = documents.get(new URL(service.url).origin) as OpenApiDocument;
      expect(document.openapi, service.name).toBe('3.1.0');
      expect(document.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(document.info.title).toMatch(/^mpay /);
      expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(document.components.schemas.Error).toBeDefined();
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      // Every schema in the document compiles (a broken schema is a broken contract).
      for (const [path, item] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          for (const schema of schemasOf(operation)) {
            expect(() => ajv.compile(withComponents(schema, document)), `${method} ${path}`).not.toThrow();
          }
        }
      }
    }
  });

  it('names every route Fastify has, and no route it does not have', () => {
    for (const service of services) {
      if (service.app === undefined) continue;
      const document = documents.get(new URL(service.url).origin) as OpenApiDocument;
      expect(documentedOperations(document).sort(), service.name).toEqual(printedRoutes(service.app).sort());
    }
  });

  it('describes every 2xx answer exactly: no object schema leaves its other members open', () => {
    const open: string[] = [];
    let exact = 0;
    for (const service of services) {
      const document = documents.get(new URL(service.url).origin) as OpenApiDocument;
      for (const [path, item] of Object.entries(document.paths))
        for (const [method, operation] of Object.entries(item))
          for (const [status, response] of Object.entries(operation.responses)) {
            if (!status.startsWith('2')) continue;
            const found = Object.values(response.content ?? {}).flatMap((media) =>
              openObjectsOf(media.schema, ''),
            );
            if (found.length === 0) exact += 1;
            else if (!knownOpenAnswers.includes(`${method} ${path} ${status}`))
              open.push(`${service.name}: ${method} ${path} ${status} at ${found.join(', ')}`);
          }
    }
    expect(open).toEqual([]);
    expect(exact).toBeGreaterThan(200);
  });

  it('describes every route fully: a summary, a 2xx answer and the request body', () => {
    const gaps = services.flatMap((service) =>
      service.app === undefined
        ? []
        : undocumentedRoutes(service.app).map(
            (route) => `${service.name}: ${route.method} ${route.url} lacks ${route.gaps.join(', ')}`,
          ),
    );
    expect(gaps).toEqual([]);
    const witness = documents.get(new URL(test.platform.urls.witness).origin) as OpenApiDocument;
    expect(witness.paths['/add-checkpoint']?.post?.summary).toBeTypeOf('string');
  });
});

/**
 * Where a 2xx answer's schema describes an object only in part: `properties`
 * without `additionalProperties: false`, so that an answer could add a member
 * unseen. A bare `{ type: 'object' }` is free-form data on purpose (a log
 * entry's metadata, the object an FSP notification carries) and is not
 * listed; a JWK (its members depend on its key type) and this document's own
 * answer are the known open ones.
 */
function openObjectsOf(schema: unknown, at: string): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  if (Array.isArray(schema)) return schema.flatMap((item, index) => openObjectsOf(item, `${at}/${index}`));
  const node = schema as Record<string, unknown>;
  const here =
    typeof node.properties === 'object' &&
    node.additionalProperties === undefined &&
    node.required?.toString() !== 'kty'
      ? [at]
      : [];
  return [...here, ...Object.entries(node).flatMap(([key, value]) => openObjectsOf(value, `${at}/${key}`))];
}

const knownOpenAnswers = ['get /openapi.json 200'];

function schemasOf(operation: OpenApiOperation): unknown[] {
  const parameters = (operation.parameters ?? []).map((parameter) => parameter.schema);
  const body = Object.values(operation.requestBody?.content ?? {}).map((media) => media.schema);
  const responses = Object.values(operation.responses).flatMap((response) =>
    Object.values(response.content ?? {}).map((media) => media.schema),
  );
  return [...parameters, ...body, ...responses];
}

/** The schema with the document's components, so that `#/components/schemas/Error` resolves. */
function withComponents(schema: unknown, document: OpenApiDocument): object {
  return { ...(schema as object), components: document.components };
}

/** The operation of a recorded request: the most specific documented path that matches it. */
function operationOf(document: OpenApiDocument, method: string, pathname: string) {
  const candidates = Object.entries(document.paths)
    .filter(([template]) =>
      new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname),
    )
    .sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  for (const [template, item] of candidates) {
    const operation = item[method.toLowerCase()];
    if (operation !== undefined) return { template, operation };
  }
  return undefined;
}

function responseOf(operation: OpenApiOperation, status: number): OpenApiResponse | undefined {
  return (
    operation.responses[String(status)] ??
    operation.responses[`${String(status).charAt(0)}XX`] ??
    (status >= 400 ? operation.responses.default : undefined)
  );
}

/** Why a recorded answer does not match its document; undefined when it does. */
function mismatchOf(ajv: Ajv2020, answer: Recorded): string | undefined {
  const document = documents.get(answer.url.origin);
  if (document === undefined) return undefined;
  const found = operationOf(document, answer.method, answer.url.pathname);
  if (found === undefined) return 'no documented operation';
  const response = responseOf(found.operation, answer.status);
  if (response === undefined) return `status ${answer.status} not documented`;
  if (response.content === undefined)
    return answer.body === '' ? undefined : 'a body where none is documented';
  const mediaType = answer.contentType.split(';')[0]?.trim() ?? '';
  const media = response.content[mediaType];
  if (media === undefined) return `media type ${mediaType} not documented`;
  const value: unknown = mediaType.includes('json') ? JSON.parse(answer.body) : answer.body;
  const validate = ajv.compile(withComponents(media.schema, document));
  if (validate(value)) return undefined;
  return ajv.errorsText(validate.errors).slice(0, 500);
}

describe('the answers match the documents', () => {
  it('during a payment, a refund, their evidence and the operators’ reads', async () => {
    const { customer } = demoParties;
    const wallet = test.wallet();
    const abort = new AbortController();
    const requests = wallet.paymentRequests(customer.pin, abort.signal);
    const first = requests.next();
    const accepted = await test.merchant.requestPayment({
      customer: customer.msisdn,
      amount: createAmount('EUR', 25_00n),
    });
    let view = (await first).value;
    while (view !== undefined && view.paymentId !== accepted.paymentId) view = (await requests.next()).value;
    abort.abort();
    if (view === undefined) throw new Error('the payment request never reached the device');
    await wallet.confirm(view, customer.pin);
    await test.merchant.paymentStatus(accepted.paymentId);
    await evidenceOf(test, accepted.paymentId);
    const refund = await test.merchant.refund(accepted.paymentId, { amount: createAmount('EUR', 5_00n) });
    await waitFor(
      async () => {
        const now = await test.merchant.refundStatus(refund.paymentId, refund.refundId);
        return now.status !== 'requested' && now.status !== 'ordered' && now;
      },
      { deadlineMs: paymentSettledDeadlineMs, what: 'the refund to settle' },
    );
    for (const bank of test.platform.banks) {
      const operator = bankOperator(bank, bank.operatorKey);
      await operator.get('/audit');
      await operator.get('/settlement/positions');
    }
    await fetch(`${test.platform.urls.log}/checkpoint`);
    await fetch(`${test.platform.urls.gateway}/fsp`);
    await fetch(`${test.platform.urls.custody}/custody`);
    for (const bank of test.platform.banks) await fetch(`${bank.url}/bank`);
    await shopCart();
    await fetch(`${test.platform.urls.gateway}/parties/${encodeURIComponent('nobody@person.xbank')}`);
    for (const service of services) {
      await fetch(`${service.url}/health`);
      await fetch(`${service.url}/ready`);
      await fetch(`${service.url}/no-such-route`);
    }

    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const checked = recorded.filter((answer) => documentsOf(answer));
    const mismatches = checked
      .map((answer) => ({
        request: `${answer.method} ${answer.url.pathname} → ${answer.status}`,
        problem: mismatchOf(ajv, answer),
      }))
      .filter((entry) => entry.problem !== undefined && !entry.request.includes('/no-such-route'));
    expect(mismatches).toEqual([]);
    // The flow really went through the documents: many answers of many operations were checked.
    expect(checked.length).toBeGreaterThan(30);
    expect(new Set(checked.map((answer) => answer.url.origin)).size).toBe(services.length);
  });
});

function documentsOf(answer: Recorded): boolean {
  return documents.has(answer.url.origin);
}

/** The shop's customer side: the catalogue, a cart, a line set and removed. */
async function shopCart(): Promise<void> {
  const shop = test.platform.urls.merchantShop;
  const products = (await (await fetch(`${shop}/products`)).json()) as { products: { id: string }[] };
  const created = await fetch(`${shop}/carts`, { method: 'POST' });
  const { cartId, cartToken } = (await created.json()) as { cartId: string; cartToken: string };
  const headers = { authorization: `Bearer ${cartToken}`, 'content-type': 'application/json' };
  const productId = products.products[0]?.id ?? 'none';
  const line = `${shop}/carts/${cartId}/lines/${productId}`;
  await fetch(line, { method: 'PUT', headers, body: JSON.stringify({ quantity: 2 }) });
  await fetch(`${shop}/carts/${cartId}`, { headers });
  await fetch(line, { method: 'DELETE', headers: { authorization: headers.authorization } });
}

/**
 * The SDK's types against the documents, for every answer type the SDKs
 * export that mirrors a documented answer: each entry below names the type's
 * keys with the JSON type of each member (required and optional apart); the
 * typecheck fails when the lists differ from the type (a key added, removed,
 * made optional, or a member's type changed), and the test then compares
 * them with the documented schema both ways: the same required keys, the
 * same optional keys, and each member's JSON type among the schema's.
 * `documentedOnly`: members the document has for another audience (the SDK
 * ignores them); `sdkOnly`: members the SDK computes (a decrypted or parsed
 * form of a documented member, named in `computedFrom`); `requiredBySdk`:
 * members optional in the document that the SDK refuses to go without (it
 * checks them at run time). What this does not cover: nested members'
 * shapes, a union member's every alternative (the list names one), and the
 * SDK calls whose answers are parsed from `unknown` by hand
 * (merchant/refund.ts, custody/http.ts, macro/client.ts checks).
 */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;
type JsonTypeName<V> = V extends string
  ? 'string'
  : V extends number
    ? 'number'
    : V extends boolean
      ? 'boolean'
      : V extends null
        ? 'null'
        : V extends readonly unknown[]
          ? 'array'
          : 'object';
type Members<T, Keys extends keyof T> = { readonly [K in Keys]-?: JsonTypeName<Exclude<T[K], undefined>> };
interface ShapeOf<T> {
  readonly required: Members<T, RequiredKeys<T>>;
  readonly optional: Members<T, OptionalKeys<T>>;
  readonly documentedOnly?: readonly string[];
  readonly sdkOnly?: readonly (keyof T & string)[];
  readonly requiredBySdk?: readonly (keyof T & string)[];
}
type AnyShape = {
  readonly required: Readonly<Record<string, string>>;
  readonly optional: Readonly<Record<string, string>>;
  readonly documentedOnly?: readonly string[];
  readonly sdkOnly?: readonly string[];
  readonly requiredBySdk?: readonly string[];
};

interface SdkAnswer {
  readonly type: string;
  readonly service: 'gateway' | 'bank' | 'custody';
  readonly method: string;
  readonly path: string;
  readonly status: string;
  /** The member of the answer whose items the type describes. */
  readonly item?: string;
  readonly shape: AnyShape;
}

const sdkAnswers: SdkAnswer[] = [
  {
    type: 'FspTrust',
    service: 'gateway',
    method: 'get',
    path: '/fsp',
    status: '200',
    shape: { required: { id: 'string', keys: 'object' }, optional: {} } satisfies ShapeOf<FspTrust>,
  },
  {
    type: 'PaymentRequestAccepted',
    service: 'gateway',
    method: 'post',
    path: '/payments',
    status: '201',
    shape: {
      required: {
        paymentId: 'string',
        status: 'string',
        securityLevel: 'string',
        protections: 'array',
        expiresAt: 'string',
        delivered: 'boolean',
      },
      optional: {},
    } satisfies ShapeOf<PaymentRequestAccepted>,
  },
  {
    type: 'RefundAnswer',
    service: 'gateway',
    method: 'get',
    path: '/payments/{id}/refunds/{refundId}',
    status: '200',
    shape: {
      required: {
        refundId: 'string',
        paymentId: 'string',
        status: 'string',
        amount: 'object',
        createdAt: 'string',
        updatedAt: 'string',
        history: 'array',
      },
      optional: { reason: 'string', failureCode: 'string' },
      // The customer's copy carries the refund receipt, encrypted to the device; the merchant SDK never sees it.
      documentedOnly: ['receipt'],
    } satisfies ShapeOf<RefundAnswer>,
  },
  {
    type: 'TillClaimAccepted',
    service: 'gateway',
    method: 'post',
    path: '/m-trade/claims',
    status: '201',
    shape: {
      required: { transactionId: 'string', status: 'string', claimedAt: 'string' },
      optional: {},
    } satisfies ShapeOf<TillClaimAccepted>,
  },
  {
    type: 'MacroRegistered',
    service: 'gateway',
    method: 'post',
    path: '/macro/registrations',
    status: '201',
    shape: {
      required: { clientId: 'string', mailedTo: 'string' },
      optional: {},
    } satisfies ShapeOf<MacroRegistered>,
  },
  {
    type: 'MacroSessionCreated',
    service: 'gateway',
    method: 'post',
    path: '/macro/payments/{transactionId}/secret-answer',
    status: '202',
    shape: {
      required: { transactionId: 'string', sessionId: 'string', status: 'string' },
      optional: {},
      documentedOnly: ['step'],
    } satisfies ShapeOf<MacroSessionCreated>,
  },
  {
    type: 'BankTrust',
    service: 'bank',
    method: 'get',
    path: '/bank',
    status: '200',
    shape: {
      required: { id: 'string', keys: 'object', encryptionJwk: 'object' },
      optional: { url: 'string' },
      // fetchBankTrust refuses a bank without an encryption key (no second factor, no sealing).
      requiredBySdk: ['encryptionJwk'],
      // Where the SDK fetched it from, not part of the answer.
      sdkOnly: ['url'],
    } satisfies ShapeOf<BankTrust>,
  },
  {
    type: 'MacroApprovalRequest',
    service: 'bank',
    method: 'get',
    path: '/macro/approval-requests',
    status: '200',
    item: 'approvalRequests',
    shape: {
      required: { sessionId: 'string', expiresAt: 'string', content: 'object' },
      optional: {},
      // content: pappReq verified and parsed.
      sdkOnly: ['content'],
      documentedOnly: ['pappReq'],
    } satisfies ShapeOf<MacroApprovalRequest>,
  },
  {
    type: 'MacroApprovalOutcome',
    service: 'bank',
    method: 'post',
    path: '/macro/approvals/{sessionId}',
    status: '201',
    shape: {
      required: { sessionId: 'string', state: 'string', statement: 'string' },
      optional: { order: 'object' },
    } satisfies ShapeOf<MacroApprovalOutcome>,
  },
  {
    type: 'MacroConfirmation',
    service: 'bank',
    method: 'get',
    path: '/macro/confirmations/{sessionId}',
    status: '200',
    shape: {
      required: { sessionId: 'string', state: 'string' },
      optional: { refusalCode: 'string', payConfirm: 'object' },
      // payConfirm: the sealed JWS in the answer, opened and verified by the SDK.
      sdkOnly: ['payConfirm'],
      documentedOnly: ['payConfirm'],
    } satisfies ShapeOf<MacroConfirmation>,
  },
  {
    type: 'MacroMerchantConfirmationPage',
    service: 'bank',
    method: 'get',
    path: '/macro/merchant-confirmations',
    status: '200',
    shape: {
      required: { confirmations: 'array' },
      optional: { next: 'string' },
    } satisfies ShapeOf<MacroMerchantConfirmationPage>,
  },
  {
    type: 'MacroMerchantConfirmation',
    service: 'bank',
    method: 'get',
    path: '/macro/merchant-confirmations',
    status: '200',
    item: 'confirmations',
    shape: {
      required: { sequence: 'string', sessionId: 'string', content: 'object', bytes: 'number' },
      optional: {},
      // content: payConfirm opened and verified; bytes: its size as received.
      sdkOnly: ['content', 'bytes'],
      documentedOnly: ['payConfirm'],
    } satisfies ShapeOf<MacroMerchantConfirmation>,
  },
  {
    type: 'CustodyTrust',
    service: 'custody',
    method: 'get',
    path: '/custody',
    status: '200',
    shape: {
      required: { id: 'string', keys: 'object' },
      optional: {},
      // The OPAQUE key the PIN client pins separately.
      documentedOnly: ['opaquePublicKey'],
    } satisfies ShapeOf<CustodyTrust>,
  },
  {
    type: 'CustodyEnrolment',
    service: 'custody',
    method: 'post',
    path: '/enrolments',
    status: '201',
    shape: {
      required: {
        partyId: 'string',
        serial: 'string',
        binding: 'string',
        credentialId: 'string',
        deviceId: 'string',
        deviceToken: 'string',
      },
      optional: {},
    } satisfies ShapeOf<CustodyEnrolment>,
  },
  {
    type: 'InboxEvent',
    service: 'custody',
    method: 'get',
    path: '/inbox',
    status: '200',
    item: 'events',
    shape: {
      required: { cursor: 'string', event: 'string', forward: 'string' },
      optional: { paymentId: 'string' },
    } satisfies ShapeOf<InboxEvent>,
  },
  {
    type: 'DelegateSignature',
    service: 'custody',
    method: 'get',
    path: '/delegate-signatures',
    status: '200',
    item: 'signatures',
    shape: {
      required: {
        paymentId: 'string',
        decision: 'string',
        kid: 'string',
        signedAt: 'string',
        jws: 'string',
        logIndex: 'number',
      },
      optional: {},
    } satisfies ShapeOf<DelegateSignature>,
  },
];

/** The JSON types a schema allows ('unknown' when it does not say). */
function jsonTypesOf(schema: unknown): Set<string> {
  const node = (schema ?? {}) as Record<string, unknown>;
  const types = new Set<string>();
  const add = (type: unknown) => types.add(type === 'integer' ? 'number' : String(type));
  const valueType = (value: unknown) =>
    value === null ? 'null' : Array.isArray(value) ? 'array' : (typeof value as string);
  if (Array.isArray(node.type)) for (const type of node.type) add(type);
  else if (node.type !== undefined) add(node.type);
  else if ('const' in node) add(valueType(node.const));
  else if (Array.isArray(node.enum)) for (const value of node.enum) add(valueType(value));
  else if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf))
    for (const alternative of (node.anyOf ?? node.oneOf) as unknown[])
      for (const type of jsonTypesOf(alternative)) types.add(type);
  else types.add('unknown');
  return types;
}

describe("the SDKs' types agree with the documents", () => {
  it.each(sdkAnswers)('$type: $method $path $status', ({ service, method, path, status, item, shape }) => {
    const url = services.find((candidate) =>
      service === 'bank' ? candidate.name === test.platform.banks[0]?.id : candidate.name === service,
    )?.url;
    const document = documents.get(new URL(url ?? '').origin) as OpenApiDocument;
    const response = document.paths[path]?.[method]?.responses[status];
    let schema = response?.content?.['application/json']?.schema as ObjectSchema | undefined;
    if (item !== undefined)
      schema = (schema?.properties?.[item] as { items?: ObjectSchema } | undefined)?.items;
    expect(schema, `${method} ${path} ${status}`).toBeDefined();
    const sdkOnly = shape.sdkOnly ?? [];
    const documentedOnly = shape.documentedOnly ?? [];
    const requiredBySdk = shape.requiredBySdk ?? [];
    // The document's keys, less those only the document has (each must be there).
    for (const name of documentedOnly) expect(schema?.properties, name).toHaveProperty(name);
    const required = [...(schema?.required ?? [])].filter((name) => !documentedOnly.includes(name)).sort();
    const optional = Object.keys(schema?.properties ?? {})
      .filter((name) => !required.includes(name) && !documentedOnly.includes(name))
      .sort();
    // The SDK's keys, less those it computes, with those it insists on counted as the document's optional.
    const sdkRequired = Object.keys(shape.required).filter((name) => !sdkOnly.includes(name));
    const sdkOptional = Object.keys(shape.optional).filter((name) => !sdkOnly.includes(name));
    expect(required, 'required keys').toEqual(
      sdkRequired.filter((name) => !requiredBySdk.includes(name)).sort(),
    );
    expect(optional, 'optional keys').toEqual([...sdkOptional, ...requiredBySdk].sort());
    for (const [name, type] of Object.entries({ ...shape.required, ...shape.optional })) {
      if (sdkOnly.includes(name)) continue;
      const documented = jsonTypesOf(schema?.properties?.[name]);
      expect(
        documented.has(type) || documented.has('unknown'),
        `${name}: ${type} in [${[...documented]}]`,
      ).toBe(true);
    }
  });
});

interface ObjectSchema {
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, unknown>>;
}
