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
  defaultReadinessDeadlineMs,
  defaultRetryAfterSeconds,
  type HttpServerOptions,
  type ReadinessCheck,
  securityHeaders,
  sendError,
} from './server.ts';
export { httpStatusOf } from './status.ts';
