import {
  type Amount,
  billerIdPattern,
  currencyExponent,
  customerReferencePattern,
  isBankingUserId,
  isMsisdn,
  isPhoneId,
  isSimSerial,
  isUuid,
  parseCurrencyCode,
  parseDecimalAmount,
  parsePartyId,
  type RevocationReason,
  revocationReasons,
} from '@mpay/protocol';

/**
 * `mpay banking …` read into one typed command, before anything touches the
 * disk or the network: pure, so that every refusal is tested. A problem is a
 * sentence for the person at the terminal (the command exits 2 with it and
 * the usage), never a stack.
 */

/** Flags every banking command takes. */
export interface BankingCommonOptions {
  /** `--data DIR` as given (resolved by the caller, like every command). */
  readonly data?: string | undefined;
  /** `--json`: the result as JSON on stdout, for scripts. */
  readonly json: boolean;
}

export type BankingCommand = BankingCommonOptions &
  (
    | { readonly name: 'help' }
    | {
        readonly name: 'customer-add';
        readonly partyId: string;
        readonly userId: string;
        readonly msisdn: string;
        /** The party's customer accounts the enrolment code names (`--account`, or the demo party's). */
        readonly accountIds: readonly string[];
        readonly bank: string;
      }
    | {
        /** Another one-time enrolment code for a customer's new device ("new phone"). */
        readonly name: 'code';
        readonly partyId: string;
        readonly accountIds: readonly string[];
        readonly bank: string;
      }
    | {
        readonly name: 'biller-add';
        readonly billerId: string;
        readonly billerName: string;
        readonly payeeId: string;
        readonly bank: string;
      }
    | { readonly name: 'notice'; readonly serial: string; readonly reason: string; readonly bank: string }
    | { readonly name: 'unblock'; readonly partyId: string; readonly bank: string }
    | {
        readonly name: 'enrol';
        readonly userId: string;
        readonly partyId: string;
        readonly code: string;
        /** The SIM's own number: the "phone number" factor of every login. */
        readonly msisdn: string;
        readonly sim?: string | undefined;
        readonly phoneId?: string | undefined;
        readonly accountId?: string | undefined;
        readonly deviceId?: string | undefined;
      }
    | {
        readonly name: 'login';
        readonly userId: string;
        readonly code?: string | undefined;
        readonly codeFromSms: boolean;
      }
    | { readonly name: 'balance'; readonly userId: string }
    | {
        readonly name: 'transfer';
        readonly userId: string;
        readonly payeeId: string;
        readonly amount: Amount;
        readonly reference: string;
      }
    | {
        readonly name: 'pay-bill';
        readonly userId: string;
        readonly billerId: string;
        readonly customerReference: string;
        readonly amount: Amount;
      }
    | {
        readonly name: 'statement';
        readonly userId: string;
        readonly cursor?: string | undefined;
        readonly receiptsDir?: string | undefined;
      }
    | { readonly name: 'devices'; readonly userId: string }
    | {
        readonly name: 'revoke';
        readonly userId: string;
        readonly serial: string;
        readonly reason: RevocationReason;
      }
    | { readonly name: 'renew'; readonly userId: string }
  );

export type BankingCommandName = BankingCommand['name'];

export type ParsedBankingArguments =
  | { readonly command: BankingCommand; readonly problem?: undefined }
  | { readonly command?: undefined; readonly problem: string };

/** The demo's bank of customers: where billers and notices go when `--bank` names none. */
export const defaultCustomerBank = 'xbank';
/** What a transfer's payee reads when `--reference` gives nothing. */
export const defaultTransferReference = 'mobile banking transfer';
export const defaultCurrency = 'EUR';

const bankIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
const serialPattern = /^[A-Za-z0-9_-]{1,64}$/;
const cursorPattern = /^[A-Za-z0-9_-]{1,128}$/;
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const enrolmentCodePattern = /^[A-Za-z0-9-]{1,64}$/;
const loginCodePattern = /^[0-9]{6,9}$/;
const noticeReasonLengthMax = 200;
const billerNameLengthMax = 100;
const referenceLengthMax = 140;
/** Accounts one enrolment code may name (the key binding's limit). */
const enrolmentAccountsMax = 8;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/** Flags that take a value; every other flag is a switch. */
const valueFlags = new Set([
  'data',
  'user',
  'party',
  'code',
  'msisdn',
  'sim',
  'phone-id',
  'account',
  'device-id',
  'bank',
  'name',
  'payee',
  'reason',
  'reference',
  'currency',
  'cursor',
  'receipts',
]);
const switchFlags = new Set(['json', 'code-from-sms', 'help']);

/** Which flags each command accepts besides --data and --json (anything else is a mistake worth saying). */
const allowedFlags: Readonly<Record<Exclude<BankingCommandName, 'help'>, readonly string[]>> = {
  'customer-add': ['user', 'msisdn', 'account', 'bank'],
  code: ['account', 'bank'],
  'biller-add': ['name', 'payee', 'bank'],
  notice: ['reason', 'bank'],
  unblock: ['bank'],
  enrol: ['user', 'party', 'code', 'msisdn', 'sim', 'phone-id', 'account', 'device-id'],
  login: ['user', 'code', 'code-from-sms'],
  balance: ['user'],
  transfer: ['user', 'reference', 'currency'],
  'pay-bill': ['user', 'currency'],
  statement: ['user', 'cursor', 'receipts'],
  devices: ['user'],
  revoke: ['user', 'reason'],
  renew: ['user'],
};

class ArgumentProblem extends Error {}

function problem(text: string): never {
  throw new ArgumentProblem(text);
}

