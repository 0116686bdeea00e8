import { operatorOnly, type SecurityRequirement, signedRequest } from '@mpay/http-server';

/**
 * What each gateway route requires, for GET /openapi.json (documentSecurity
 * gives it to the route as it registers; the answer check of the e2e suites
 * reports a 2xx to a request without the credential). Keyed by `METHOD url`
 * as the route registers it. Not listed: public, or the proof travels in the
 * body (a merchant's signed JWE, a customer's signed confirmation, a bank's
 * binding). GET /metrics says its own (the operator token, as a bearer).
 */
export const gatewaySecurity: Readonly<Record<string, readonly SecurityRequirement[]>> = {
  'POST /payments/:id/cancellation': signedRequest,
  'GET /payments/:id': signedRequest,
  'POST /payments/:id/refunds': signedRequest,
  'GET /payments/:id/refunds': signedRequest,
  'GET /payments/:id/refunds/:refundId': signedRequest,
  'GET /payments/:id/refunds/:refundId/evidence': signedRequest,
  'GET /payments/:id/evidence': signedRequest,
  'GET /parties/:id/sealing-key': signedRequest,
  'GET /aliases/:msisdn': signedRequest,
  'GET /devices/events': signedRequest,
  'GET /devices/payment-requests': signedRequest,
  'POST /m-trade/claims': signedRequest,
  'GET /m-trade/claims/:transactionId': signedRequest,
  'GET /admin/payments/:id/evidence': operatorOnly,
  'POST /admin/banks': operatorOnly,
  'POST /admin/merchants': operatorOnly,
  'POST /admin/aliases': operatorOnly,
  'POST /admin/certificates/:serial/revoke': operatorOnly,
  'POST /admin/key-bindings/:bank/:serial/revoke': operatorOnly,
  'GET /admin/payments': operatorOnly,
  'GET /admin/payments/:id': operatorOnly,
  'GET /admin/outboxes': operatorOnly,
};
