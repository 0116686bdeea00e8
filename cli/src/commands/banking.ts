import { resolve } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { demoParties } from '../platform/seed.ts';
import { type BankingCommand, parseBankingArguments } from './banking/arguments.ts';
import { type CustomerRun, runCustomerCommand } from './banking/customer.ts';
import { type BankingErrorContext, describeBankingError } from './banking/errors.ts';
import { jsonText } from './banking/format.ts';
import { runOperatorCommand } from './banking/operator.ts';
import { type BankingTerminal, passwordVariable, processTerminal } from './banking/prompt.ts';
import type { CommandIo } from './io.ts';

export const bankingUsage = `mpay banking — SA2pMP mobile banking (seed 003): a customer's phone, and the bank's operator

The bank's operator (requests signed with <data>/keys/BANK-operator.json):
  mpay banking customer add PARTY --user USERID --msisdn +E164 [--account ID[,ID]] [--bank B]
      enables PARTY for mobile banking (login codes go to the MSISDN) and prints a one-time
      enrolment code for its device, naming the party's customer account(s) (--account; the
      seeded customers' own by default); BANK is the bank in PARTY's id unless given
  mpay banking code PARTY [--account ID[,ID]] [--bank B]   another enrolment code (a new phone)
  mpay banking biller add ID --name NAME --payee PARTY [--bank B]   a biller (default bank xbank)
  mpay banking notice SERIAL [--reason TEXT] [--bank B]   asks that device to renew its key (SMS)
  mpay banking unblock PARTY [--bank B]    lifts the block after too many failed logins

The customer's device (--user USERID selects it):
  mpay banking enrol --user U --party PARTY --code CODE --msisdn +E164
                     [--sim ICCID] [--phone-id IMEI] [--account ID] [--device-id ID]
      generates the device's key pairs here (only the public keys go to the bank), enrols
      them with the operator's code, registers ID_C (SIM + IMEI + account; made-up valid
      ones unless given) and the password (OPAQUE). Keys in <data>/banking/devices/U.json,
      mode 0600: it holds the PRIVATE KEYS
  mpay banking login --user U [--code-from-sms]
      every factor: the password (OPAQUE), the device's signature with ID_C, the phone
      number, and the code the bank texts: typed at the terminal, or with --code-from-sms
      read from the platform's SMS inbox (<data>/sms, as \`mpay sms\` shows it). The session
      and its key go to <data>/banking/sessions/U.json (mode 0600)
  mpay banking balance --user U
  mpay banking transfer PAYEE AMOUNT --user U [--reference TEXT] [--currency EUR]
      AMOUNT like 12.50; a payee at another bank is paid through the interbank path
  mpay banking pay-bill BILLER REFERENCE AMOUNT --user U [--currency EUR]
  mpay banking statement --user U [--cursor C] [--receipts DIR]
      newest first; --receipts writes each banking line's log receipt to DIR, for
      \`mpay log verify FILE --log-key <data>/keys/log.vkey --witness-key <data>/keys/log-witness.vkey\`
  mpay banking devices --user U            the customer's devices, this one marked
  mpay banking revoke SERIAL --user U [--reason lost|stolen|replaced]
  mpay banking renew --user U              answers this device's open renewal notice: a new
                                           key pair, the request signed by the old key

Every command takes --data DIR and --json (the result, or {"error": …}, as JSON on stdout).
The password comes from ${passwordVariable}, else it is asked without echo on a terminal.
Exit 0 on success, 1 when the bank refused (its stable code and what to do are printed), 2 on a usage error.
`;

/** The customer accounts of the parties the platform seeds: `customer add` of one of them needs no --account. */
const seededAccounts: ReadonlyMap<string, string> = new Map([
  [demoParties.customer.id, demoParties.customer.account],
  [demoParties.custodyCustomer.id, demoParties.custodyCustomer.account],
]);

export interface BankingCommandOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly terminal?: BankingTerminal;
}

function errorContextOf(command: BankingCommand): BankingErrorContext {
  return {
    userId: 'userId' in command ? command.userId : undefined,
    partyId: 'partyId' in command ? command.partyId : undefined,
    bank: 'bank' in command ? command.bank : undefined,
  };
}

/** `mpay banking …`: parses, runs, and turns the bank's refusals into their code and advice (exit 1). */
export async function runBankingCommand(
  args: readonly string[],
  io: CommandIo,
  options: BankingCommandOptions = {},
): Promise<number> {
  const parsed = parseBankingArguments(args, seededAccounts);
  if (parsed.problem !== undefined) {
    io.stderr(`mpay banking: ${parsed.problem}\n\n${bankingUsage}`);
    return 2;
  }
  const { command } = parsed;
  if (command.name === 'help') {
    io.stdout(bankingUsage);
    return 0;
  }
  const dataDir = resolve(command.data ?? process.env.MPAY_DATA_DIR ?? '.mpay');
  const run: CustomerRun = {
    dataDir,
    io,
    env: options.env ?? process.env,
    terminal: options.terminal ?? processTerminal,
  };
  try {
    switch (command.name) {
      case 'customer-add':
      case 'code':
      case 'biller-add':
      case 'notice':
      case 'unblock':
        return await runOperatorCommand(command, dataDir, io);
      default:
        return await runCustomerCommand(run, command);
    }
  } catch (error) {
    if (!isMpayError(error)) throw error;
    io.stderr(`mpay banking: ${describeBankingError(error.code, error.detail, errorContextOf(command))}\n`);
    if (command.json)
      io.stdout(jsonText({ error: { code: error.code, message: error.message, detail: error.detail } }));
    return 1;
  }
}