/** `--name value`, `--name=value` and switches; a flag given twice is refused (which one would win?). */
export function splitBankingArguments(args: readonly string[]): {
  flags: Map<string, string>;
  positional: string[];
} {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (!arg.startsWith('--') || arg === '--') {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    if (flags.has(name)) problem(`--${name} is given twice`);
    if (switchFlags.has(name)) {
      if (equals >= 0) problem(`--${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    if (!valueFlags.has(name)) problem(`unknown option --${name}`);
    const value = equals < 0 ? args[index + 1] : arg.slice(equals + 1);
    if (value === undefined || (equals < 0 && value.startsWith('--'))) problem(`--${name} needs a value`);
    if (equals < 0) index += 1;
    flags.set(name, value);
  }
  return { flags, positional };
}

function required(flags: Map<string, string>, name: string, what: string): string {
  const value = flags.get(name);
  if (value === undefined || value === '') problem(`--${name} ${what} is required`);
  return value;
}

function userIdOf(flags: Map<string, string>): string {
  const userId = required(flags, 'user', 'USERID');
  if (!isBankingUserId(userId))
    problem(
      `--user ${shown(userId)} is not a user id: 3 to 64 of a-z 0-9 . _ -, starting with a letter or digit`,
    );
  return userId;
}

function partyIdOf(text: string, what: string): string {
  let parsed: ReturnType<typeof parsePartyId>;
  try {
    parsed = parsePartyId(text);
  } catch {
    problem(`${what} ${shown(text)} is not a party id (name@person.bank or name@merchant.bank)`);
  }
  if (parsed.kind !== 'person' && parsed.kind !== 'merchant')
    problem(`${what} ${shown(text)} must be a person or a merchant (name@person.bank)`);
  return parsed.id;
}

function bankOfParty(partyId: string): string {
  const parsed = parsePartyId(partyId);
  if (parsed.kind !== 'person' && parsed.kind !== 'merchant')
    throw new Error('assertion failed: a customer party names its bank');
  return parsed.bank;
}

function bankOf(flags: Map<string, string>, fallback: string): string {
  const bank = flags.get('bank') ?? fallback;
  if (!bankIdPattern.test(bank)) problem(`--bank ${shown(bank)} is not a bank id`);
  return bank;
}

function msisdnOf(flags: Map<string, string>): string {
  const msisdn = required(flags, 'msisdn', '+E164');
  if (!isMsisdn(msisdn)) problem(`--msisdn ${shown(msisdn)} is not an MSISDN in E.164 form (+38970123456)`);
  return msisdn;
}

function serialOf(text: string | undefined, what: string): string {
  if (text === undefined) problem(`${what} is required`);
  if (!serialPattern.test(text)) problem(`${what} ${shown(text)} is not a key binding serial`);
  return text;
}

/** A value for an error message: bounded and without terminal controls. */
function shown(text: string): string {
  const clean = text.replace(new RegExp(controlCharacters.source, 'g'), '\uFFFD');
  return JSON.stringify(clean.length > 64 ? `${clean.slice(0, 64)}…` : clean);
}

function plainText(text: string, what: string, lengthMax: number): string {
  if (text.trim() !== text || text.length === 0 || text.length > lengthMax || controlCharacters.test(text))
    problem(`${what} must be 1 to ${lengthMax} characters, no control characters, no spaces around`);
  return text;
}

/**
 * What a person types ('12', '12.5', '12.50') as an amount of the currency:
 * at most the currency's decimals, more than zero. `--currency` names the
 * currency (EUR by default).
 */
export function typedBankingAmount(text: string, currencyText: string = defaultCurrency): Amount {
  let currency: ReturnType<typeof parseCurrencyCode>;
  try {
    currency = parseCurrencyCode(currencyText);
  } catch {
    problem(`--currency ${shown(currencyText)} is not an ISO 4217 code this platform knows`);
  }
  const exponent = currencyExponent(currency);
  const match = /^([0-9]{1,15})(?:\.([0-9]*))?$/.exec(text);
  const fraction = match?.[2] ?? '';
  if (match === null || fraction.length > exponent)
    problem(
      `AMOUNT ${shown(text)} is not an amount of ${currency}: digits${exponent === 0 ? '' : `, a point and at most ${exponent} decimals`} (12.50)`,
    );
  const whole = match[1]!.replace(/^0+(?=[0-9])/, '');
  const canonical = exponent === 0 ? whole : `${whole}.${fraction.padEnd(exponent, '0')}`;
  let amount: Amount;
  try {
    amount = parseDecimalAmount(canonical, currency, 'AMOUNT');
  } catch {
    problem(`AMOUNT ${shown(text)} is too large`);
  }
  if (amount.minor <= 0n) problem('AMOUNT must be more than zero');
  return amount;
}

function positionalCount(positional: readonly string[], count: number, form: string): void {
  if (positional.length !== count)
    problem(
      positional.length < count
        ? `expected ${form}`
        : `unexpected ${shown(positional[count] ?? '')}: expected ${form}`,
    );
}

function checkFlags(name: Exclude<BankingCommandName, 'help'>, flags: Map<string, string>): void {
  const allowed = new Set(['data', 'json', ...allowedFlags[name]]);
  for (const flag of flags.keys())
    if (!allowed.has(flag)) problem(`${commandWords(name)} takes no --${flag}`);
}

function commandWords(name: Exclude<BankingCommandName, 'help'>): string {
  if (name === 'customer-add') return 'customer add';
  if (name === 'biller-add') return 'biller add';
  return name;
}

function accountIdsOf(flags: Map<string, string>, partyId: string, known: ReadonlyMap<string, string>) {
  const given = flags.get('account');
  if (given === undefined) {
    const account = known.get(partyId);
    if (account === undefined)
      problem(`--account ID is required: the party's customer account(s) the enrolment code names`);
    return [account];
  }
  const accountIds = given.split(',');
  if (accountIds.length > enrolmentAccountsMax)
    problem(`--account names at most ${enrolmentAccountsMax} accounts`);
  for (const account of accountIds)
    if (!isUuid(account)) problem(`--account ${shown(account)} is not an account id (a lowercase UUID)`);
  if (new Set(accountIds).size !== accountIds.length) problem('--account names an account twice');
  return accountIds;
}

function parseCommand(
  words: readonly string[],
  flags: Map<string, string>,
  known: ReadonlyMap<string, string>,
): BankingCommand {
  const [first, second, ...rest] = words;
  const common = { data: flags.get('data'), json: flags.has('json') };
  switch (first) {
    case 'customer': {
      if (second !== 'add') problem('expected `customer add PARTY`');
      checkFlags('customer-add', flags);
      positionalCount(rest, 1, 'customer add PARTY');
      const partyId = partyIdOf(rest[0]!, 'PARTY');
      return {
        ...common,
        name: 'customer-add',
        partyId,
        userId: userIdOf(flags),
        msisdn: msisdnOf(flags),
        accountIds: accountIdsOf(flags, partyId, known),
        bank: bankOf(flags, bankOfParty(partyId)),
      };
    }
    case 'code': {
      checkFlags('code', flags);
      positionalCount(words.slice(1), 1, 'code PARTY');
      const partyId = partyIdOf(second!, 'PARTY');
      return {
        ...common,
        name: 'code',
        partyId,
        accountIds: accountIdsOf(flags, partyId, known),
        bank: bankOf(flags, bankOfParty(partyId)),
      };
    }
    case 'biller': {
      if (second !== 'add') problem('expected `biller add ID`');
      checkFlags('biller-add', flags);
      positionalCount(rest, 1, 'biller add ID');
      const billerId = rest[0]!;
      if (!billerIdPattern.test(billerId))
        problem(`biller id ${shown(billerId)}: 2 to 32 of a-z 0-9 -, starting with a letter or digit`);
      return {
        ...common,
        name: 'biller-add',
        billerId,
        billerName: plainText(required(flags, 'name', 'NAME'), '--name', billerNameLengthMax),
        payeeId: partyIdOf(required(flags, 'payee', 'PARTY'), '--payee'),
        bank: bankOf(flags, defaultCustomerBank),
      };
    }
    case 'notice': {
      checkFlags('notice', flags);
      positionalCount(words.slice(1), 1, 'notice SERIAL');
      return {
        ...common,
        name: 'notice',
        serial: serialOf(second, 'SERIAL'),
        reason: plainText(
          flags.get('reason') ?? 'key renewal requested by the bank',
          '--reason',
          noticeReasonLengthMax,
        ),
        bank: bankOf(flags, defaultCustomerBank),
      };
    }
    case 'unblock': {
      checkFlags('unblock', flags);
      positionalCount(words.slice(1), 1, 'unblock PARTY');
      const partyId = partyIdOf(second!, 'PARTY');
      return { ...common, name: 'unblock', partyId, bank: bankOf(flags, bankOfParty(partyId)) };
    }
    case 'enrol': {
      checkFlags('enrol', flags);
      positionalCount(words.slice(1), 0, 'enrol with flags only');
      const code = required(flags, 'code', 'CODE');
      if (!enrolmentCodePattern.test(code)) problem('--code is not an enrolment code');
      const sim = flags.get('sim');
      if (sim !== undefined && !isSimSerial(sim))
        problem(`--sim ${shown(sim)} is not an ICCID: 89 then 16 to 18 digits, the last a Luhn check digit`);
      const phoneId = flags.get('phone-id');
      if (phoneId !== undefined && !isPhoneId(phoneId))
        problem(`--phone-id ${shown(phoneId)} is not an IMEI: 15 digits, the last a Luhn check digit`);
      const accountId = flags.get('account');
      if (accountId !== undefined && !isUuid(accountId))
        problem(`--account ${shown(accountId)} is not an account id (a lowercase UUID)`);
      const deviceId = flags.get('device-id');
      if (deviceId !== undefined && !deviceIdPattern.test(deviceId))
        problem(`--device-id ${shown(deviceId)}: 1 to 64 of A-Z a-z 0-9 _ -`);
      return {
        ...common,
        name: 'enrol',
        userId: userIdOf(flags),
        partyId: partyIdOf(required(flags, 'party', 'PARTY'), '--party'),
        code,
        msisdn: msisdnOf(flags),
        sim,
        phoneId,
        accountId,
        deviceId,
      };
    }
    case 'login': {
      checkFlags('login', flags);
      positionalCount(words.slice(1), 0, 'login with flags only');
      const code = flags.get('code');
      if (code !== undefined && !loginCodePattern.test(code))
        problem('--code must be the 6 to 9 digits the SMS gave');
      if (code !== undefined && flags.has('code-from-sms'))
        problem('give --code or --code-from-sms, not both');
      return {
        ...common,
        name: 'login',
        userId: userIdOf(flags),
        code,
        codeFromSms: flags.has('code-from-sms'),
      };
    }
    case 'balance':
    case 'devices':
    case 'renew': {
      checkFlags(first, flags);
      positionalCount(words.slice(1), 0, first);
      return { ...common, name: first, userId: userIdOf(flags) };
    }
    case 'transfer': {
      checkFlags('transfer', flags);
      positionalCount(words.slice(1), 2, 'transfer PAYEE AMOUNT');
      return {
        ...common,
        name: 'transfer',
        userId: userIdOf(flags),
        payeeId: partyIdOf(second!, 'PAYEE'),
        amount: typedBankingAmount(rest[0]!, flags.get('currency')),
        reference: plainText(
          flags.get('reference') ?? defaultTransferReference,
          '--reference',
          referenceLengthMax,
        ),
      };
    }
    case 'pay-bill': {
      checkFlags('pay-bill', flags);
      positionalCount(words.slice(1), 3, 'pay-bill BILLER REFERENCE AMOUNT');
      const billerId = second!;
      if (!billerIdPattern.test(billerId)) problem(`BILLER ${shown(billerId)} is not a biller id`);
      const customerReference = rest[0]!;
      if (!customerReferencePattern.test(customerReference))
        problem(
          `REFERENCE ${shown(customerReference)}: 2 to 35 of A-Z a-z 0-9 space . / -, starting and ending with a letter or digit`,
        );
      return {
        ...common,
        name: 'pay-bill',
        userId: userIdOf(flags),
        billerId,
        customerReference,
        amount: typedBankingAmount(rest[1]!, flags.get('currency')),
      };
    }
    case 'statement': {
      checkFlags('statement', flags);
      positionalCount(words.slice(1), 0, 'statement');
      const cursor = flags.get('cursor');
      if (cursor !== undefined && !cursorPattern.test(cursor)) problem('--cursor is not a statement cursor');
      const receiptsDir = flags.get('receipts');
      if (receiptsDir === '') problem('--receipts needs a folder');
      return { ...common, name: 'statement', userId: userIdOf(flags), cursor, receiptsDir };
    }
    case 'revoke': {
      checkFlags('revoke', flags);
      positionalCount(words.slice(1), 1, 'revoke SERIAL');
      const reason = flags.get('reason') ?? 'lost';
      if (!(revocationReasons as readonly string[]).includes(reason))
        problem(`--reason must be ${revocationReasons.join(', ')}`);
      return {
        ...common,
        name: 'revoke',
        userId: userIdOf(flags),
        serial: serialOf(second, 'SERIAL'),
        reason: reason as RevocationReason,
      };
    }
    default:
      return problem(first === undefined ? 'expected a command' : `unknown command ${shown(first)}`);
  }
}

/**
 * `args` (what follows `mpay banking`) as one command, or the problem with
 * them. `knownAccounts` gives the customer account of a party the platform
 * seeded (so `customer add` of the demo customer needs no --account).
 */
export function parseBankingArguments(
  args: readonly string[],
  knownAccounts: ReadonlyMap<string, string> = new Map(),
): ParsedBankingArguments {
  try {
    const { flags, positional } = splitBankingArguments(args);
    const [first] = positional;
    if (first === undefined || first === 'help' || flags.has('help'))
      return { command: { name: 'help', data: flags.get('data'), json: false } };
    return { command: parseCommand(positional, flags, knownAccounts) };
  } catch (error) {
    if (error instanceof ArgumentProblem) return { problem: error.message };
    throw error;
  }
}
