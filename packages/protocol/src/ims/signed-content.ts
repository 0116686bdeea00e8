import { MpayError } from '../errors/index.ts';
import { type ImsJson, imsToJson } from './json.ts';
import { optionalEntry } from './json-object.ts';
import type { ImsMessage } from './message.ts';

export type ImsSigner = 'merchant' | 'fsp' | 'customer';

/**
 * What one party signs: the JSON form of the message as it stands when that
 * party signs (amount as a decimal string, no bigint), plus `signer`, which
 * names the role so that a signature made as one role can never be presented
 * as another's. The caller canonicalises it (RFC 8785) and signs the bytes.
 *
 * Every signer covers the sealed private fields (`data.sealed`) as they are:
 * ciphertexts and sealed keys, which nobody along the way can open or swap.
 *
 *   merchant  everything except the level, the accounts and all signatures (the FSP
 *             decides the level and fills the accounts after the merchant signs)
 *   fsp       everything with the level and its protections, the accounts and the merchant's signature
 *   customer  everything with the level and its protections, the accounts, the merchant's and
 *             the FSP's signatures, and the sealed second factor when the level asks for one
 *
 * An earlier signature enters the next signed content as its signature value
 * (the third part of the compact JWS), not as the whole JWS: the value binds
 * the earlier signed bytes just as well (the verifier checks that JWS on its
 * own), and the chain stays the same size at every step instead of growing by
 * a third each time.
 *
 * A type alias rather than an interface so that it is assignable to
 * `Record<string, unknown>` (what canonicalisers and JWS payloads take).
 */
export type ImsSignedContent = {
  readonly signer: ImsSigner;
  readonly type?: ImsJson['type'];
  readonly protections?: readonly string[];
  readonly transactionId: string;
  readonly procedure: ImsJson['procedure'];
  readonly address: {
    readonly from: { readonly id: string; readonly secondFactor?: string };
    readonly to: { readonly id: string; readonly sign?: string };
    readonly fspSign?: string;
    readonly timestamp: string;
  };
  readonly data: {
    readonly accountPayable?: string;
    readonly accountReceivable?: string;
    readonly amount: { readonly currency: string; readonly value: string };
    readonly description?: string;
    readonly sealed?: {
      readonly content: string;
      readonly customer: string;
      readonly payerBank: string;
      readonly payeeBank: string;
    };
  };
};

/** The signature value of a compact JWS: its third, base64url part. */
export function signatureValue(compactJws: string): string {
  const parts = compactJws.split('.');
  if (parts.length !== 3 || parts[2] === '') throw new MpayError('MESSAGE_INVALID', 'sign');
  return parts[2]!;
}

function content(
  signer: ImsSigner,
  json: ImsJson,
  signatures: { toSign?: string; fspSign?: string },
  withAccounts: boolean,
): ImsSignedContent {
  const { address, data } = json;
  const fromFsp = signer !== 'merchant';
  return {
    signer,
    ...optionalEntry('type', fromFsp ? json.type : undefined),
    ...optionalEntry('protections', fromFsp ? json.protections : undefined),
    transactionId: json.transactionId,
    procedure: json.procedure,
    address: {
      from: {
        id: address.from.id,
        ...optionalEntry('secondFactor', signer === 'customer' ? address.from.secondFactor : undefined),
      },
      to: { id: address.to.id, ...optionalEntry('sign', signatures.toSign) },
      ...optionalEntry('fspSign', signatures.fspSign),
      timestamp: address.timestamp,
    },
    data: {
      ...optionalEntry('accountPayable', withAccounts ? data.accountPayable : undefined),
      ...optionalEntry('accountReceivable', withAccounts ? data.accountReceivable : undefined),
      amount: { currency: data.amount.currency, value: data.amount.value },
      ...optionalEntry('description', data.description),
      ...optionalEntry('sealed', data.sealed),
    },
  };
}

/** What the merchant signs into <to><sign>: the message without the level, the accounts and any signature. */
export function merchantSignedContent(message: ImsMessage): ImsSignedContent {
  return content('merchant', imsToJson(message), {}, false);
}

/** What the FSP signs into <FSPsign>: the message with the accounts and the merchant's signature. */
export function fspSignedContent(message: ImsMessage): ImsSignedContent {
  const json = imsToJson(message);
  if (json.address.to.sign === undefined) throw new MpayError('MESSAGE_INVALID', 'address.to.sign');
  if (json.protections === undefined) throw new MpayError('MESSAGE_INVALID', 'protections');
  // The FSP fills in the payer's account, except at a level that seals the private fields (then none).
  if (json.data.accountPayable === undefined && !json.protections.includes('private_data_sealed'))
    throw new MpayError('MESSAGE_INVALID', 'data.accountPayable');
  return content('fsp', json, { toSign: signatureValue(json.address.to.sign) }, true);
}

/** What the customer signs into <from><sign>: the message with the accounts, the merchant's and the FSP's signatures. */
export function customerSignedContent(message: ImsMessage): ImsSignedContent {
  const json = imsToJson(message);
  if (json.address.fspSign === undefined) throw new MpayError('MESSAGE_INVALID', 'address.fspSign');
  const toSign = json.address.to.sign === undefined ? undefined : signatureValue(json.address.to.sign);
  return content(
    'customer',
    json,
    { ...optionalEntry('toSign', toSign), fspSign: signatureValue(json.address.fspSign) },
    true,
  );
}

/**
 * What the customer signs to decline: a content of its own (`decision:
 * 'decline'`, no accounts, no iMS layout), so that a decline can never be
 * presented as a confirmation nor a confirmation as a decline. It names the
 * payment, both parties, the amount and the FSP's signature it answers.
 */
export type ImsDeclineContent = {
  readonly signer: 'customer';
  readonly decision: 'decline';
  readonly transactionId: string;
  readonly payer: string;
  readonly payee: string;
  readonly amount: { readonly currency: string; readonly value: string };
  readonly fspSign: string;
};

export function customerDeclineContent(message: ImsMessage): ImsDeclineContent {
  const json = imsToJson(message);
  if (json.address.fspSign === undefined) throw new MpayError('MESSAGE_INVALID', 'address.fspSign');
  return {
    signer: 'customer',
    decision: 'decline',
    transactionId: json.transactionId,
    payer: json.address.from.id,
    payee: json.address.to.id,
    amount: { currency: json.data.amount.currency, value: json.data.amount.value },
    fspSign: signatureValue(json.address.fspSign),
  };
}
