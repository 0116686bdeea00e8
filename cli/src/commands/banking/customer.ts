import { join } from 'node:path';
import { isMpayError, MpayError, parsePartyId } from '@mpay/protocol';
import {
  BankingClient,
  type BankingCodePrompt,
  BankingKeyManager,
  type BankingKeyState,
  fetchBankTrust,
} from '@mpay/sdk';
import { readDeployment } from '../deployment.ts';
import { logPolicyOf } from '../evidence.ts';
import type { CommandIo } from '../io.ts';
import { smsDirOf } from '../sms.ts';
import type { BankingCommand } from './arguments.ts';
import {
  DeviceFileKeyStore,
  devicePathOf,
  readDeviceFile,
  readSessionFile,
  removeSessionFile,
  requireDevice,
  sessionPathOf,
  writeSecretFile,
  writeSessionFile,
} from './files.ts';
import {
  describeBalance,
  describeBillPayment,
  describeDevices,
  describeNotices,
  describeStatement,
  describeTransfer,
  jsonText,
  maskedDigits,
  printable,
} from './format.ts';
import { generatedDeviceId, generatedPhoneId, generatedSimSerial } from './identifiers.ts';
import { type BankingTerminal, passwordOf } from './prompt.ts';
import { verifyCommandOf, writeReceipts } from './receipts.ts';
import { awaitSms, loginCodeOf, loginCodeWaitMs, smsSnapshot } from './sms.ts';

/**
 * The customer's side of `mpay banking`: the CLI plays the phone. Its keys
 * are generated here and kept in the device file (mode 0600); the session a
 * login opens is kept in the session file for the next commands. Each
 * request is the SDK's E(S(msg, ID_C)), answered by the bank's signed, sealed
 * answer.
 */

export interface CustomerRun {
  readonly dataDir: string;
  readonly io: CommandIo;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly terminal: BankingTerminal;
}

type CustomerCommand = Extract<
  BankingCommand,
  {
    name:
      | 'enrol'
      | 'login'
      | 'balance'
      | 'transfer'
      | 'pay-bill'
      | 'statement'
      | 'devices'
      | 'revoke'
      | 'renew';
  }
>;

async function bankUrlOf(dataDir: string, bankId: string): Promise<string> {
  const deployment = await readDeployment(dataDir);
  const bank = deployment.banks.find((candidate) => candidate.id === bankId);
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN', `${bankId} is not a bank of this platform`);
  return bank.url;
}

/** The device of `userId` as the SDK's client, its keys in the device file. */
async function deviceClient(run: CustomerRun, userId: string) {
  const device = await requireDevice(run.dataDir, userId);
  const keys = new BankingKeyManager(new DeviceFileKeyStore(run.dataDir, userId, device.msisdn));
  const client = new BankingClient({ bankUrl: await bankUrlOf(run.dataDir, device.keys.bankId), keys });
  return { device, keys, client };
}

/**
 * Runs `action` in the saved session of `userId`. A session the bank ended
 * (BANKING_SESSION_INVALID) is removed here too; so is one the action ended
 * (this device revoked, its key renewed).
 */
async function inSession<T>(
  run: CustomerRun,
  userId: string,
  action: (client: BankingClient, state: BankingKeyState) => Promise<T>,
): Promise<T> {
  const { device, client } = await deviceClient(run, userId);
  const saved = await readSessionFile(run.dataDir, userId);
  if (saved === undefined)
    throw new MpayError('BANKING_SESSION_INVALID', `${userId} is not logged in on this device`);
  let resumed = false;
  try {
    await client.resumeSession(saved);
    resumed = true;
    const result = await action(client, device.keys);
    if (client.session() === undefined) await removeSessionFile(run.dataDir, userId);
    return result;
  } catch (error) {
    // Gone at the bank, or ended here by the SDK; an unreachable bank leaves the session as it was.
    if (isMpayError(error, 'BANKING_SESSION_INVALID') || (resumed && client.session() === undefined))
      await removeSessionFile(run.dataDir, userId);
    throw error;
  }
}

function out(run: CustomerRun, text: string): void {
  run.io.stdout(text);
}

// ─── enrol ────────────────────────────────────────────────────────────────

