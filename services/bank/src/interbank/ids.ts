import { createHash } from 'node:crypto';

/**
 * A UUID (version 8, RFC 9562 §5.8) derived from its parts by SHA-256: the
 * same parts always give the same id, so a step retried after a crash writes
 * the transfer it would have written the first time, and the ledger's
 * id-is-idempotency-key rule makes the retry harmless.
 */
export function derivedId(...parts: readonly string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The account at this bank that carries what this bank and `peer` owe each other in `ledger`. */
export function settlementAccountId(bank: string, peer: string, ledger: string): string {
  return derivedId('settlement-account', bank, peer, ledger);
}

/** The post or void that resolves the hold of payment order `orderId`. */
export function holdResolutionId(orderId: string, resolution: 'post' | 'void'): string {
  return derivedId('payment-order', orderId, resolution);
}

/** The merchant bank's ledger transfer that credits the payee of peer `debtorBank`'s order `orderId`. */
export function interbankCreditId(debtorBank: string, orderId: string): string {
  return derivedId('interbank-credit', debtorBank, orderId);
}
