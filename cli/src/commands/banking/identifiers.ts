import { randomInt } from 'node:crypto';
import { isPhoneId, isSimSerial, luhnCheckDigit } from '@mpay/protocol';

/**
 * The SIM and handset identifiers of ID_C (SA2pMP §4.2: SIM, PHID) for a
 * device the CLI plays: a phone would read them from its SIM and its
 * firmware; here they are made up, well-formed (the bank checks their form
 * and Luhn digit), and kept in the device file so every later request names
 * the same ones.
 */

function digits(count: number): string {
  let text = '';
  for (let index = 0; index < count; index += 1) text += String(randomInt(10));
  return text;
}

/** An ICCID (ITU-T E.118): "89" (telecom), 17 more digits, and the Luhn check digit: 20 digits. */
export function generatedSimSerial(): string {
  const body = `89${digits(17)}`;
  const sim = `${body}${luhnCheckDigit(body)}`;
  if (!isSimSerial(sim)) throw new Error('assertion failed: a generated ICCID is well-formed');
  return sim;
}

/** An IMEI (3GPP TS 23.003): a type allocation code starting "35", serial digits, the Luhn check digit: 15 digits. */
export function generatedPhoneId(): string {
  const body = `35${digits(12)}`;
  const imei = `${body}${luhnCheckDigit(body)}`;
  if (!isPhoneId(imei)) throw new Error('assertion failed: a generated IMEI is well-formed');
  return imei;
}

/** The device's id at the bank's key depository (its key binding names it): `banking-<user>-<4 hex>`. */
export function generatedDeviceId(userId: string): string {
  const safe = userId.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40);
  return `banking-${safe}-${randomInt(0x10000).toString(16).padStart(4, '0')}`;
}