async function enrol(
  run: CustomerRun,
  command: Extract<CustomerCommand, { name: 'enrol' }>,
): Promise<number> {
  const existing = await readDeviceFile(run.dataDir, command.userId);
  if (existing !== undefined)
    throw new MpayError(
      'REQUEST_INVALID',
      `${devicePathOf(run.dataDir, command.userId)} exists: this data folder has a device of ${command.userId} already`,
    );
  const party = parsePartyId(command.partyId);
  if (party.kind !== 'person' && party.kind !== 'merchant') throw new MpayError('PARTY_ID_INVALID', 'PARTY');
  // Asked first: nothing is enrolled for a customer who then cannot give a password.
  const password = await passwordOf(run.env, run.terminal, { choosing: true });
  const bankUrl = await bankUrlOf(run.dataDir, party.bank);
  const bank = await fetchBankTrust(bankUrl);
  const deviceId = command.deviceId ?? generatedDeviceId(command.userId);
  const enrolled = await BankingKeyManager.enrol({
    invitation: { bankUrl, bankId: bank.id, partyId: command.partyId, code: command.code },
    deviceId,
    bank,
    store: new DeviceFileKeyStore(run.dataDir, command.userId, command.msisdn),
  });
  if (enrolled.authenticator !== undefined)
    await writeSecretFile(
      join(run.dataDir, 'banking', 'devices', `${command.userId}.authenticator.json`),
      `${JSON.stringify({ authenticator: enrolled.authenticator }, null, 2)}\n`,
    );
  const current = enrolled.state.current;
  const accountId = command.accountId ?? current.accounts[0];
  if (accountId === undefined) throw new Error('assertion failed: a binding names an account');
  const client = new BankingClient({ bankUrl, keys: enrolled.manager, bank });
  const registered = await client.registerDevice(
    { sim: command.sim ?? generatedSimSerial(), phoneId: command.phoneId ?? generatedPhoneId(), accountId },
    command.userId,
  );
  let passwordOutcome: 'registered' | 'exists';
  try {
    await client.registerPassword(command.userId, password);
    passwordOutcome = 'registered';
  } catch (error) {
    // A customer's second device: the password is the customer's, registered with the first.
    if (!isMpayError(error, 'BANKING_PASSWORD_EXISTS')) throw error;
    passwordOutcome = 'exists';
  }
  if (command.json) {
    out(
      run,
      jsonText({
        userId: command.userId,
        partyId: registered.partyId,
        bank: bank.id,
        deviceId,
        serial: registered.serial,
        notAfter: current.notAfter,
        clientId: registered.clientId,
        password: passwordOutcome,
        deviceFile: devicePathOf(run.dataDir, command.userId),
      }),
    );
    return 0;
  }
  const { clientId } = registered;
  out(
    run,
    [
      `enrolled device ${deviceId} of ${registered.partyId} at ${bank.id}: key binding ${registered.serial}, valid until ${current.notAfter}`,
      '  the key pairs were generated here; only the public keys were sent, with a proof signed by the new key',
      `registered for mobile banking as ${command.userId}: ID_C = SIM ${maskedDigits(clientId.sim)} / IMEI ${maskedDigits(clientId.phoneId)} / account ${clientId.accountId}`,
      passwordOutcome === 'registered'
        ? '  password registered by OPAQUE: the bank keeps a record that tests no guess on its own, never the password'
        : `  a password of ${command.userId} is registered already (another device): this device logs in with it`,
      `keys in ${devicePathOf(run.dataDir, command.userId)} (mode 0600: the private keys)`,
      `next: npx mpay banking login --user ${command.userId} --code-from-sms`,
      '',
    ].join('\n'),
  );
  return 0;
}

// ─── login ────────────────────────────────────────────────────────────────

/** How the code of the SMS reaches the login: from the platform's SMS inbox, or typed at the terminal. */
async function codeReaderOf(
  run: CustomerRun,
  command: Extract<CustomerCommand, { name: 'login' }>,
  msisdn: string,
  bankId: string,
): Promise<(prompt: BankingCodePrompt) => Promise<string>> {
  if (command.codeFromSms) {
    const smsDir = smsDirOf(run.dataDir);
    const seen = new Set(await smsSnapshot(smsDir, msisdn));
    return async () => {
      const { sms, value } = await awaitSms(
        { smsDir, msisdn, seen, what: `login code SMS from ${bankId}`, deadlineMs: loginCodeWaitMs },
        (candidate) => loginCodeOf(candidate.text, bankId),
      );
      // A code that was refused is not taken again.
      seen.add(sms.id);
      if (!command.json)
        out(run, `  the code arrived by SMS at ${sms.receivedAt} (npx mpay sms ${msisdn})\n`);
      return value;
    };
  }
  if (!run.terminal.interactive)
    throw new MpayError(
      'REQUEST_INVALID',
      'no way to read the SMS code: run on a terminal to type it, or give --code-from-sms',
    );
  return (prompt) =>
    run.terminal.ask(
      `Code sent by SMS to ${prompt.codeSentTo} (good until ${prompt.codeExpiresAt})${prompt.attempt > 1 ? `, try ${prompt.attempt}` : ''}: `,
    );
}

async function login(
  run: CustomerRun,
  command: Extract<CustomerCommand, { name: 'login' }>,
): Promise<number> {
  const { device, client } = await deviceClient(run, command.userId);
  const readCode = await codeReaderOf(run, command, device.msisdn, device.keys.bankId);
  const password = await passwordOf(run.env, run.terminal, { choosing: false });
  await removeSessionFile(run.dataDir, command.userId);
  const session = await client.login({ userId: command.userId, password, msisdn: device.msisdn, readCode });
  const exported = client.exportSession();
  if (exported === undefined) throw new Error('assertion failed: a login leaves a session');
  await writeSessionFile(run.dataDir, command.userId, exported);
  if (command.json) {
    out(run, jsonText(session));
    return 0;
  }
  out(
    run,
    [
      `logged in as ${command.userId} (${session.partyId}) at ${device.keys.bankId}: session ${session.sessionId} until ${session.expiresAt}`,
      `  factors: the password (OPAQUE), this device's signature (key ${session.serial}, ID_C), the phone number ${device.msisdn}, the SMS code`,
      `  session key derived from ECDH P-256 and the OPAQUE session key; kept in ${sessionPathOf(run.dataDir, command.userId)} (mode 0600)`,
      '',
    ].join('\n'),
  );
  return 0;
}

