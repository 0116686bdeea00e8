export { type ErrorCode, errorCatalogue, isErrorCode } from './catalogue.ts';
export { assert, isMpayError, MpayError } from './mpay-error.ts';
