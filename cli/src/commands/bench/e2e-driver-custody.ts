/**
 * `mpay bench e2e --profile ims-custody`: iMS §5 payments, the customer's key
 * in custody's HSM. One payment: the merchant asks (MerchantClient), the FSP
 * redirects to custody, custody forwards the request to the phone's inbox
 * (long poll), the phone verifies it and confirms with its PIN (an OPAQUE
 * login at custody and the HMAC over the forward), custody signs in the
 * customer's name in its HSM and the FSP completes the payment; the payment
 * counts when the phone holds the FSP's receipt saying completed (custody's
 * answer, or its forward when the answer said only authorised).
 *
 * Registration (the parent, before the run, through the public APIs as
 * `mpay demo --custody`'s customer was seeded): the bank's operator opens and
 * funds an account and issues an enrolment code, the phone registers its PIN
 * at custody and asks custody to enrol (custody generates the key in its HSM,
 * the bank binds it, custody registers the customer with the FSP), then the
 * gateway's operator gives the customer a phone number.
 */
import { randomBytes } from 'node:crypto';
import {
  CustodyWallet,
  type DelegationResult,
  enrolWithCustody,
  fetchCustodyTrust,
  fetchFspTrust,
  inboxWaitMsMax,
  type MerchantClient,
  type Receipt,
} from '@mpay/sdk';
import { demoParties } from '../../platform/seed.ts';
import { type BenchMerchantKeys, fundedEnrolmentCode, merchantClient } from './e2e-registration.ts';
import { addAlias, type BenchTarget, bankOf, benchMsisdn } from './e2e-target.ts';
import {
  asParty,
  type DriverPayment,
  type DriverReport,
  measure,
  openInTurn,
  type PayingUnit,
  type SendToParent,
  startMeter,
} from './e2e-traffic.ts';

export interface CustodyDriverDevice {
  readonly partyId: string;
  readonly deviceToken: string;
  readonly pin: string;
  readonly msisdn: string;
}

export interface CustodyDriverConfig extends DriverPayment {
  readonly profile: 'ims-custody';
  readonly gatewayUrl: string;
  readonly custodyUrl: string;
  readonly bankUrls: readonly string[];
  readonly merchant: BenchMerchantKeys;
  readonly devices: readonly CustodyDriverDevice[];
}

const custodyPin = '1357';
/** How long registration waits for custody's registration of the customer to reach the FSP. */
const registrationDeadlineMs = 60_000;
/** How long a phone waits for custody to forward the request, or the receipt. */
const forwardDeadlineMs = 30_000;

