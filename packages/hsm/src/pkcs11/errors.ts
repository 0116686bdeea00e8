import { type ErrorCode, MpayError } from '@mpay/protocol';
import pkcs11js from 'pkcs11js';

const returnValueName = /^CKR_[A-Z0-9_]+$/;
const functionName = /^C_[A-Za-z]+$/;

/**
 * What failed, for logs: the PKCS#11 function and its return value by name
 * ('C_Login CKR_PIN_INCORRECT'), or the kind of error for a failure below
 * PKCS#11. Never an argument: pkcs11js builds both names from the call and the
 * number alone, so a PIN cannot end up here.
 */
export function describeFailure(error: unknown): string {
  if (error instanceof pkcs11js.Pkcs11Error && returnValueName.test(error.message)) {
    return functionName.test(error.method) ? `${error.method} ${error.message}` : error.message;
  }
  return error instanceof Error ? error.name : 'unknown failure';
}

export function isReturnValue(error: unknown, returnValue: number): boolean {
  return error instanceof pkcs11js.Pkcs11Error && error.code === returnValue;
}

/** An MpayError whose detail names the module, token or key and what failed. */
export function hsmError(code: ErrorCode, where: string, cause: unknown): MpayError {
  return new MpayError(code, `${where}: ${describeFailure(cause)}`, { cause });
}
