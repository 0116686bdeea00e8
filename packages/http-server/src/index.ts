export {
  forgetIdempotencyKeys,
  idempotencyTableSql,
  parseIdempotencyKey,
  runIdempotent,
  type StoredResponse,
  sha256Hex,
} from './idempotency.ts';
export { keepRawJsonBodies, rawBodyOf } from './raw-body.ts';
export { respondIdempotently } from './respond.ts';
export {
  createHttpServer,
  defaultBodyLimitBytes,
  defaultInFlightRequestsMax,
  defaultOverloadRetryAfterSeconds,
  defaultRetryAfterSeconds,
  type HttpServerOptions,
  sendError,
} from './server.ts';
export { httpStatusOf } from './status.ts';
