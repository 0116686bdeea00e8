/**
 * The load driver of `mpay bench e2e`, in a child process of its own so that
 * its CPU (the devices' and the merchant's work) is measured apart from the
 * servers'. It is told its profile and customers by the parent over IPC and
 * runs that profile's driver: the ims profile here, the others in
 * e2e-driver-custody.ts, e2e-driver-macro.ts and e2e-driver-banking.ts (what
 * they share, the counting and the measured run, in e2e-traffic.ts). For ims:
 *
 * - opens each device's session (a login at custody) and event stream;
 * - drives payments, each device serially, all devices in parallel: the
 *   merchant asks (MerchantClient.requestPayment), the device gets the
 *   request on its stream and confirms (Wallet.confirm) until the receipt;
 * - after the warm-up, counts for the window: payments completed, latencies,
 *   bytes and round trips per party (its `fetch` wrapped), its own CPU and
 *   its WebCrypto calls (it keeps the browser's engine: selectCryptoEngine);
 *   then times its share of the crypto mix.
 */
import { selectCryptoEngine } from '@mpay/envelope';
import { createCaTrustAgent, tlsFetch } from '@mpay/pki';
import {
  fetchFspTrust,
  type MerchantClient,
  type PaymentRequestView,
  Wallet,
  type WalletKeystoreData,
} from '@mpay/sdk';
import { Shaper } from '../simulate/shaper.ts';
import type { BankingDriverConfig } from './e2e-driver-banking.ts';
import type { CustodyDriverConfig } from './e2e-driver-custody.ts';
import type { MacroDriverConfig } from './e2e-driver-macro.ts';
import { type BenchMerchantKeys, merchantClient } from './e2e-registration.ts';
import {
  asParty,
  type DriverMessage,
  type DriverPayment,
  type DriverReport,
  describeError,
  measure,
  openInTurn,
  type PayingUnit,
  type SendToParent,
  startMeter,
} from './e2e-traffic.ts';

export type { DriverMessage, DriverReport, Party, PartyTraffic } from './e2e-traffic.ts';

export interface DriverDevice {
  readonly keystore: WalletKeystoreData;
  readonly pin: string;
  readonly msisdn: string;
}

/** The ims profile: devices holding their keys, the merchant asking each of them. */
export interface DriverConfig extends DriverPayment {
  readonly profile: 'ims';
  readonly gatewayUrl: string;
  readonly bankUrls: readonly string[];
  readonly merchant: BenchMerchantKeys;
  readonly devices: readonly DriverDevice[];
}

/** What the parent sends: one profile's parties and timing. */
export type AnyDriverConfig = DriverConfig | CustodyDriverConfig | MacroDriverConfig | BankingDriverConfig;

/** How long a device waits for a request the merchant made to reach it. */
const requestArrivalDeadlineMs = 30_000;

/** One virtual device: its wallet, its open stream, and the requests it was pushed. */
class Device {
  readonly #wallet: Wallet;
  readonly #pin: string;
  readonly msisdn: string;
  readonly #abort = new AbortController();
  readonly #arrived = new Map<string, PaymentRequestView>();
  readonly #waiting = new Map<string, (view: PaymentRequestView) => void>();
  #closed: Promise<void> = Promise.resolve();

  constructor(wallet: Wallet, device: DriverDevice) {
    this.#wallet = wallet;
    this.#pin = device.pin;
    this.msisdn = device.msisdn;
  }

  /** Logs in (custody) and opens the event stream; resolves once the gateway accepted it. */
  async open(): Promise<void> {
    await asParty('device', () => this.#wallet.unlock(this.#pin));
    await new Promise<void>((opened, failed) => {
      this.#closed = asParty('device', async () => {
        try {
          for await (const event of this.#wallet.events(this.#pin, this.#abort.signal, undefined, opened)) {
            if (event.kind !== 'payment-request') continue;
            const waiter = this.#waiting.get(event.view.paymentId);
            if (waiter === undefined) this.#arrived.set(event.view.paymentId, event.view);
            else waiter(event.view);
          }
        } catch (error) {
          if (!this.#abort.signal.aborted) failed(error);
        }
      });
    });
  }

