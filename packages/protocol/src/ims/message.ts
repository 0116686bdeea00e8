import type { Amount } from '../money/index.ts';
import type { PartyId } from '../party/index.ts';
import type { Protection, SecurityLevel } from '../payment/index.ts';

/**
 * The iMS payment message of the paper's §4 and Figure 3: one message, three
 * sections, signed in turn by merchant, FSP and customer.
 *
 *   <type>     the security level, chosen by the gateway from the amount and the
 *              customer's recent payments; the merchant may ask for a higher one
 *   <address>  payer (`from`, the customer) and payee (`to`, the merchant), each
 *              with its signature, the FSP's signature, and the timestamp
 *   <data>     the payable and receivable accounts (filled in by the FSP) and
 *              the amount (and an optional description shown to the customer);
 *              at a level that asks for it, the private fields sealed for the
 *              customer and the banks instead (no accounts, no description in clear)
 *
 * Two fields are not in Figure 3 and are added here: `transactionId` (every
 * signature names the one payment it authorises) and `procedure` (the paper
 * says <type> "contains information about the payment procedure"; we keep the
 * level in <type> and name the procedure, m-commerce or m-trade, separately).
 */
/** The values of <type>; the type itself is the payment package's `SecurityLevel` (one definition). */
export const securityLevels: readonly SecurityLevel[] = Object.freeze(['small', 'medium', 'large']);

export const imsProcedures = Object.freeze(['m-commerce', 'm-trade'] as const);
export type ImsProcedure = (typeof imsProcedures)[number];

export interface ImsParty {
  readonly id: PartyId;
  /** Compact JWS, opaque here. */
  readonly sign?: string;
}

/** The payer: a party, plus the second factor the customer adds at the large level. */
export interface ImsPayer extends ImsParty {
  /**
   * The one-time code, sealed (compact JWE) to the customer's bank: only that
   * bank reads it, and the customer's signature covers it, so the FSP can
   * neither read nor swap it.
   */
  readonly secondFactor?: string;
}

export interface ImsAddress {
  /** The customer (payer): a person, or a merchant buying. */
  readonly from: ImsPayer;
  /** The merchant (payee). */
  readonly to: ImsParty;
  /** <FSPsign>: the FSP's signature over the merchant-signed message with the accounts. */
  readonly fspSign?: string;
  /** ISO 8601 UTC with 'Z', seconds or milliseconds: 2002-05-27T12:34:34Z or 2002-05-27T12:34:34.000Z. */
  readonly timestamp: string;
}

/**
 * The data section's private fields, sealed end to end by the merchant (the
 * `private_data_sealed` protection): the description and the order lines
 * (`ImsPrivateData`, canonical JSON) encrypted once under a fresh content key,
 * and that key sealed to each reader. The FSP routes on the parties and the
 * amount and reads none of it; every signature of the chain covers all four
 * parts, so nobody can swap one.
 */
export interface ImsSealedData {
  /** Compact JWE, `dir` + A256GCM under the content key; its `kid` commits to that key (SHA-256). */
  readonly content: string;
  /** The content key sealed (compact JWE, ECDH-ES) to the customer's device key, as the customer's bank bound it. */
  readonly customer: string;
  /** The content key sealed to the customer's bank's encryption key. */
  readonly payerBank: string;
  /** The content key sealed to the merchant's bank's encryption key. */
  readonly payeeBank: string;
}

export interface ImsData {
  readonly accountPayable?: string;
  readonly accountReceivable?: string;
  readonly amount: Amount;
  readonly description?: string;
  /** The private fields, sealed (then there is no description in clear, and the FSP fills in no account). */
  readonly sealed?: ImsSealedData;
}

export interface ImsMessage {
  /**
   * The security level. The merchant's value is only the least it asks for
   * and is not part of what it signs; the FSP writes the level it applies
   * (never lower than its own assessment) before it countersigns.
   */
  readonly type: SecurityLevel;
  /**
   * What that level required, written by the FSP with the level (covered by
   * the FSP's and the customer's signatures, not the merchant's). Absent
   * before the FSP has assessed the payment.
   */
  readonly protections?: readonly Protection[];
  /** UUID (RFC 9562, versions 1–8), lower case. */
  readonly transactionId: string;
  readonly procedure: ImsProcedure;
  readonly address: ImsAddress;
  readonly data: ImsData;
}

/** How far the signing chain has got: merchant → FSP → customer. */
export type ImsSigningStage = 'unsigned' | 'merchant-signed' | 'fsp-signed' | 'customer-signed';

export function imsSigningStage(message: ImsMessage): ImsSigningStage {
  if (message.address.from.sign !== undefined) return 'customer-signed';
  if (message.address.fspSign !== undefined) return 'fsp-signed';
  if (message.address.to.sign !== undefined) return 'merchant-signed';
  return 'unsigned';
}