/** A custody customer as a new one would be (see the file's comment); the phone's token for the driver. */
export async function registerCustodyCustomer(
  target: BenchTarget,
  index: number,
  openingBalanceMinor: bigint,
): Promise<CustodyDriverDevice> {
  const bank = bankOf(target, demoParties.bank.id);
  const suffix = `${index}-${randomBytes(3).toString('hex')}`;
  const partyId = `bench.custody${suffix}@person.${bank.id}`;
  const code = await fundedEnrolmentCode(target, partyId, openingBalanceMinor);
  const enrolment = await enrolWithCustody({
    custodyUrl: target.custody.url,
    bankId: bank.id,
    partyId,
    code,
    deviceId: `bench-custody-${suffix}`,
    displayName: `Bench Custody Customer ${index}`,
    pin: custodyPin,
  });
  const msisdn = benchMsisdn();
  // Custody registers the customer with the FSP from its outbox: the alias waits until the FSP knows her.
  const deadline = Date.now() + registrationDeadlineMs;
  for (let attempt = 0; ; attempt += 1) {
    const response = await addAlias(target, msisdn, partyId);
    if (response.ok) break;
    const text = await response.text();
    if (!text.includes('PARTY_UNKNOWN') || Date.now() > deadline)
      throw new Error(`alias ${msisdn}: HTTP ${response.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
  }
  return { partyId, deviceToken: enrolment.deviceToken, pin: custodyPin, msisdn };
}

function receiptStatus(receipt: Receipt): unknown {
  return (receipt.payload.receipt as { status?: unknown } | undefined)?.status;
}

/** One custody customer's phone: its inbox at custody read from where it ended. */
class CustodyPhone {
  readonly #phone: CustodyWallet;
  readonly #device: CustodyDriverDevice;
  #cursor: string | undefined;

  constructor(phone: CustodyWallet, device: CustodyDriverDevice) {
    this.#phone = phone;
    this.#device = device;
  }

  /** Reads the inbox to its end (events of earlier runs are not this run's). */
  async open(): Promise<void> {
    for (let page = 0; page < 10_000; page += 1) {
      const events = await asParty('device', () => this.#phone.events(this.#cursor, 0));
      if (events.length === 0) return;
      this.#cursor = events.at(-1)!.cursor;
    }
    throw new Error(`the inbox of ${this.#device.partyId} does not end`);
  }

  /** The forward of `kind` for this payment, by long poll from the cursor on; the cursor moves past what was read. */
  async #next(kind: 'payment-request' | 'receipt', paymentId: string): Promise<string> {
    const deadline = Date.now() + forwardDeadlineMs;
    for (;;) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`no ${kind} of payment ${paymentId} from custody in time`);
      const events = await asParty('device', () =>
        this.#phone.events(this.#cursor, Math.min(remainingMs, inboxWaitMsMax)),
      );
      const index = events.findIndex((event) => event.event === kind && event.paymentId === paymentId);
      // Past the found one only: a receipt forwarded right after the request is read on the next call.
      const last = index === -1 ? events.at(-1) : events[index];
      if (last !== undefined) this.#cursor = last.cursor;
      if (index !== -1) return events[index]!.forward;
    }
  }

  async pay(merchant: MerchantClient, config: CustodyDriverConfig): Promise<number> {
    const started = performance.now();
    const accepted = await asParty('merchant', () =>
      merchant.requestPayment({
        customer: this.#device.msisdn,
        amount: { currency: config.currency, minor: config.amountMinor },
      }),
    );
    const { paymentId } = accepted;
    const forward = await this.#next('payment-request', paymentId);
    const result: DelegationResult = await asParty('device', async () => {
      const opened = await this.#phone.openForward(forward);
      if (opened.event !== 'payment-request' || opened.paymentId !== paymentId)
        throw new Error(`payment ${paymentId}: the forward is not its request`);
      return this.#phone.confirm(opened.request, this.#device.pin);
    });
    let status: unknown;
    if (result.status === 'completed') status = receiptStatus(result.receipt);
    else if (result.status === 'declined') status = 'declined';
    else {
      const receiptForward = await this.#next('receipt', paymentId);
      const opened = await asParty('device', () => this.#phone.openForward(receiptForward));
      status = opened.event === 'receipt' ? receiptStatus(opened.receipt) : opened.event;
    }
    if (status !== 'completed') throw new Error(`payment ${paymentId}: receipt says ${String(status)}`);
    return performance.now() - started;
  }
}

export async function driveCustody(config: CustodyDriverConfig, send: SendToParent): Promise<DriverReport> {
  const meter = startMeter();
  const fsp = await fetchFspTrust(config.gatewayUrl);
  const custody = await fetchCustodyTrust(config.custodyUrl);
  const merchant = await merchantClient(config.merchant, config.gatewayUrl, config.bankUrls, fsp);
  const phones = config.devices.map(
    (device) =>
      new CustodyPhone(
        new CustodyWallet({
          custodyUrl: config.custodyUrl,
          custody,
          fsp,
          partyId: device.partyId,
          deviceToken: device.deviceToken,
        }),
        device,
      ),
  );
  send({ type: 'progress', line: `reading ${phones.length} phone inbox(es) at custody to their end` });
  await openInTurn(phones, (phone) => phone.open(), send);
  const units: PayingUnit[] = phones.map((phone) => ({
    pay: () => phone.pay(merchant, config),
    close: async () => undefined,
  }));
  return measure(meter, units, config, send);
}
