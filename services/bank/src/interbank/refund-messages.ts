import { createHash } from 'node:crypto';
import { decodeUnverified, signPayload, verifyPayload } from '@mpay/envelope';
import { canonicalize, isPartyId, MpayError } from '@mpay/protocol';
import { messageLifetimeSeconds, signAnswer, verifyAnswer } from './messages.ts';
import type { Interbank, InterbankPeer } from './peers.ts';

/**
 * The refund-transfer message: the macro payment's funds transfer (step 8)
 * the other way. The merchant's bank has debited (held) its merchant's
 * account and asks the customer's bank to credit the customer of the
 * original order `originalOrderId`: the customer's bank credits the account
 * it debited for that order, never one the message names. A message of its
 * own (`refundTransfer`, not `fundsTransfer`), so that neither can be
 * presented as the other, and neither can their answers.
 */
export interface RefundTransfer {
  readonly id: string;
  readonly debtorBank: string;
  readonly creditorBank: string;
  readonly originalOrderId: string;
  /** The merchant, payee of the original. */
  readonly payerId: string;
  /** The customer, payer of the original. */
  readonly payeeId: string;
  readonly amount: string;
  readonly currency: string;
  readonly reference: string;
  /** ISO 8601: the customer's bank refuses to credit after this instant. */
  readonly deadline: string;
}

/** The customer's bank's signed answer: the only thing on which the merchant's bank posts or voids its hold. */
export interface RefundTransferAnswer {
  readonly id: string;
  readonly outcome: 'credited' | 'refused';
  readonly code?: string | undefined;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const fieldPatterns: Record<keyof RefundTransfer, RegExp> = {
  id: uuidPattern,
  debtorBank: /^[a-z][a-z0-9-]{0,62}$/,
  creditorBank: /^[a-z][a-z0-9-]{0,62}$/,
  originalOrderId: uuidPattern,
  // Shape only; isPartyId below requires the canonical form.
  payerId: /^[a-z0-9._@-]{1,128}$/,
  payeeId: /^[a-z0-9._@-]{1,128}$/,
  amount: /^[1-9][0-9]{0,17}$/,
  currency: /^[A-Z]{3}$/,
  reference: /^[^\p{Cc}]{0,128}$/u,
  deadline: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
};

/** SHA-256 of the canonical form: two messages with the same hash ask for the same thing. */
export function refundTransferHash(transfer: RefundTransfer): string {
  return createHash('sha256').update(canonicalize(transfer)).digest('hex');
}

function parseRefundTransfer(value: unknown): RefundTransfer {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MpayError('REQUEST_INVALID', 'refundTransfer');
  }
  const record = value as Record<string, unknown>;
  const names = Object.keys(fieldPatterns) as (keyof RefundTransfer)[];
  if (Object.keys(record).length !== names.length) throw new MpayError('REQUEST_INVALID', 'refundTransfer');
  for (const name of names) {
    const field = record[name];
    if (typeof field !== 'string' || !fieldPatterns[name].test(field)) {
      throw new MpayError('REQUEST_INVALID', `refundTransfer.${name}`);
    }
  }
  if (!isPartyId(record.payerId)) throw new MpayError('REQUEST_INVALID', 'refundTransfer.payerId');
  if (!isPartyId(record.payeeId)) throw new MpayError('REQUEST_INVALID', 'refundTransfer.payeeId');
  const deadline = new Date(record.deadline as string);
  if (Number.isNaN(deadline.getTime()) || deadline.toISOString() !== record.deadline) {
    throw new MpayError('REQUEST_INVALID', 'refundTransfer.deadline');
  }
  return record as unknown as RefundTransfer;
}

/** Signs with the wall clock, as funds-transfer messages are; the deadline inside is the ledger's time. */
export function signRefundTransfer(interbank: Interbank, transfer: RefundTransfer): Promise<string> {
  return signPayload(
    { refundTransfer: transfer },
    {
      issuer: interbank.self,
      audience: transfer.creditorBank,
      transactionId: transfer.id,
      expiresInSeconds: messageLifetimeSeconds,
    },
    interbank.signingKey,
  );
}

export interface VerifiedRefundTransfer {
  readonly peer: InterbankPeer;
  readonly transfer: RefundTransfer;
  readonly nonce: string;
  readonly expiresAt: Date;
}

/**
 * Verifies a refund-transfer message at the customer's bank: signed by a
 * known peer's key (BANK_UNKNOWN for a key of no peer), issued by that peer,
 * addressed to this bank, fresh, and its content names the same banks and
 * refund as its claims.
 */
export async function verifyRefundTransfer(
  interbank: Interbank,
  jws: string,
): Promise<VerifiedRefundTransfer> {
  const header = decodeUnverified(jws)?.header as { kid?: unknown } | undefined;
  const peer = typeof header?.kid === 'string' ? interbank.findPeerByKid(header.kid) : undefined;
  if (peer === undefined) throw new MpayError('BANK_UNKNOWN');
  const verified = await verifyPayload(
    jws,
    (kid) => (kid === peer.signingJwk.kid ? peer.signingJwk : undefined),
    { audience: interbank.self, issuer: peer.id },
    { maxAgeSeconds: messageLifetimeSeconds },
  );
  const transfer = parseRefundTransfer(verified.payload.refundTransfer);
  const { claims } = verified;
  if (
    transfer.debtorBank !== peer.id ||
    transfer.creditorBank !== interbank.self ||
    claims.txn !== transfer.id
  ) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  return { peer, transfer, nonce: claims.nonce, expiresAt: new Date(claims.exp * 1000) };
}

/** The customer's bank's signed answer to a refund transfer: the funds-transfer answer under its own name. */
export function signRefundAnswer(
  interbank: Interbank,
  peer: string,
  answer: RefundTransferAnswer,
): Promise<string> {
  return signAnswer(interbank, peer, answer, 'refundTransferAnswer');
}

/** Verifies the customer's bank's answer to refund `id` at the merchant's bank: only `peer` may have signed it. */
export function verifyRefundAnswer(
  interbank: Interbank,
  peer: InterbankPeer,
  jws: string,
  id: string,
): Promise<RefundTransferAnswer> {
  return verifyAnswer(interbank, peer, jws, id, 'refundTransferAnswer');
}
