export {
  errorFromAnswer,
  type JsonResponse,
  type RequestOptions,
  readBounded,
  requestAnswer,
  requestJson,
} from './client.ts';
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
export { type FetchFunction, fetchFor, setFetchSource } from './transport.ts';
