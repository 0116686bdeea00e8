/**
 * One customer per protocol, driven payment by payment by `mpay simulate`,
 * the device's SDK pointed at the shapers (its every request crosses the
 * simulated mobile link), the merchant's and the banks' operators straight
 * at the services. Registration reuses `mpay bench e2e`'s helpers (their
 * traffic is not measured); the payment itself is written here, one at a
 * time, as the bench drivers and the demos pay:
 *
 * - ims: the merchant asks (MerchantClient.requestPayment), the request
 *   reaches the device on its event stream, the device confirms
 *   (Wallet.confirm). Time to pay: the merchant's request to the receipt in
 *   the device's hands (Wallet.confirm's answer).
 * - ims-custody (iMS §5): the merchant asks, custody forwards the request to
 *   the phone's inbox (long poll), the phone confirms with its PIN (OPAQUE
 *   login at custody), custody signs in its HSM. Time to pay: the merchant's
 *   request to the FSP's receipt in the phone's hands (custody's answer, or
 *   the forwarded receipt).
 * - macro (seed 002): the client starts; step 1, the mPIN's OPAQUE login,
 *   the secret answer, the bank's PApp_Req polled for and approved, then
 *   Pay_Confirm polled for. Time to pay: step 1 to Pay_Confirm in the
 *   device's hands (no merchant request in this protocol).
 * - banking (SA2pMP, seed 003): one signed, sealed transfer to a payee at
 *   the same bank, logged in beforehand. Time to pay: the request to the
 *   bank's signed answer saying completed.
 */
import { randomBytes } from 'node:crypto';
import { createAmount } from '@mpay/protocol';
import {
  BankingClient,
  BankingKeyManager,
  CustodyWallet,
  fetchBankTrust,
  fetchCustodyTrust,
  fetchFspTrust,
  inboxWaitMsMax,
  MacroClient,
  MemoryBankingKeyStore,
  type MerchantClient,
  type PaymentRequestView,
  type Receipt,
  Wallet,
} from '@mpay/sdk';
import { demoParties } from '../../platform/seed.ts';
import { openBankingPayee, registerBankingCustomer } from '../bench/e2e-driver-banking.ts';
import { registerCustodyCustomer } from '../bench/e2e-driver-custody.ts';
import { macroBankClient, payMacroOnce, registerMacroCustomer } from '../bench/e2e-driver-macro.ts';
import { merchantClient, registerImsCustomer } from '../bench/e2e-registration.ts';
import { type BenchTarget, bankOf } from '../bench/e2e-target.ts';
import { pollUntil as pollBench } from '../bench/e2e-traffic.ts';
import { asDevice } from './device-meter.ts';

export const protocolIds = ['ims', 'ims-custody', 'macro', 'banking'] as const;
export type ProtocolId = (typeof protocolIds)[number];

/** Where the device reaches each service: the shapers' URLs. */
export interface DeviceUrls {
  readonly gateway: string;
  readonly custody: string;
  readonly bank: string;
}

/** One customer ready to pay: `pay` is one payment, merchant (or device) request to receipt. */
export interface ProtocolDriver {
  pay(): Promise<void>;
  close(): Promise<void>;
}

const paymentMinor = 1_00n;
const openingBalanceMinor = 1_000_000_00n;
const pin = '1357';
/** How long a device waits for something pushed or forwarded to it, or polls its bank. */
const waitDeadlineMs = 120_000;
/** The macro device's pause between two asks at its bank (each ask is a round trip on the link). */
const bankPollMs = 250;