// ─── requests ─────────────────────────────────────────────────────────────

async function statement(
  run: CustomerRun,
  command: Extract<CustomerCommand, { name: 'statement' }>,
): Promise<number> {
  const page = await inSession(run, command.userId, (client) =>
    client.statement(command.cursor === undefined ? {} : { cursor: command.cursor }),
  );
  const written =
    command.receiptsDir === undefined ? [] : await writeReceipts(command.receiptsDir, page.lines);
  if (command.json) {
    out(run, jsonText({ ...page, receiptsWritten: written }));
    return 0;
  }
  out(run, describeStatement(page));
  if (command.receiptsDir !== undefined) {
    if (written.length === 0) out(run, `no line of this page has a log receipt yet: nothing written\n`);
    else {
      const { keyFiles } = await logPolicyOf(run.dataDir).catch(() => ({
        keyFiles: [join(run.dataDir, 'keys', 'log.vkey'), join(run.dataDir, 'keys', 'log-witness.vkey')],
      }));
      out(
        run,
        `wrote ${written.length} log receipt(s); each is checked offline with the public keys only:\n`,
      );
      for (const receipt of written) out(run, `  ${verifyCommandOf(receipt.path, keyFiles)}\n`);
    }
  }
  return 0;
}

async function renew(
  run: CustomerRun,
  command: Extract<CustomerCommand, { name: 'renew' }>,
): Promise<number> {
  const renewed = await inSession(run, command.userId, async (client, state) => {
    const notices = (await client.renewalNotices()).filter(
      (notice) => notice.serial === state.current.serial,
    );
    const notice = notices[0];
    if (notice === undefined) return undefined;
    const next = await client.renewKey(notice.noticeId);
    return { notice, from: state.current.serial, next };
  });
  if (renewed === undefined) {
    if (command.json) out(run, jsonText({ renewed: false }));
    else out(run, 'no open renewal notice for this device: its key stays as it is\n');
    return 0;
  }
  if (command.json) {
    out(
      run,
      jsonText({
        renewed: true,
        noticeId: renewed.notice.noticeId,
        renewedFrom: renewed.from,
        serial: renewed.next.current.serial,
        notAfter: renewed.next.current.notAfter,
      }),
    );
    return 0;
  }
  out(
    run,
    [
      describeNotices([renewed.notice]).trimEnd(),
      `renewed: new key binding ${renewed.next.current.serial} (valid until ${renewed.next.current.notAfter}) replaces ${renewed.from}`,
      '  the new pair was generated here and saved before the request; the request was signed by the old key, the proof by the new one',
      `  the bank revoked the old key and closed its sessions: log in again (npx mpay banking login --user ${command.userId})`,
      '',
    ].join('\n'),
  );
  return 0;
}

export async function runCustomerCommand(run: CustomerRun, command: CustomerCommand): Promise<number> {
  switch (command.name) {
    case 'enrol':
      return enrol(run, command);
    case 'login':
      return login(run, command);
    case 'balance': {
      const balance = await inSession(run, command.userId, (client) => client.balance());
      out(run, command.json ? jsonText(balance) : describeBalance(balance));
      return 0;
    }
    case 'transfer': {
      const transfer = await inSession(run, command.userId, (client) =>
        client.transfer({
          payeeId: command.payeeId,
          amount: command.amount.minor,
          currency: command.amount.currency,
          reference: command.reference,
        }),
      );
      out(run, command.json ? jsonText(transfer) : describeTransfer(transfer));
      return transfer.state === 'refused' ? 1 : 0;
    }
    case 'pay-bill': {
      const payment = await inSession(run, command.userId, (client) =>
        client.payBill({
          billerId: command.billerId,
          customerReference: command.customerReference,
          amount: command.amount.minor,
          currency: command.amount.currency,
        }),
      );
      out(run, command.json ? jsonText(payment) : describeBillPayment(payment));
      return payment.state === 'refused' ? 1 : 0;
    }
    case 'statement':
      return statement(run, command);
    case 'devices': {
      const devices = await inSession(run, command.userId, (client) => client.devices());
      out(run, command.json ? jsonText({ devices }) : describeDevices(devices));
      return 0;
    }
    case 'revoke': {
      const revocation = await inSession(run, command.userId, (client) =>
        client.revokeDevice(command.serial, command.reason),
      );
      out(
        run,
        command.json
          ? jsonText(revocation)
          : `revoked key ${printable(revocation.serial)} at ${printable(revocation.revokedAt)} (${command.reason}); its sessions are closed and it can no longer log in or sign\n`,
      );
      return 0;
    }
    case 'renew':
      return renew(run, command);
  }
}
