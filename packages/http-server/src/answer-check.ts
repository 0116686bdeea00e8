import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  errorBodySchema,
  errorSchemaName,
  type JsonSchema,
  type OpenApiResponse,
  responsesOfRoute,
  securityOfRoute,
} from './openapi.ts';

/**
 * The contract checked as the services answer (tests only): every answer a
 * route sends is validated against what GET /openapi.json says of that route,
 * status and media type, and a 2xx to a request without the credential the
 * document requires is reported too. The tests install a checker before they
 * start a platform (test/e2e/harness.ts does, for every e2e suite), so the
 * suites that already run every flow check the documents as they run; a
 * server created without one pays nothing. The validator is the test's (Ajv
 * 2020), so that this package needs no JSON Schema compiler of its own.
 */

/** Why `value` does not match `schema` (a JSON Schema 2020-12 whose `#/components/schemas/…` resolve); undefined when it does. */
export type AnswerValidator = (schema: JsonSchema, value: unknown) => string | undefined;

export interface AnswerMismatch {
  /** The service (createHttpServer's name). */
  readonly service: string;
  readonly method: string;
  /** The route's URL (Fastify's, with `:param`). */
  readonly route: string;
  readonly status: number;
  readonly problem: string;
}

export interface AnswerChecker {
  readonly validate: AnswerValidator;
  readonly report: (mismatch: AnswerMismatch) => void;
}

let installed: AnswerChecker | undefined;

/**
 * Every server createHttpServer creates from now on checks its answers with
 * this checker (undefined: servers created from now on check nothing). For
 * tests: production never calls it.
 */
export function checkAnswersWith(checker: AnswerChecker | undefined): void {
  installed = checker;
}

/** The checker servers created now get (see checkAnswersWith). */
export function installedAnswerChecker(): AnswerChecker | undefined {
  return installed;
}

const components = { schemas: { [errorSchemaName]: errorBodySchema } };

/** The documented responses of a route, with the document's components, computed once per route. */
const responsesCache = new WeakMap<object, Record<string, OpenApiResponse>>();

function responsesOf(method: string, url: string, schema: Readonly<Record<string, unknown>>) {
  let responses = responsesCache.get(schema);
  if (responses === undefined) {
    responses = Object.fromEntries(
      Object.entries(responsesOfRoute({ method, url, schema })).map(([status, response]) => [
        status,
        {
          ...response,
          ...(response.content === undefined
            ? {}
            : {
                content: Object.fromEntries(
                  Object.entries(response.content).map(([type, media]) => [
                    type,
                    { schema: { ...media.schema, components } },
                  ]),
                ),
              }),
        },
      ]),
    );
    responsesCache.set(schema, responses);
  }
  return responses;
}

function responseFor(
  responses: Record<string, OpenApiResponse>,
  status: number,
): OpenApiResponse | undefined {
  return (
    responses[String(status)] ??
    responses[`${String(status).charAt(0)}XX`] ??
    (status >= 400 ? responses.default : undefined)
  );
}

function bodyText(payload: unknown): string | undefined {
  if (payload === undefined || payload === null) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  return undefined; // a stream: not checked
}

/** Whether the request presented any of the credentials an operation's `security` names. */
function presentsCredential(request: FastifyRequest): boolean {
  return typeof request.headers.authorization === 'string' && request.headers.authorization !== '';
}

function mismatchOf(
  checker: AnswerChecker,
  request: FastifyRequest,
  status: number,
  contentType: string,
  payload: unknown,
): string | undefined {
  const schema = request.routeOptions.schema as Readonly<Record<string, unknown>> | undefined;
  const url = request.routeOptions.url;
  // A route that documents no answer at all (a helper server's, outside the services' documents) is not checked:
  // the contract test requires every service route to document its answers.
  if (schema === undefined || url === undefined || schema.hide === true || schema.response === undefined)
    return undefined;
  const security = securityOfRoute(schema);
  if (
    status >= 200 &&
    status < 300 &&
    security !== undefined &&
    security.length > 0 &&
    !security.some((requirement) => Object.keys(requirement).length === 0) &&
    !presentsCredential(request)
  )
    return `answered ${status} without the credential its document requires (${security.map((requirement) => Object.keys(requirement).join('+')).join(' or ')})`;
  const response = responseFor(responsesOf(request.method, url, schema), status);
  if (response === undefined) return `status ${status} not documented`;
  const text = bodyText(payload);
  if (text === undefined) return undefined;
  if (response.content === undefined) return text === '' ? undefined : 'a body where none is documented';
  const mediaType = contentType.split(';')[0]?.trim() ?? '';
  const media = response.content[mediaType];
  if (media === undefined) return `media type ${mediaType || '(none)'} not documented`;
  let value: unknown = text;
  if (mediaType.includes('json')) {
    try {
      value = JSON.parse(text);
    } catch {
      return 'a body that is not JSON';
    }
  }
  return checker.validate(media.schema, value);
}

/** The onSend hook of the contract check (createHttpServer adds it when a checker is installed). */
export function addAnswerCheck(app: FastifyInstance, service: string, checker: AnswerChecker): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    try {
      const contentType = String(reply.getHeader('content-type') ?? '');
      const problem = mismatchOf(checker, request, reply.statusCode, contentType, payload);
      if (problem !== undefined)
        checker.report({
          service,
          method: request.method,
          route: request.routeOptions.url ?? request.url,
          status: reply.statusCode,
          problem,
        });
    } catch (error) {
      checker.report({
        service,
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        status: reply.statusCode,
        problem: `the check failed: ${String(error)}`,
      });
    }
    done(null, payload);
  });
}
