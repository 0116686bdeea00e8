import { encryptTo, signPayload } from '@mpay/envelope';
import {
  amountOfMacroAmount,
  type FundsTransferContent,
  MpayError,
  type PayConfirmToMerchantContent,
  parsePayConfirmToMerchantContent,
  payConfirmToMerchantOf,
} from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { FundsTransfer } from '../interbank/messages.ts';
import { sha256 } from './approval-request.ts';
import { type MacroContext, macroBankLimits } from './context.ts';
import type { AuthenticatedDevice } from './device.ts';
import { parseMacroFundsTransfer } from './funds-transfer.ts';

/**
 * Step 9 of seed 002 §4.2 at the merchant bank:
 *
 *   MB → M: E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}
 *
 * Recorded when the MB credits a macro payment's FT, in the credit's own
 * transaction (receive.ts): the credit and what the merchant is owed commit
 * together or not at all. The merchant reads its confirmations from its
 * bank directly (GET /macro/merchant-confirmations), authenticated by a key
 * the bank bound to it, as the client reads its own (step 11): each is the
 * core's PayConfirmToMerchantContent, made from the FT alone
 * (payConfirmToMerchantOf), signed by the bank and sealed to the asking
 * device's encryption key.
 */

/** Records Pay_Confirm owed for a credited FT (step 9); in the credit's transaction. */
export async function recordMerchantConfirmation(
  sql: Sql,
  transfer: FundsTransfer,
  macro: FundsTransferContent,
  now: Date,
): Promise<void> {
  const amount = amountOfMacroAmount(macro.amount);
  await sql.query(
    `INSERT INTO macro_merchant_confirmations (debtor_bank, transfer_id, session_id, client_id, merchant_id,
       ledger, amount_text, amount, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      transfer.debtorBank,
      transfer.id,
      macro.sessionId,
      macro.clientId,
      macro.merchantId,
      amount.currency,
      macro.amount.value,
      amount.minor,
      macro.expiresAt,
      now.toISOString(),
    ],
  );
}

interface ConfirmationRow {
  sequence: string | number | bigint;
  debtor_bank: string;
  session_id: string;
  client_id: string;
  merchant_id: string;
  ledger: string;
  amount_text: string;
  expires_at: Date | string;
}

/** One Pay_Confirm as the merchant reads it. */
export interface MerchantConfirmation {
  /** Where the next page starts (`after`). */
  readonly sequence: string;
  readonly sessionId: string;
  /** The bank's compact JWS over the core's PayConfirmToMerchantContent, sealed to the asking device. */
  readonly payConfirm: string;
}

export interface MerchantConfirmationPage {
  readonly confirmations: readonly MerchantConfirmation[];
  /** The `after` of the next page, when this one is full. */
  readonly next?: string | undefined;
}

const sequencePattern = /^(0|[1-9][0-9]{0,17})$/;

/** `after` of GET /macro/merchant-confirmations: a sequence, or 0 for the first page. */
export function parseAfter(value: unknown): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'string' || !sequencePattern.test(value))
    throw new MpayError('REQUEST_INVALID', 'after');
  return BigInt(value);
}

/**
 * The merchant's confirmations after `after`, oldest first, at most
 * `merchantConfirmationsPageMax`: each Pay_Confirm (step 9) signed by this
 * bank (aud the merchant's party id, txn SID_T) and sealed to the device.
 * A party sees only the confirmations that name it as ID_M.
 */
export async function listMerchantConfirmations(
  context: MacroContext,
  device: AuthenticatedDevice,
  after: bigint,
): Promise<MerchantConfirmationPage> {
  const pageMax = macroBankLimits.merchantConfirmationsPageMax;
  const { rows } = await context.database.query<ConfirmationRow>(
    `SELECT sequence, debtor_bank, session_id, client_id, merchant_id, ledger, amount_text, expires_at
       FROM macro_merchant_confirmations
      WHERE merchant_id = $1 AND sequence > $2
      ORDER BY sequence LIMIT $3`,
    [device.partyId, after.toString(), pageMax],
  );
  const confirmations: MerchantConfirmation[] = [];
  for (const row of rows) {
    const content: PayConfirmToMerchantContent = parsePayConfirmToMerchantContent(
      payConfirmToMerchantOf(
        parseMacroFundsTransfer({
          kind: 'macro_funds_transfer',
          from: row.debtor_bank,
          to: context.bank.id,
          sessionId: row.session_id,
          clientId: row.client_id,
          merchantId: row.merchant_id,
          amount: { currency: row.ledger, value: row.amount_text },
          expiresAt: new Date(row.expires_at).toISOString(),
        }),
      ),
      sha256,
    );
    const signed = await signPayload(
      content,
      {
        issuer: context.bank.id,
        audience: device.partyId,
        transactionId: row.session_id,
        expiresInSeconds: macroBankLimits.statementLifetimeSeconds,
      },
      context.bank.signingKey,
    );
    confirmations.push({
      sequence: String(row.sequence),
      sessionId: row.session_id,
      payConfirm: await encryptTo(signed, device.binding.encryptionJwk, { contentType: 'mpay+jws' }),
    });
  }
  const last = confirmations.at(-1);
  return {
    confirmations,
    ...(confirmations.length === pageMax && last !== undefined ? { next: last.sequence } : {}),
  };
}
