import { MpayError } from '@mpay/protocol';
import { type OperatorClient, operatorClient, readDeployment } from '../deployment.ts';
import type { CommandIo } from '../io.ts';
import type { BankingCommand } from './arguments.ts';
import { jsonText, printable } from './format.ts';

/**
 * The bank operator's few banking commands, each a request signed with the
 * operator's key from `<data>/keys/<bank>-operator.json` (as every operator
 * command): enabling a customer (and the one-time enrolment code for the
 * device), registering a biller, sending a key renewal notice, lifting a
 * login block.
 */

type OperatorCommand = Extract<
  BankingCommand,
  { name: 'customer-add' | 'biller-add' | 'notice' | 'unblock' | 'code' }
>;

export async function bankOperatorOf(dataDir: string, bankId: string): Promise<OperatorClient> {
  const deployment = await readDeployment(dataDir);
  const bank = deployment.banks.find((candidate) => candidate.id === bankId);
  if (bank === undefined)
    throw new MpayError(
      'BANK_UNKNOWN',
      `${bankId} is not a bank of this platform (${deployment.banks.map((each) => each.id).join(', ')})`,
    );
  return operatorClient(dataDir, bank);
}

interface EnrolmentCode {
  readonly code: string;
  readonly expiresAt: string;
}

/** POST /enrolment-codes: the one-time code a device of `partyId` enrols with, naming the accounts its key may use. */
export async function issueEnrolmentCode(
  operator: OperatorClient,
  partyId: string,
  accountIds: readonly string[],
): Promise<EnrolmentCode> {
  const answer = await operator.post<{ code?: unknown; expiresAt?: unknown }>('/enrolment-codes', {
    partyId,
    accountIds,
  });
  if (typeof answer.code !== 'string' || typeof answer.expiresAt !== 'string')
    throw new MpayError('BANK_ANSWER_INVALID', '/enrolment-codes');
  return { code: answer.code, expiresAt: answer.expiresAt };
}

function enrolHint(command: { userId?: string; partyId: string; msisdn?: string }, code: string): string {
  return `  the device enrols with: npx mpay banking enrol --user ${command.userId ?? 'USERID'} --party ${command.partyId} --code ${code} --msisdn ${command.msisdn ?? '+E164'}\n`;
}

export async function runOperatorCommand(
  command: OperatorCommand,
  dataDir: string,
  io: CommandIo,
): Promise<number> {
  const operator = await bankOperatorOf(dataDir, command.bank);
  switch (command.name) {
    case 'customer-add': {
      const customer = await operator.post<{ partyId: string; userId: string; msisdn: string }>(
        '/banking/customers',
        { partyId: command.partyId, userId: command.userId, msisdn: command.msisdn },
      );
      const code = await issueEnrolmentCode(operator, command.partyId, command.accountIds);
      if (command.json) {
        io.stdout(jsonText({ customer, enrolment: { ...code, accountIds: command.accountIds } }));
        return 0;
      }
      io.stdout(
        [
          `${command.bank}: ${printable(customer.partyId)} may use mobile banking as user ${printable(customer.userId)}; login codes go to ${printable(customer.msisdn)}.`,
          `one-time enrolment code for a device of ${command.partyId} (account ${command.accountIds.join(', ')}): ${code.code}`,
          `  good until ${printable(code.expiresAt)}; give it to the customer only, out of band.`,
          '',
        ].join('\n') + enrolHint(command, code.code),
      );
      return 0;
    }
    case 'code': {
      const code = await issueEnrolmentCode(operator, command.partyId, command.accountIds);
      if (command.json) {
        io.stdout(jsonText({ partyId: command.partyId, accountIds: command.accountIds, ...code }));
        return 0;
      }
      io.stdout(
        `one-time enrolment code for a new device of ${command.partyId} (account ${command.accountIds.join(', ')}): ${code.code}\n  good until ${printable(code.expiresAt)}\n${enrolHint(command, code.code)}`,
      );
      return 0;
    }
    case 'biller-add': {
      const biller = await operator.post<{ id: string; name: string; payeeId: string }>('/banking/billers', {
        id: command.billerId,
        name: command.billerName,
        payeeId: command.payeeId,
      });
      if (command.json) io.stdout(jsonText(biller));
      else
        io.stdout(
          `${command.bank}: biller ${printable(biller.id)} "${printable(biller.name)}" registered; its bills are paid to ${printable(biller.payeeId)}.\n`,
        );
      return 0;
    }
    case 'notice': {
      const notice = await operator.post<{ noticeId: string; serial: string; state: string }>(
        '/banking/renewal-notices',
        { serial: command.serial, reason: command.reason },
      );
      if (command.json) io.stdout(jsonText(notice));
      else
        io.stdout(
          `${command.bank}: renewal notice ${printable(notice.noticeId)} for key ${printable(notice.serial)} (${printable(notice.state)}); the customer's registered number got an SMS (npx mpay sms).\n  the device answers with: npx mpay banking renew --user USERID (after logging in)\n`,
        );
      return 0;
    }
    case 'unblock': {
      const customer = await operator.post<{ userId?: string; failedLogins?: number; blocked?: boolean }>(
        `/banking/customers/${encodeURIComponent(command.partyId)}/unblock`,
        {},
      );
      if (command.json) io.stdout(jsonText(customer));
      else
        io.stdout(
          `${command.bank}: ${command.partyId}${customer.userId === undefined ? '' : ` (user ${printable(customer.userId)})`} unblocked; the count of failed logins starts again.\n`,
        );
      return 0;
    }
  }
}
