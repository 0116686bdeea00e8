/**
 * `mpay bench e2e --profile macro`: the macro-payment protocol (seed 002
 * §4.2), the client bank (xbank) and the merchant bank (ybank) behind the
 * payment server (the MPASP, the gateway). One payment, all by the client's
 * device: step 1 (the sealed payment request), step 3 (the mPIN's OPAQUE
 * login opening the challenge), step 4 (the secret answer), then the client
 * bank's PApp_Req polled for (step 6 reaches the bank in the MPASP's
 * background round), the approval (step 7), and the bank's Pay_Confirm
 * (step 11: the money has moved to the merchant bank), polled for while the
 * order is still sending. The merchant asks for nothing in this protocol:
 * its traffic is zero (it reads its Pay_Confirm whenever it likes).
 *
 * Registration (the parent, before the run, as `mpay demo macro` does): the
 * bank's operator opens and funds an account and issues an enrolment code,
 * the device enrols its keys at the bank and registers at the MPASP (§3),
 * and the client id and mPIN are read from the mail the MPASP sent, from
 * the platform's embedded mail server (as `mpay mail` reads it).
 */
import { randomBytes } from 'node:crypto';
import type { PrivateJwk } from '@mpay/envelope';
import { type Amount, createAmount } from '@mpay/protocol';
import {
  type BankTrust,
  createMacroDeviceSecret,
  type FspTrust,
  fetchBankTrust,
  fetchFspTrust,
  MacroBankClient,
  MacroClient,
} from '@mpay/sdk';
import { readRegistrationMail } from '../../platform/mail.ts';
import { demoParties } from '../../platform/seed.ts';
import { enrolNewDevice } from './e2e-registration.ts';
import { type BenchTarget, bankOf, benchMsisdn } from './e2e-target.ts';
import {
  asParty,
  type DriverPayment,
  type DriverReport,
  measure,
  type PayingUnit,
  pollUntil,
  type SendToParent,
  startMeter,
} from './e2e-traffic.ts';

export interface MacroDriverDevice {
  readonly partyId: string;
  readonly clientId: string;
  readonly mPin: string;
  readonly msisdn: string;
  readonly deviceSecret: string;
  readonly signingJwk: PrivateJwk;
  readonly encryptionJwk: PrivateJwk;
}

export interface MacroDriverConfig extends DriverPayment {
  readonly profile: 'macro';
  readonly gatewayUrl: string;
  /** The client bank (the customers' bank). */
  readonly bankUrl: string;
  readonly merchantId: string;
  readonly devices: readonly MacroDriverDevice[];
}

const secretQuestion = 'Name of your first teacher?';
const secretAnswer = 'Marija Petrovska';
/** How long registration waits for the MPASP's mail. */
const mailDeadlineMs = 30_000;
/** How long a device waits for its bank's PApp_Req (the MPASP's round) and for Pay_Confirm. */
const bankDeadlineMs = 30_000;
/** How often a device asks its bank while it waits: each ask is a round trip counted for the device. */
const bankPollMs = 50;

/** The registration mail to `email` naming `clientId`: the mPIN in it. */
async function mailedMpin(mailDir: string, email: string, clientId: string): Promise<string> {
  const mail = await readRegistrationMail(mailDir, email, clientId, (what, read) =>
    pollUntil(what, mailDeadlineMs, 100, read),
  );
  return mail.mPin;
}

/** A macro client as a new one would be (see the file's comment). */
export async function registerMacroCustomer(
  target: BenchTarget,
  fsp: FspTrust,
  index: number,
  openingBalanceMinor: bigint,
): Promise<MacroDriverDevice> {
  const mailDir = target.mailDir;
  if (mailDir === undefined)
    throw new Error(
      "the macro profile reads the MPASP's mail from the embedded mail server: unset MPAY_SMTP_HOST",
    );
  const bank = bankOf(target, demoParties.bank.id);
  const local = `bench.macro${index}-${randomBytes(3).toString('hex')}`;
  const partyId = `${local}@person.${bank.id}`;
  const { keys, enrolment } = await enrolNewDevice(
    target,
    partyId,
    openingBalanceMinor,
    `bench-macro-${index}-${randomBytes(3).toString('hex')}`,
  );
  const deviceSecret = createMacroDeviceSecret();
  const client = new MacroClient({ gatewayUrl: target.gatewayUrl, fsp, deviceSecret });
  const email = `${local}@mail.example`;
  const msisdn = benchMsisdn();
  const registered = await client.register({
    binding: enrolment.binding,
    signingKey: keys.signing.privateJwk,
    partyId,
    msisdn,
    email,
    name: `Bench Macro Client ${index}`,
    secretQuestion,
    secretAnswer,
  });
  const mPin = await mailedMpin(mailDir, email, registered.clientId);
  return {
    partyId,
    clientId: registered.clientId,
    mPin,
    msisdn,
    deviceSecret,
    signingJwk: keys.signing.privateJwk,
    encryptionJwk: keys.encryption.privateJwk,
  };
}

