import { MpayError } from '../errors/index.ts';
import { readObject } from '../ims/json-object.ts';

/**
 * SA2pMP's client identifier (§4.2): "we combine the SIM (Subscriber
 * Identifier Module Number), PHID (mobile phone serial number, or PHone
 * IDentifier), and ACCID (user's bank account number, or ACCount IDentifier)
 * as the identifier ID_C (client ID), then sign this together with the
 * message" (Equation 1: Client → Bank : E(S(msg, ID_C))).
 *
 * - `sim`: the SIM's ICCID (ITU-T E.118): 18 to 20 digits, with its Luhn check digit.
 * - `phoneId`: the handset's IMEI (3GPP TS 23.003): 15 digits, with its Luhn check digit.
 * - `accountId`: the bank account the device works with: one of the accounts its key binding names.
 *
 * The bank records sim and phoneId of a device when it is registered for
 * banking; every request's ID_C must name exactly them and an account the
 * device's binding names, so a request signed on one phone cannot be
 * presented as another's.
 */
export interface BankingClientId {
  readonly sim: string;
  readonly phoneId: string;
  readonly accountId: string;
}

const simPattern = /^89[0-9]{16,18}$/;
const imeiPattern = /^[0-9]{15}$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The Luhn (ISO/IEC 7812-1) check over a digit string whose last digit is the check digit. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (digit < 0 || digit > 9) return false;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length > 1 && sum % 10 === 0;
}

/** The check digit that makes `body + digit` pass the Luhn check (to make test identifiers). */
export function luhnCheckDigit(body: string): string {
  for (let digit = 0; digit < 10; digit += 1) {
    if (luhnValid(`${body}${digit}`)) return String(digit);
  }
  throw new Error('assertion failed: one Luhn digit fits');
}

export function isSimSerial(value: unknown): value is string {
  return typeof value === 'string' && simPattern.test(value) && luhnValid(value);
}

export function isPhoneId(value: unknown): value is string {
  return typeof value === 'string' && imeiPattern.test(value) && luhnValid(value);
}

/** The strict form: exactly `{ sim, phoneId, accountId }`, each checked. MESSAGE_INVALID naming the field otherwise. */
export function parseBankingClientId(value: unknown, path: string): BankingClientId {
  const record = readObject(value, path, ['sim', 'phoneId', 'accountId']);
  if (!isSimSerial(record.sim)) throw new MpayError('MESSAGE_INVALID', `${path}.sim`);
  if (!isPhoneId(record.phoneId)) throw new MpayError('MESSAGE_INVALID', `${path}.phoneId`);
  if (typeof record.accountId !== 'string' || !uuidPattern.test(record.accountId)) {
    throw new MpayError('MESSAGE_INVALID', `${path}.accountId`);
  }
  return { sim: record.sim, phoneId: record.phoneId, accountId: record.accountId };
}

/** ID_C as one text, `SIM/PHID/ACCID`: what logs and statements show. */
export function bankingClientIdText(id: BankingClientId): string {
  return `${id.sim}/${id.phoneId}/${id.accountId}`;
}

export function sameBankingClientId(left: BankingClientId, right: BankingClientId): boolean {
  return left.sim === right.sim && left.phoneId === right.phoneId && left.accountId === right.accountId;
}
