import { bankOperator, demoParties } from '@mpay/cli';
import {
  type OpenApiDocument,
  type OpenApiOperation,
  type OpenApiResponse,
  undocumentedRoutes,
} from '@mpay/http-server';
import { createAmount } from '@mpay/protocol';
import type {
  CustodyEnrolment,
  InboxEvent,
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
 * documents say. Every response this process receives from a service (the
 * SDKs and the services call each other with fetch, all in this process) is
 * recorded and validated against the schema of its route, status and media
 * type.
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
 * The SDK's types against the documents, for the answers the SDKs type:
 * each list below must name exactly the type's keys (required and optional
 * apart), or the typecheck fails; the test then compares them with the
 * documented schema. A field the document adds for another audience is
 * listed in `documentedOnly`. What this does not cover: the types of the
 * members, and the SDK calls whose answers are untyped (paymentStatus).
 */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;
interface KeysOf<T> {
  readonly required: Record<RequiredKeys<T>, true>;
  readonly optional: Record<OptionalKeys<T>, true>;
  readonly documentedOnly?: readonly string[];
}

const sdkAnswers: {
  service: string;
  path: string;
  method: string;
  status: string;
  keys: KeysOf<never>;
  item?: string;
}[] = [
  {
    service: 'gateway',
    method: 'post',
    path: '/payments',
    status: '201',
    keys: {
      required: {
        paymentId: true,
        status: true,
        securityLevel: true,
        protections: true,
        expiresAt: true,
        delivered: true,
      },
      optional: {},
    } satisfies KeysOf<PaymentRequestAccepted> as KeysOf<never>,
  },
  {
    service: 'gateway',
    method: 'get',
    path: '/payments/{id}/refunds/{refundId}',
    status: '200',
    keys: {
      required: {
        refundId: true,
        paymentId: true,
        status: true,
        amount: true,
        createdAt: true,
        updatedAt: true,
        history: true,
      },
      optional: { reason: true, failureCode: true },
      // The customer's copy carries the refund receipt, encrypted to the device; the merchant SDK never sees it.
      documentedOnly: ['receipt'],
    } satisfies KeysOf<RefundAnswer> as KeysOf<never>,
  },
  {
    service: 'gateway',
    method: 'post',
    path: '/m-trade/claims',
    status: '201',
    keys: {
      required: { transactionId: true, status: true, claimedAt: true },
      optional: {},
    } satisfies KeysOf<TillClaimAccepted> as KeysOf<never>,
  },
  {
    service: 'custody',
    method: 'post',
    path: '/enrolments',
    status: '201',
    keys: {
      required: {
        partyId: true,
        serial: true,
        binding: true,
        credentialId: true,
        deviceId: true,
        deviceToken: true,
      },
      optional: {},
    } satisfies KeysOf<CustodyEnrolment> as KeysOf<never>,
  },
  {
    service: 'custody',
    method: 'get',
    path: '/inbox',
    status: '200',
    item: 'events',
    keys: {
      required: { cursor: true, event: true, forward: true },
      optional: { paymentId: true },
    } satisfies KeysOf<InboxEvent> as KeysOf<never>,
  },
];

describe("the SDKs' types agree with the documents", () => {
  it.each(sdkAnswers)('$method $path $status', ({ service, method, path, status, keys, item }) => {
    const url = services.find((candidate) => candidate.name === service)?.url ?? '';
    const document = documents.get(new URL(url).origin) as OpenApiDocument;
    const response = document.paths[path]?.[method]?.responses[status];
    let schema = response?.content?.['application/json']?.schema as ObjectSchema | undefined;
    if (item !== undefined)
      schema = (schema?.properties?.[item] as { items?: ObjectSchema } | undefined)?.items;
    expect(schema, `${method} ${path} ${status}`).toBeDefined();
    const required = [...(schema?.required ?? [])].sort();
    const optional = Object.keys(schema?.properties ?? {})
      .filter((name) => !required.includes(name))
      .sort();
    expect(required).toEqual(Object.keys(keys.required).sort());
    expect(optional).toEqual([...Object.keys(keys.optional), ...(keys.documentedOnly ?? [])].sort());
  });
});

interface ObjectSchema {
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, unknown>>;
}
