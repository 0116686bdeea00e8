export {
  forgetIdempotencyKeys,
  idempotencyTableSql,
  parseIdempotencyKey,
  runIdempotent,
  type StoredResponse,
  sha256Hex,
} from './idempotency.ts';
export {
  type Counter,
  type CumulativeBucket,
  createMetricsLimits,
  createMetricsRegistry,
  defaultMetricsLimits,
  defaultParseLimits,
  formatSampleValue,
  type Gauge,
  type Histogram,
  type HistogramDefinition,
  type HistogramSnapshot,
  histogramQuantile,
  type MetricDefinition,
  type MetricLabels,
  type MetricsLimits,
  type MetricsRegistry,
  type MetricsRouteOptions,
  type ParseLimits,
  type PrometheusSample,
  parsePrometheusText,
  prometheusContentType,
  registerMetricsRoute,
} from './metrics.ts';
export { keepRawJsonBodies, rawBodyOf } from './raw-body.ts';
export { requestIdOf, withRequestId } from './request-id.ts';
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
