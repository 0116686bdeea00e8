import { type ErrorCode, MpayError } from '@mpay/protocol';

/**
 * A payment order the bank refuses before any money moves. The FSP sees only
 * the code (generic on purpose for authorisation failures); `reason`, the
 * precise cause, goes to the bank's log and its refusal records.
 */
export class OrderRefusal extends MpayError {
  readonly reason: string;

  constructor(code: ErrorCode, reason: string) {
    super(code);
    this.name = 'OrderRefusal';
    this.reason = reason;
  }
}
