export {
  type ErrorCategory,
  type ErrorCode,
  type ErrorDefinition,
  errorCatalogue,
  errorCategoryOf,
  errorMessageOf,
  isErrorCode,
} from './catalogue.ts';
export { assert, isMpayError, MpayError, type MpayErrorOptions } from './mpay-error.ts';
export { type BackoffLimits, retryDelayMs } from './retry.ts';
