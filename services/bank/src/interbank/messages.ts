import { createHash } from 'node:crypto';
import { decodeUnverified, signPayload, verifyPayload } from '@mpay/envelope';
import {
  canonicalize,
  type FundsTransferContent,
  isPartyId,
  MpayError,
  type PayAckContent,
} from '@mpay/protocol';
import { checkMacroFundsTransfer, parseMacroFundsTransfer, parsePayAck } from '../macro/funds-transfer.ts';
import type { Interbank, InterbankPeer } from './peers.ts';

/**
 * The funds-transfer message (macro-payment seed: CB → MB): the client bank
 * has placed a hold on its customer's account and asks the merchant bank to
 * credit payee `payeeId`, a party id: the merchant bank credits the account
 * its own records bind to that payee, so the client bank never learns (nor
 * chooses) a merchant's account. Amount in minor units as decimal text.
 */
export interface FundsTransfer {
  readonly id: string;
  readonly debtorBank: string;
  readonly creditorBank: string;
  readonly payeeId: string;
  readonly amount: string;
  readonly currency: string;
  readonly reference: string;
  /** ISO 8601: the merchant bank refuses to credit after this instant. */
  readonly deadline: string;
}

/** The merchant bank's signed answer: the only thing on which the client bank posts or voids its hold. */
export interface FundsTransferAnswer {
  readonly id: string;
  readonly outcome: 'credited' | 'refused';
  readonly code?: string | undefined;
}

/** Lifetime of one signed message; every delivery attempt signs a fresh one. */
export const messageLifetimeSeconds = 300;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const fieldPatterns: Record<keyof FundsTransfer, RegExp> = {
  id: uuidPattern,
  debtorBank: /^[a-z][a-z0-9-]{0,62}$/,
  creditorBank: /^[a-z][a-z0-9-]{0,62}$/,
  // Shape only; isPartyId below requires the canonical form.
  payeeId: /^[a-z0-9._@-]{1,128}$/,
  amount: /^[1-9][0-9]{0,17}$/,
  currency: /^[A-Z]{3}$/,
  reference: /^[^\p{Cc}]{0,128}$/u,
  deadline: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
};

/**
 * SHA-256 of the canonical form: two messages with the same hash ask for the
 * same thing. A macro payment's FT content (step 8) is part of what is asked;
 * without one, the hash is the transfer's alone, as before macro payments.
 */
export function fundsTransferHash(transfer: FundsTransfer, macro?: FundsTransferContent): string {
  const asked = macro === undefined ? transfer : { fundsTransfer: transfer, macroFundsTransfer: macro };
  return createHash('sha256').update(canonicalize(asked)).digest('hex');
}

function parseFundsTransfer(value: unknown): FundsTransfer {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MpayError('REQUEST_INVALID', 'fundsTransfer');
  }
  const record = value as Record<string, unknown>;
  const names = Object.keys(fieldPatterns) as (keyof FundsTransfer)[];
  if (Object.keys(record).length !== names.length) throw new MpayError('REQUEST_INVALID', 'fundsTransfer');
  for (const name of names) {
    const field = record[name];
    if (typeof field !== 'string' || !fieldPatterns[name].test(field)) {
      throw new MpayError('REQUEST_INVALID', `fundsTransfer.${name}`);
    }
  }
  if (!isPartyId(record.payeeId)) throw new MpayError('REQUEST_INVALID', 'fundsTransfer.payeeId');
  const deadline = new Date(record.deadline as string);
  if (Number.isNaN(deadline.getTime()) || deadline.toISOString() !== record.deadline) {
    throw new MpayError('REQUEST_INVALID', 'fundsTransfer.deadline');
  }
  return record as unknown as FundsTransfer;
}

/**
 * Signs with the wall clock (message freshness is about transport, not the
 * ledger's clock); the deadline inside is the client bank's ledger time. A
 * macro payment's order carries the paper's FT content (step 8) beside the
 * transfer, under the same signature.
 */
export function signFundsTransfer(
  interbank: Interbank,
  transfer: FundsTransfer,
  macro?: FundsTransferContent,
): Promise<string> {
  return signPayload(
    macro === undefined
      ? { fundsTransfer: transfer }
      : { fundsTransfer: transfer, macroFundsTransfer: macro },
    {
      issuer: interbank.self,
      audience: transfer.creditorBank,
      transactionId: transfer.id,
      expiresInSeconds: messageLifetimeSeconds,
    },
    interbank.signingKey,
  );
}

/** The peer whose key signed `jws` (by the header's kid), or BANK_UNKNOWN; no trust is placed in it yet. */
function claimedPeer(interbank: Interbank, jws: string): InterbankPeer {
  const header = decodeUnverified(jws)?.header as { kid?: unknown } | undefined;
  const peer = typeof header?.kid === 'string' ? interbank.findPeerByKid(header.kid) : undefined;
  if (peer === undefined) throw new MpayError('BANK_UNKNOWN');
  return peer;
}

