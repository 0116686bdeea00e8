import { MpayError } from '@mpay/protocol';

/**
 * The statement's opaque page cursor: a position in commit order, versioned
 * so that its form can change. It carries no balance: every page computes its
 * balances from the database, so a forged cursor can only pick a position.
 */
const cursorTextPattern = /^v1\.(0|[1-9][0-9]{0,18})$/;
const seqMax = 2n ** 63n - 1n;

export function encodeStatementCursor(beforeSeq: bigint): string {
  return Buffer.from(`v1.${beforeSeq}`, 'utf8').toString('base64url');
}

export function decodeStatementCursor(cursor: string): bigint {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = cursorTextPattern.exec(text);
  if (match?.[1] === undefined || encodeStatementCursor(BigInt(match[1])) !== cursor) {
    throw new MpayError('REQUEST_INVALID', 'cursor');
  }
  const beforeSeq = BigInt(match[1]);
  if (beforeSeq > seqMax) throw new MpayError('REQUEST_INVALID', 'cursor');
  return beforeSeq;
}
