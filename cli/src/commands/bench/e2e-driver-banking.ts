/**
 * `mpay bench e2e --profile banking`: SA2pMP mobile banking (seed 003), the
 * customer's phone and xbank's mobile banking server. One payment: one
 * transfer request, E(S(msg, ID_C)): signed with the phone's bound key and
 * its client id, sealed under the session key, to a payee at the same bank;
 * the bank verifies, moves the money and answers signed and sealed
 * (completed), and records the transaction for the transparency log (its
 * log client submits it in the background, inside the servers' CPU). There
 * is no merchant: its traffic is zero.
 *
 * Registration (the parent, before the run, as `mpay demo banking` does):
 * the bank's operator opens and funds an account, enables mobile banking
 * (user id, phone number) and issues an enrolment code; the phone enrols its
 * keys, registers its client id (SIM, IMEI, account) and a password, and
 * logs in with every factor, the code read from the SMS the bank sent
 * through the platform's embedded SMS gateway. The session (with its key)
 * goes to the driver, which resumes it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  BankingClient,
  BankingKeyManager,
  type BankingKeyState,
  type BankingSessionState,
  fetchBankTrust,
  MemoryBankingKeyStore,
} from '@mpay/sdk';
import { demoParties } from '../../platform/seed.ts';
import { generatedPhoneId, generatedSimSerial } from '../banking/identifiers.ts';
import { awaitSms, loginCodeOf, loginCodeWaitMs, smsSnapshot } from '../banking/sms.ts';
import { type BenchTarget, bankOf, benchMsisdn, openFundedAccount } from './e2e-target.ts';
import {
  asParty,
  type DriverPayment,
  type DriverReport,
  measure,
  type PayingUnit,
  type SendToParent,
  startMeter,
} from './e2e-traffic.ts';

export interface BankingDriverDevice {
  readonly partyId: string;
  /** The phone's keys and registration (private keys as JWK: the driver rebuilds its store). */
  readonly keyState: BankingKeyState;
  /** The logged-in session, with its key. */
  readonly session: BankingSessionState;
}

export interface BankingDriverConfig extends DriverPayment {
  readonly profile: 'banking';
  readonly bankUrl: string;
  /** The one payee every transfer pays (an account at the same bank). */
  readonly payeeId: string;
  readonly devices: readonly BankingDriverDevice[];
}

/** The payee of the run's transfers: a new party with an account at the customers' bank. */
export async function openBankingPayee(target: BenchTarget): Promise<string> {
  const bank = bankOf(target, demoParties.bank.id);
  const payeeId = `bench.payee-${randomBytes(4).toString('hex')}@person.${bank.id}`;
  await bank.operator.post('/accounts', {
    id: randomUUID(),
    owner: payeeId,
    currency: demoParties.bank.currency,
    kind: 'customer',
  });
  return payeeId;
}

/** A mobile banking customer as a new one would be, logged in (see the file's comment). */
export async function registerBankingCustomer(
  target: BenchTarget,
  index: number,
  openingBalanceMinor: bigint,
): Promise<BankingDriverDevice> {
  const smsDir = target.smsDir;
  if (smsDir === undefined)
    throw new Error(
      "the banking profile reads the login code from the platform's embedded SMS gateway: unset MPAY_SMS_URL",
    );
  const bank = bankOf(target, demoParties.bank.id);
  const userId = `bench.banking${index}-${randomBytes(3).toString('hex')}`;
  const partyId = `${userId}@person.${bank.id}`;
  const msisdn = benchMsisdn();
  const password = randomBytes(12).toString('base64url');
  const account = await openFundedAccount(target, partyId, openingBalanceMinor);
  await bank.operator.post('/banking/customers', { partyId, userId, msisdn });
  const { code } = await bank.operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  const trust = await fetchBankTrust(bank.url);
  const { manager } = await BankingKeyManager.enrol({
    invitation: { bankUrl: bank.url, bankId: bank.id, partyId, code },
    deviceId: `bench-phone-${index}-${randomBytes(2).toString('hex')}`,
    bank: trust,
    store: new MemoryBankingKeyStore(),
  });
  const client = new BankingClient({ bankUrl: bank.url, keys: manager, bank: trust });
  await client.registerDevice(
    { sim: generatedSimSerial(), phoneId: generatedPhoneId(), accountId: account },
    userId,
  );
  await client.registerPassword(userId, password);
  const seen = await smsSnapshot(smsDir, msisdn);
  await client.login({
    userId,
    password,
    msisdn,
    readCode: async () =>
      (
        await awaitSms({ smsDir, msisdn, seen, what: 'login code SMS', deadlineMs: loginCodeWaitMs }, (sms) =>
          loginCodeOf(sms.text, bank.id),
        )
      ).value,
  });
  const session = client.exportSession();
  if (session === undefined) throw new Error(`the login of ${partyId} left no session`);
  return { partyId, keyState: await manager.state(), session };
}

export async function driveBanking(config: BankingDriverConfig, send: SendToParent): Promise<DriverReport> {
  const meter = startMeter();
  const trust = await fetchBankTrust(config.bankUrl);
  const clients = await Promise.all(
    config.devices.map(async (device) => {
      const keys = new BankingKeyManager(new MemoryBankingKeyStore(device.keyState));
      const client = new BankingClient({ bankUrl: config.bankUrl, keys, bank: trust });
      await client.resumeSession(device.session);
      return client;
    }),
  );
  const units: PayingUnit[] = clients.map((client) => ({
    pay: async () => {
      const started = performance.now();
      const transfer = await asParty('device', () =>
        client.transfer({
          payeeId: config.payeeId,
          amount: config.amountMinor,
          currency: config.currency,
          reference: 'bench transfer',
        }),
      );
      if (transfer.state !== 'completed')
        throw new Error(
          `transfer ${transfer.orderId}: ${transfer.state}${transfer.refusalCode === undefined ? '' : ` (${transfer.refusalCode})`}`,
        );
      return performance.now() - started;
    },
    // The session ends with the run (the bank erases its key); a failed logout is the bank's to expire.
    close: async () => {
      await asParty('device', () => client.logout());
    },
  }));
  send({ type: 'progress', line: `${units.length} phone(s) sending transfers` });
  return measure(meter, units, config, send);
}
