import type { DecryptionKey, SigningKey } from '@mpay/envelope';
import type { ErrorCode, MacroPaymentStatusContent, TransactionData } from '@mpay/protocol';
import type { BankTrust, FspTrust } from '@mpay/sdk';
import { keysWith, readValue, writeValue } from '../storage.ts';

/**
 * What the macro section keeps on the phone (IndexedDB, prefix `macro:`):
 * the device its bank bound (non-extractable WebCrypto keys, which IndexedDB
 * stores without exporting them), the registration at the MPASP, and each
 * payment's TransactionData, which the device alone keeps (the MPASP sees its
 * hash) and needs again to approve at its bank (step 7). The mPIN is never
 * stored: the person types it from their mail whenever step 3 asks.
 */
const deviceKey = 'macro:device';
const registrationKey = 'macro:registration';
const paymentPrefix = 'macro:payment:';

export interface MacroDeviceRecord {
  readonly partyId: string;
  readonly bankId: string;
  readonly deviceId: string;
  readonly serial: string;
  /** The bank's signed binding of the device's keys to the customer and account. */
  readonly binding: string;
  readonly signingKey: SigningKey;
  readonly encryptionKey: DecryptionKey;
  /** The bank's keys as they were at enrolment, pinned from then on. */
  readonly bank: BankTrust;
  readonly enrolledAt: string;
}

export interface MacroRegistrationRecord {
  /** The 256-bit secret of registration (§4.2's channel keys are derived from it); never sent again. */
  readonly deviceSecret: string;
  /** The MPASP (the FSP) as it was at registration, pinned from then on. */
  readonly fsp: FspTrust;
  readonly name: string;
  readonly msisdn: string;
  readonly email: string;
  readonly secretQuestion: string;
  /** Set once the MPASP accepted the registration: the mail was sent to this (masked) address. */
  readonly mailedTo?: string;
  /** ID_C, typed in from the mail once an mPIN login with it succeeded. */
  readonly clientId?: string;
  readonly registeredAt?: string;
}

/** Where a payment stands as the device knows it. */
export type MacroPaymentPhase =
  | 'requested'
  | 'challenge_opened'
  | 'at_bank'
  | 'approved'
  | 'declined'
  | 'completed'
  | 'failed';

export interface MacroPaymentRecord {
  readonly transactionId: string;
  readonly clientId: string;
  readonly merchant: { readonly id: string; readonly name: string };
  /** AmtInfo_c in minor units, as a decimal string (IndexedDB keeps no bigint portably). */
  readonly amount: { readonly currency: string; readonly minor: string };
  /** What the device asked to pay (step 1), kept for its approval at the bank (step 7). */
  readonly transactionData: TransactionData;
  readonly challengedAt: string;
  /** T_EXP */
  readonly expiresAt: string;
  readonly phase: MacroPaymentPhase;
  /** SID_T, once the MPASP created the session (step 5). */
  readonly sessionId?: string;
  /** The stable code of a failure (AUTHENTICATION_FAILED, PAYMENT_EXPIRED, INSUFFICIENT_FUNDS …). */
  readonly failureCode?: ErrorCode;
  /** The MPASP's last status, opened and checked by the SDK. */
  readonly status?: MacroPaymentStatusContent;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function readDevice(): Promise<MacroDeviceRecord | undefined> {
  return readValue<MacroDeviceRecord>(deviceKey);
}

export function writeDevice(device: MacroDeviceRecord): Promise<void> {
  return writeValue(deviceKey, device);
}

export function readRegistration(): Promise<MacroRegistrationRecord | undefined> {
  return readValue<MacroRegistrationRecord>(registrationKey);
}

export function writeRegistration(registration: MacroRegistrationRecord): Promise<void> {
  return writeValue(registrationKey, registration);
}

export function writePayment(payment: MacroPaymentRecord): Promise<void> {
  return writeValue(`${paymentPrefix}${payment.transactionId}`, payment);
}

export function readPayment(transactionId: string): Promise<MacroPaymentRecord | undefined> {
  return readValue<MacroPaymentRecord>(`${paymentPrefix}${transactionId}`);
}

/** Every payment this device asked for, newest first. */
export async function readPayments(): Promise<MacroPaymentRecord[]> {
  const keys = await keysWith(paymentPrefix);
  const records = await Promise.all(keys.map((key) => readValue<MacroPaymentRecord>(key)));
  return records
    .filter((record): record is MacroPaymentRecord => record !== undefined)
    .sort((left, right) => right.createdAt.localeCompare(left.createdAt));
}
