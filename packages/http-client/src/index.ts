export { type JsonResponse, type RequestOptions, requestJson } from './client.ts';
export {
  authorizationScheme,
  type RequestToSign,
  requestTokenLifetimeSeconds,
  signRequest,
  type VerifiedRequest,
  verifySignedRequest,
} from './signed-request.ts';
