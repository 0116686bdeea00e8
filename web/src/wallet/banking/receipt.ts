import {
  keyResolverFromJwkSet,
  MESSAGE_TYPE,
  type PublicJwk,
  type PublicJwkSet,
  verifyCompactSignature,
} from '@mpay/envelope';
import { verifyReceipt, type WitnessPolicy } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { BankingStatementLine } from '@mpay/sdk';
import type { WebConfig } from '../../config.ts';

/**
 * The statement line's log receipt, checked in the page (seed 003 §4.2, the
 * transaction log strategy): what `mpay log verify` checks, with the log's
 * and the witnesses' public keys of the deployment, then what makes it this
 * line's evidence. A line is shown "recorded in the public log" only when all
 * of it holds:
 *
 * 1. `verifyReceipt`: the leaf recomputed from the receipt's messages, its
 *    inclusion proof, the checkpoint signed by the log's key and cosigned by
 *    the witnesses the policy requires (keys named inside the file ignored);
 * 2. the receipt is of this line's banking request (its transaction id) and a
 *    banking entry;
 * 3. its second message is the bank's signed record of that request for this
 *    customer, under the bank's keys pinned at enrolment;
 * 4. its first message, the device's signed request, is checked under the
 *    signing keys this phone has held: then what it signed (payee, biller,
 *    reference, and an amount that must be the line's) is shown as the
 *    line's description; a request of another device of the customer, whose
 *    key this phone never had, is shown as recorded but not attributed.
 */

export type ReceiptCheck =
  /** Not made by a mobile banking request (an opening credit, a payment received): no receipt expected. */
  | { readonly status: 'none' }
  /** A banking line whose receipt the bank does not have yet (the log has not proved it). */
  | { readonly status: 'pending' }
  | {
      readonly status: 'verified';
      readonly origin: string;
      readonly index: bigint;
      readonly treeSize: bigint;
      readonly witnesses: readonly string[];
      readonly kind: string;
      /** The request as this phone signed it (only when its signature verified under one of its keys). */
      readonly signedRequest?: SignedRequest | undefined;
    }
  | { readonly status: 'failed'; readonly error: unknown };

/** What the customer signed, read from the logged request once its signature verified. */
export interface SignedRequest {
  readonly kind: string;
  readonly payeeId?: string | undefined;
  readonly billerId?: string | undefined;
  readonly reference?: string | undefined;
  readonly customerReference?: string | undefined;
}

export interface ReceiptContext {
  readonly policy: WitnessPolicy;
  readonly bank: { readonly id: string; readonly keys: PublicJwkSet };
  readonly partyId: string;
  /** Every signing key this phone has held for banking (its current one and those it renewed). */
  readonly deviceKeys: readonly PublicJwk[];
}

/** The deployment's log policy, from /config.json. */
export function logPolicyOf(config: WebConfig): WitnessPolicy {
  return {
    logVerifierKey: config.log.logVerifierKey,
    witnessVerifierKeys: config.log.witnessVerifierKeys,
    witnessesRequired: config.log.witnessesRequired,
  };
}

const textDecoder = new TextDecoder();

function notThisLine(detail: string): MpayError {
  return new MpayError('RECEIPT_INVALID', detail);
}

function payloadOf(bytes: Uint8Array): Record<string, unknown> {
  const value: unknown = JSON.parse(textDecoder.decode(bytes));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw notThisLine('message');
  return value as Record<string, unknown>;
}

/** The bank's record: its signature under the pinned keys, naming this request and this customer. */
async function checkBankRecord(jws: string, requestId: string, context: ReceiptContext): Promise<void> {
  const { payloadBytes } = await verifyCompactSignature(jws, keyResolverFromJwkSet(context.bank.keys), {
    typ: MESSAGE_TYPE,
  });
  const payload = payloadOf(payloadBytes);
  const record = payload.bankingTransaction as Record<string, unknown> | undefined;
  if (
    payload.iss !== context.bank.id ||
    payload.txn !== requestId ||
    typeof record !== 'object' ||
    record === null ||
    record.requestId !== requestId ||
    record.partyId !== context.partyId
  ) {
    throw notThisLine('the bank’s record is not of this request');
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The device's request under one of this phone's keys: what it signed (and
 * its amount is the line's); under none of them (another device of the
 * customer): undefined.
 */
async function requestSignedHere(
  jws: string,
  line: BankingStatementLine & { readonly requestId: string },
  context: ReceiptContext,
): Promise<SignedRequest | undefined> {
  for (const key of context.deviceKeys) {
    let payloadBytes: Uint8Array;
    try {
      ({ payloadBytes } = await verifyCompactSignature(jws, keyResolverFromJwkSet({ keys: [key] }), {
        typ: MESSAGE_TYPE,
      }));
    } catch {
      continue;
    }
    const payload = payloadOf(payloadBytes);
    const banking = payload.banking as { request?: Record<string, unknown> } | undefined;
    const request = banking?.request;
    if (payload.txn !== line.requestId || payload.iss !== context.partyId || typeof request !== 'object')
      throw notThisLine('the signed request is not this one');
    if (request.amount !== undefined && request.amount !== line.amount.toString())
      throw notThisLine('the signed request is of another amount');
    return {
      kind: text(request.kind) ?? 'banking',
      payeeId: text(request.payeeId),
      billerId: text(request.billerId),
      reference: text(request.reference),
      customerReference: text(request.customerReference),
    };
  }
  return undefined;
}

export async function checkReceipt(
  line: BankingStatementLine,
  context: ReceiptContext,
): Promise<ReceiptCheck> {
  const { requestId, receipt: receiptText } = line;
  if (requestId === undefined) return { status: 'none' };
  if (receiptText === undefined) return { status: 'pending' };
  try {
    const verified = await verifyReceipt(receiptText, context.policy);
    const { receipt, proof } = verified;
    if (receipt.transactionId !== requestId) throw notThisLine('the receipt is of another transaction');
    if (!receipt.entry.kind.startsWith('banking.')) throw notThisLine('not a banking entry');
    const [deviceJws, bankJws] = receipt.messages;
    if (receipt.messages.length !== 2 || deviceJws === undefined || bankJws === undefined)
      throw notThisLine('messages');
    await checkBankRecord(bankJws, requestId, context);
    return {
      status: 'verified',
      origin: proof.checkpoint.origin,
      index: proof.index,
      treeSize: proof.checkpoint.treeSize,
      witnesses: proof.witnesses.map((witness) => witness.name),
      kind: receipt.entry.kind,
      signedRequest: await requestSignedHere(deviceJws, { ...line, requestId }, context),
    };
  } catch (error) {
    return { status: 'failed', error };
  }
}