  #request(paymentId: string): Promise<PaymentRequestView> {
    const arrived = this.#arrived.get(paymentId);
    if (arrived !== undefined) {
      this.#arrived.delete(paymentId);
      return Promise.resolve(arrived);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(paymentId);
        reject(
          new Error(
            `payment request ${paymentId} did not reach the device in ${requestArrivalDeadlineMs} ms`,
          ),
        );
      }, requestArrivalDeadlineMs);
      this.#waiting.set(paymentId, (view) => {
        clearTimeout(timer);
        this.#waiting.delete(paymentId);
        resolve(view);
      });
    });
  }

  /** One payment, merchant request to receipt; its latency in ms. */
  async pay(merchant: MerchantClient, config: DriverConfig): Promise<number> {
    const started = performance.now();
    const accepted = await asParty('merchant', () =>
      merchant.requestPayment({
        customer: this.msisdn,
        amount: { currency: config.currency, minor: config.amountMinor },
      }),
    );
    const view = await this.#request(accepted.paymentId);
    const receipt = await asParty('device', () => this.#wallet.confirm(view, this.#pin));
    const status = (receipt.payload.receipt as { status?: unknown } | undefined)?.status;
    if (status !== 'completed')
      throw new Error(`payment ${accepted.paymentId}: receipt says ${String(status)}`);
    return performance.now() - started;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#closed;
  }
}

/** The ims profile's run: each device's session and stream opened, then the merchant asks and the devices confirm. */
async function driveIms(config: DriverConfig, send: SendToParent): Promise<DriverReport> {
  const meter = startMeter();
  const fsp = await fetchFspTrust(config.gatewayUrl);
  const merchant = await merchantClient(config.merchant, config.gatewayUrl, config.bankUrls, fsp);
  // The devices reach the gateway through a counting proxy (the simulator's shaper, shaping nothing): their bytes
  // on the wire, compressed and framed as sent, beside what their fetch saw.
  // Each device holds its event stream and a connection or two for its requests: room for all of them.
  const proxy = await Shaper.start({
    upstream: upstreamOf(config.gatewayUrl),
    maxConnections: 4 * config.devices.length + 16,
  });
  try {
    meter.deviceWire = () => {
      const counters = proxy.snapshot();
      return { sent: counters.up, received: counters.down };
    };
    const gatewayUrl = proxy.urlFor(config.gatewayUrl);
    const devices = config.devices.map(
      (device) => new Device(new Wallet({ gatewayUrl, keystore: device.keystore, fsp }), device),
    );
    send({ type: 'progress', line: `opening ${devices.length} device session(s) and event streams` });
    await openInTurn(devices, (device) => device.open(), send);
    const units: PayingUnit[] = devices.map((device) => ({
      pay: () => device.pay(merchant, config),
      close: () => device.close(),
    }));
    return await measure(meter, units, config, send);
  } finally {
    await proxy.close();
  }
}

/** The host and port of a loopback URL (the bench targets loopback only: e2e.ts checks it). */
function upstreamOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
  };
}

/** The profile's driver: ims here, the others in their own files. */
async function drive(config: AnyDriverConfig, send: SendToParent): Promise<DriverReport> {
  // The devices' and the merchant's crypto as a phone's browser computes it (WebCrypto), whatever Node offers:
  // the device's cost is the figure of a phone, and the driver's share of the ceiling stays comparable.
  selectCryptoEngine('webcrypto');
  // Over HTTPS: every call of this process (the SDK's) trusts the deployment's CA only and offers HTTP/2;
  // set before the profile's meter wraps the global fetch.
  if (config.caPem !== undefined) {
    const revokedSerials = new Set(config.revokedSerials ?? []);
    const agent = createCaTrustAgent(config.caPem, {}, { http2: true, revokedSerials });
    globalThis.fetch = tlsFetch(agent) as typeof fetch;
  }
  switch (config.profile) {
    case 'ims':
      return driveIms(config, send);
    case 'ims-custody':
      return (await import('./e2e-driver-custody.ts')).driveCustody(config, send);
    case 'macro':
      return (await import('./e2e-driver-macro.ts')).driveMacro(config, send);
    case 'banking':
      return (await import('./e2e-driver-banking.ts')).driveBanking(config, send);
  }
}

if (process.send !== undefined) {
  const send = (message: DriverMessage) => process.send?.(message);
  const last = (message: DriverMessage) => process.send?.(message, undefined, {}, () => process.disconnect());
  // The parent gone (ended, interrupted): stop rather than pay on against a platform that is closing.
  process.once('disconnect', () => process.exit(0));
  process.once('message', (config: AnyDriverConfig) => {
    drive(config, send).then(
      (report) => last({ type: 'report', report }),
      (error: unknown) => last({ type: 'error', message: describeError(error) }),
    );
  });
}