export interface VerifiedFundsTransfer {
  readonly peer: InterbankPeer;
  readonly transfer: FundsTransfer;
  /** Step 8 of a macro payment, checked to ask for exactly `transfer`; undefined for any other transfer. */
  readonly macro: FundsTransferContent | undefined;
  readonly nonce: string;
  readonly expiresAt: Date;
}

/**
 * Verifies a funds-transfer message at the merchant bank: signed by a known
 * peer's key, issued by that peer, addressed to this bank, fresh, and its
 * content names the same banks and transaction as its claims.
 */
export async function verifyFundsTransfer(interbank: Interbank, jws: string): Promise<VerifiedFundsTransfer> {
  const peer = claimedPeer(interbank, jws);
  const verified = await verifyPayload(
    jws,
    (kid) => (kid === peer.signingJwk.kid ? peer.signingJwk : undefined),
    { audience: interbank.self, issuer: peer.id },
    { maxAgeSeconds: messageLifetimeSeconds },
  );
  const transfer = parseFundsTransfer(verified.payload.fundsTransfer);
  const { claims } = verified;
  if (
    transfer.debtorBank !== peer.id ||
    transfer.creditorBank !== interbank.self ||
    claims.txn !== transfer.id
  ) {
    throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  }
  const macro =
    verified.payload.macroFundsTransfer === undefined
      ? undefined
      : checkMacroFundsTransfer(transfer, parseMacroFundsTransfer(verified.payload.macroFundsTransfer));
  return { peer, transfer, macro, nonce: claims.nonce, expiresAt: new Date(claims.exp * 1000) };
}

/** What a signed answer answers: a funds transfer, or a refund transfer (the same shape, another name). */
export type AnswerMember = 'fundsTransferAnswer' | 'refundTransferAnswer';

/**
 * The signed answer; for a macro payment's credited FT, with the paper's
 * Pay_Ack (step 10) under the same signature, made by `payAck` from the
 * answer's own expiry.
 */
export function signAnswer(
  interbank: Interbank,
  peer: string,
  answer: FundsTransferAnswer,
  member: AnswerMember = 'fundsTransferAnswer',
  payAck?: (expiresAt: Date) => PayAckContent,
): Promise<string> {
  const { code, ...rest } = answer;
  const expiresAt = new Date((Math.floor(Date.now() / 1000) + messageLifetimeSeconds) * 1000);
  return signPayload(
    {
      [member]: code === undefined ? rest : answer,
      ...(payAck === undefined ? {} : { payAck: payAck(expiresAt) }),
    },
    {
      issuer: interbank.self,
      audience: peer,
      transactionId: answer.id,
      expiresInSeconds: messageLifetimeSeconds,
    },
    interbank.signingKey,
  );
}

const codePattern = /^[A-Z][A-Z0-9_]{0,63}$/;

function parseAnswer(value: unknown, id: string): FundsTransferAnswer {
  const answer = value as Partial<Record<string, unknown>> | null;
  const valid =
    typeof answer === 'object' &&
    answer !== null &&
    answer.id === id &&
    ((answer.outcome === 'credited' && answer.code === undefined && Object.keys(answer).length === 2) ||
      (answer.outcome === 'refused' &&
        typeof answer.code === 'string' &&
        codePattern.test(answer.code) &&
        Object.keys(answer).length === 3));
  if (!valid) throw new MpayError('CRYPTO_VERIFICATION_FAILED');
  return answer as unknown as FundsTransferAnswer;
}

/** A verified answer, with the macro payment's Pay_Ack (step 10) when it carries one, parsed strictly. */
export interface VerifiedAnswer extends FundsTransferAnswer {
  readonly payAck?: PayAckContent | undefined;
}

/** Verifies the other bank's answer to transfer `id` (an order's, or a refund's): only `peer` may have signed it. */
export async function verifyAnswer(
  interbank: Interbank,
  peer: InterbankPeer,
  jws: string,
  id: string,
  member: AnswerMember = 'fundsTransferAnswer',
): Promise<VerifiedAnswer> {
  const verified = await verifyPayload(
    jws,
    (kid) => (kid === peer.signingJwk.kid ? peer.signingJwk : undefined),
    { audience: interbank.self, issuer: peer.id, transactionId: id },
    { maxAgeSeconds: messageLifetimeSeconds },
  );
  const answer = parseAnswer(verified.payload[member], id);
  const payAck = verified.payload.payAck;
  return payAck === undefined ? answer : { ...answer, payAck: parsePayAck(payAck) };
}