/**
 * One macro payment by `device`, steps 1 to 11 (`mpay simulate` pays so
 * too): the client asks the MPASP, opens the challenge with its mPIN,
 * answers; its bank's PApp_Req approved, then Pay_Confirm. `waitFor` asks
 * the bank again until it answers (the caller's poll and deadline).
 */
export async function payMacroOnce(
  client: MacroClient,
  bank: MacroBankClient,
  device: MacroDriverDevice,
  payment: { readonly merchantId: string; readonly amount: Amount },
  waitFor: <T>(what: string, read: () => Promise<T | undefined>) => Promise<T>,
): Promise<void> {
  const requested = await client.requestPayment({
    clientId: device.clientId,
    msisdn: device.msisdn,
    merchantId: payment.merchantId,
    amount: payment.amount,
  });
  await client.openChallenge(requested.transactionId, device.mPin);
  const session = await client.answerSecret(requested.transactionId, secretAnswer);
  const request = await waitFor(`PApp_Req for ${session.sessionId}`, async () =>
    (await bank.approvalRequests()).find((candidate) => candidate.sessionId === session.sessionId),
  );
  const outcome = await bank.approve(request, {
    decision: 'approve',
    transactionData: requested.transactionData,
  });
  if (outcome.state !== 'approved')
    throw new Error(`payment ${requested.transactionId}: the bank answered ${outcome.state}`);
  const confirmation = await waitFor(`Pay_Confirm for ${session.sessionId}`, async () => {
    const answer = await bank.confirmation(session.sessionId);
    return answer.state === 'sending' ? undefined : answer;
  });
  if (confirmation.state !== 'completed' || confirmation.payConfirm === undefined)
    throw new Error(
      `payment ${requested.transactionId}: the bank says ${confirmation.state}${confirmation.refusalCode === undefined ? '' : ` (${confirmation.refusalCode})`}`,
    );
}

/** One macro payment by `device`, from step 1 to Pay_Confirm; its latency in ms. */
async function payMacro(
  client: MacroClient,
  bank: MacroBankClient,
  device: MacroDriverDevice,
  config: MacroDriverConfig,
): Promise<number> {
  const started = performance.now();
  return asParty('device', async () => {
    await payMacroOnce(
      client,
      bank,
      device,
      { merchantId: config.merchantId, amount: createAmount(config.currency, config.amountMinor) },
      (what, read) => pollUntil(what, bankDeadlineMs, bankPollMs, read),
    );
    return performance.now() - started;
  });
}

/** `device`'s client at its bank (at `bankUrl`: the bank's, or a link in front of it), for PApp_Req and Pay_Confirm. */
export function macroBankClient(
  bankUrl: string,
  device: MacroDriverDevice,
  trust: BankTrust,
): MacroBankClient {
  return new MacroBankClient({
    bankUrl,
    partyId: device.partyId,
    signingKey: device.signingJwk,
    encryptionKey: device.encryptionJwk,
    bank: trust,
  });
}

export async function driveMacro(config: MacroDriverConfig, send: SendToParent): Promise<DriverReport> {
  const meter = startMeter();
  const fsp = await fetchFspTrust(config.gatewayUrl);
  const trust = await fetchBankTrust(config.bankUrl);
  const units: PayingUnit[] = config.devices.map((device) => {
    const client = new MacroClient({ gatewayUrl: config.gatewayUrl, fsp, deviceSecret: device.deviceSecret });
    const bank = macroBankClient(config.bankUrl, device, trust);
    return { pay: () => payMacro(client, bank, device, config), close: async () => undefined };
  });
  send({ type: 'progress', line: `${units.length} macro client(s) paying` });
  return measure(meter, units, config, send);
}
