import { createHash, randomUUID } from 'node:crypto';
import { type Amount, createAmount, MpayError, parseMinorUnits } from '@mpay/protocol';
import type { ShopContext } from '../context.ts';
import type { TillConfig } from './config.ts';
import { initialSaleState } from './state-machine.ts';
import { findSaleByIdempotencyKey, insertSale, type Sale } from './store.ts';

/** What the staff enter: the amount (minor units as a decimal string) and an optional reference. */
export interface SaleInput {
  readonly amount: { readonly currency: string; readonly minor: string };
  readonly reference?: string | undefined;
}

export interface CreatedSale {
  /** False when the Idempotency-Key was used before for the same request: that sale, nothing new signed. */
  readonly created: boolean;
  readonly sale: Sale;
}

/** No control or format characters (bidirectional overrides among them) in what the customer reads and signs. */
const referencePattern = /^[^\p{Cc}\p{Cf}\p{Cs}]+$/u;

function checkedAmount(till: TillConfig, input: SaleInput['amount']): Amount {
  const minor = parseMinorUnits(input.minor, 'amount.minor');
  const amount = createAmount(input.currency, minor, 'amount');
  if (amount.currency !== till.currency) throw new MpayError('CURRENCY_MISMATCH', 'amount.currency');
  if (amount.minor > BigInt(till.limits.saleAmountMinorMax))
    throw new MpayError('AMOUNT_TOO_LARGE', 'saleAmountMinorMax');
  return amount;
}

function checkedReference(till: TillConfig, reference: string | undefined): string | null {
  if (reference === undefined) return null;
  const trimmed = reference.trim();
  if (trimmed === '') return null;
  if (trimmed.length > till.limits.referenceLengthMax || !referencePattern.test(trimmed))
    throw new MpayError('REQUEST_INVALID', 'reference');
  return trimmed;
}

/** SHA-256 of the request as the shop understood it: what an Idempotency-Key is bound to. */
function requestHashOf(amount: Amount, reference: string | null): string {
  return createHash('sha256')
    .update(JSON.stringify([amount.currency, amount.minor.toString(), reference]), 'utf8')
    .digest('hex');
}

function sameRequest(sale: Sale, requestHash: string): Sale {
  if (sale.requestHash !== requestHash) throw new MpayError('IDEMPOTENCY_KEY_REUSED');
  return sale;
}

/**
 * A new sale at the till: the amount checked against the till's currency
 * and limit, a fresh transaction id, the EMV QR code signed with the
 * merchant's certified key, stored under the staff's Idempotency-Key. The
 * same key with the same request answers the same sale (its one code: a
 * retried request never shows a second code for one sale); with another
 * request it is IDEMPOTENCY_KEY_REUSED.
 */
export async function createSale(
  context: ShopContext,
  till: TillConfig,
  idempotencyKey: string,
  input: SaleInput,
): Promise<CreatedSale> {
  const amount = checkedAmount(till, input.amount);
  const reference = checkedReference(till, input.reference);
  const requestHash = requestHashOf(amount, reference);
  const earlier = await findSaleByIdempotencyKey(context.database, idempotencyKey);
  if (earlier !== undefined) return { created: false, sale: sameRequest(earlier, requestHash) };
  const now = context.clock();
  const qr = await context.merchant.createTillQr({
    amount,
    transactionId: randomUUID(),
    expiresInSeconds: till.limits.tillCodeLifetimeSeconds,
    ...(till.merchantName === undefined ? {} : { merchantName: till.merchantName }),
    ...(till.city === undefined ? {} : { city: till.city }),
    ...(till.country === undefined ? {} : { country: till.country }),
  });
  // Two requests with one key racing: one insert wins, the other answers the winner's sale.
  const stored = await insertSale(
    context.database,
    {
      id: qr.transactionId,
      idempotencyKey,
      requestHash,
      amount,
      reference,
      qrPayload: qr.payload,
      codeExpiresAt: new Date(qr.expiresAt),
    },
    initialSaleState,
    now,
  );
  const sale = await findSaleByIdempotencyKey(context.database, idempotencyKey);
  if (sale === undefined) throw new Error('assertion failed: the sale was stored');
  if (stored && sale.id !== qr.transactionId)
    throw new Error('assertion failed: the stored sale is this one');
  return { created: stored, sale: sameRequest(sale, requestHash) };
}
