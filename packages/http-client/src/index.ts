export {
  defaultRequestTimeoutMs,
  defaultResponseBytesMax,
  errorFromAnswer,
  isJsonObject,
  type JsonResponse,
  type RequestOptions,
  requestAnswer,
  requestJson,
  requestObject,
  requestText,
  type TextAnswer,
} from './client.ts';
export { type RequestDeadline, requestDeadline, withRequestDeadline } from './deadline.ts';
export {
  currentRequestId,
  requestIdHeader,
  requestIdPattern,
  setRequestIdSource,
} from './request-id.ts';
export {
  authorizationScheme,
  type RequestToSign,
  requestTokenLifetimeSeconds,
  signRequest,
  type VerifiedRequest,
  verifySignedRequest,
} from './signed-request.ts';
export {
  type ExchangeAnswer,
  type ExchangeFunction,
  type ExchangeRequest,
  exchangeFor,
  type FetchFunction,
  fetchExchange,
  fetchFor,
  fetchSource,
  readBounded,
  readBoundedBytes,
  setFetchSource,
} from './transport.ts';