function within<T>(what: string, work: Promise<T>, deadlineMs = waitDeadlineMs): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${deadlineMs} ms`)), deadlineMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function merchantOf(target: BenchTarget): Promise<MerchantClient> {
  return merchantClient(
    target.merchant,
    target.gatewayUrl,
    target.banks.map((bank) => bank.url),
    await fetchFspTrust(target.gatewayUrl),
  );
}

function receiptStatus(receipt: Receipt): unknown {
  return (receipt.payload.receipt as { status?: unknown } | undefined)?.status;
}

/** iMS with the key on the device (see the file's comment). */
async function imsDriver(target: BenchTarget, urls: DeviceUrls): Promise<ProtocolDriver> {
  const bank = bankOf(target, demoParties.bank.id);
  const suffix = randomBytes(3).toString('hex');
  const partyId = `simulate.customer-${suffix}@person.${bank.id}`;
  const { keystore, msisdn } = await registerImsCustomer(target, {
    partyId,
    deviceId: `simulate-phone-${suffix}`,
    displayName: `Simulated Customer ${suffix}`,
    pin,
    // The PIN server is custody: the device reaches it over the link too.
    pinServerUrl: urls.custody,
    openingBalanceMinor,
  });
  const fsp = await fetchFspTrust(target.gatewayUrl);
  const wallet = new Wallet({ gatewayUrl: urls.gateway, keystore, fsp });
  const merchant = await merchantOf(target);
  const arrived = new Map<string, PaymentRequestView>();
  const waiting = new Map<string, (view: PaymentRequestView) => void>();
  const abort = new AbortController();
  let streamFailure: unknown;
  // The session and the event stream are opened once, as a phone keeps them; their setup is not a payment's.
  let closed: Promise<void> = Promise.resolve();
  await asDevice(async () => {
    await wallet.unlock(pin);
    await within(
      'the device’s event stream to open',
      new Promise<void>((opened, failed) => {
        closed = asDevice(async () => {
          try {
            for await (const event of wallet.events(pin, abort.signal, undefined, opened)) {
              if (event.kind !== 'payment-request') continue;
              const waiter = waiting.get(event.view.paymentId);
              if (waiter === undefined) arrived.set(event.view.paymentId, event.view);
              else waiter(event.view);
            }
          } catch (error) {
            streamFailure = error;
            if (!abort.signal.aborted) failed(error);
          }
        });
      }),
    );
  });
  const requestFor = (paymentId: string): Promise<PaymentRequestView> => {
    const view = arrived.get(paymentId);
    if (view !== undefined) {
      arrived.delete(paymentId);
      return Promise.resolve(view);
    }
    if (streamFailure !== undefined) return Promise.reject(streamFailure);
    return within(
      `payment request ${paymentId} to reach the device`,
      new Promise<PaymentRequestView>((resolve) => waiting.set(paymentId, resolve)),
    ).finally(() => waiting.delete(paymentId));
  };
  return {
    pay: async () => {
      const accepted = await merchant.requestPayment({
        customer: msisdn,
        amount: { currency: demoParties.bank.currency, minor: paymentMinor },
      });
      const view = await requestFor(accepted.paymentId);
      const receipt = await asDevice(() => within('the confirmation', wallet.confirm(view, pin)));
      const status = receiptStatus(receipt);
      if (status !== 'completed')
        throw new Error(`payment ${accepted.paymentId}: receipt says ${String(status)}`);
    },
    close: async () => {
      abort.abort();
      await closed;
    },
  };
}

/** iMS §5, the key in custody's HSM (see the file's comment). */
async function custodyDriver(target: BenchTarget, urls: DeviceUrls): Promise<ProtocolDriver> {
  const device = await registerCustodyCustomer(target, 0, openingBalanceMinor);
  const fsp = await fetchFspTrust(target.gatewayUrl);
  const phone = new CustodyWallet({
    custodyUrl: urls.custody,
    custody: await fetchCustodyTrust(target.custody.url),
    fsp,
    partyId: device.partyId,
    deviceToken: device.deviceToken,
  });
  const merchant = await merchantOf(target);
  let cursor: string | undefined;
  // The inbox read to its end: earlier events are not this run's.
  await asDevice(async () => {
    for (let page = 0; page < 1_000; page += 1) {
      const events = await phone.events(cursor, 0);
      if (events.length === 0) return;
      cursor = events.at(-1)!.cursor;
    }
  });
  const next = async (kind: 'payment-request' | 'receipt', paymentId: string): Promise<string> => {
    const deadline = Date.now() + waitDeadlineMs;
    for (;;) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`no ${kind} of payment ${paymentId} from custody in time`);
      const events = await phone.events(cursor, Math.min(remainingMs, inboxWaitMsMax));
      const index = events.findIndex((event) => event.event === kind && event.paymentId === paymentId);
      const last = index === -1 ? events.at(-1) : events[index];
      if (last !== undefined) cursor = last.cursor;
      if (index !== -1) return events[index]!.forward;
    }
  };
  return {
    pay: async () => {
      const { paymentId } = await merchant.requestPayment({
        customer: device.msisdn,
        amount: { currency: demoParties.bank.currency, minor: paymentMinor },
      });
      const status = await asDevice(async () => {
        const opened = await phone.openForward(await next('payment-request', paymentId));
        if (opened.event !== 'payment-request' || opened.paymentId !== paymentId)
          throw new Error(`payment ${paymentId}: the forward is not its request`);
        const result = await within('custody’s answer', phone.confirm(opened.request, device.pin));
        if (result.status === 'completed') return receiptStatus(result.receipt);
        if (result.status === 'declined') return 'declined';
        const receipt = await phone.openForward(await next('receipt', paymentId));
        return receipt.event === 'receipt' ? receiptStatus(receipt.receipt) : receipt.event;
      });
      if (status !== 'completed') throw new Error(`payment ${paymentId}: receipt says ${String(status)}`);
    },
    close: async () => undefined,
  };
}

function pollUntil<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  return pollBench(what, waitDeadlineMs, bankPollMs, read);
}

/** The macro-payment protocol of seed 002 (see the file's comment). */
async function macroDriver(target: BenchTarget, urls: DeviceUrls): Promise<ProtocolDriver> {
  const fsp = await fetchFspTrust(target.gatewayUrl);
  const device = await registerMacroCustomer(target, fsp, 0, openingBalanceMinor);
  const client = new MacroClient({ gatewayUrl: urls.gateway, fsp, deviceSecret: device.deviceSecret });
  const bank = macroBankClient(
    urls.bank,
    device,
    await fetchBankTrust(bankOf(target, demoParties.bank.id).url),
  );
  return {
    pay: () =>
      asDevice(async () => {
        await payMacroOnce(
          client,
          bank,
          device,
          {
            merchantId: target.merchant.id,
            amount: createAmount(demoParties.bank.currency, paymentMinor),
          },
          pollUntil,
        );
      }),
    close: async () => undefined,
  };
}

/** SA2pMP mobile banking of seed 003 (see the file's comment). */
async function bankingDriver(target: BenchTarget, urls: DeviceUrls): Promise<ProtocolDriver> {
  const payeeId = await openBankingPayee(target);
  const device = await registerBankingCustomer(target, 0, openingBalanceMinor);
  const keys = new BankingKeyManager(new MemoryBankingKeyStore(device.keyState));
  const trust = await fetchBankTrust(bankOf(target, demoParties.bank.id).url);
  const client = new BankingClient({ bankUrl: urls.bank, keys, bank: trust });
  await client.resumeSession(device.session);
  return {
    pay: async () => {
      const transfer = await asDevice(() =>
        client.transfer({
          payeeId,
          amount: paymentMinor,
          currency: demoParties.bank.currency,
          reference: 'simulated transfer',
        }),
      );
      if (transfer.state !== 'completed')
        throw new Error(
          `transfer ${transfer.orderId}: ${transfer.state}${transfer.refusalCode === undefined ? '' : ` (${transfer.refusalCode})`}`,
        );
    },
    close: async () => {
      await asDevice(() => client.logout()).catch(() => undefined);
    },
  };
}

/** A new customer of `protocol`, registered straight at the services, its device pointed at `urls`. */
export function prepareDriver(
  protocol: ProtocolId,
  target: BenchTarget,
  urls: DeviceUrls,
): Promise<ProtocolDriver> {
  switch (protocol) {
    case 'ims':
      return imsDriver(target, urls);
    case 'ims-custody':
      return custodyDriver(target, urls);
    case 'macro':
      return macroDriver(target, urls);
    case 'banking':
      return bankingDriver(target, urls);
  }
}
