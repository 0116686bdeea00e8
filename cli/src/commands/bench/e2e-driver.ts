/**
 * The load driver of `mpay bench e2e`, in a child process of its own so that
 * its CPU (the devices' and the merchant's work) is measured apart from the
 * servers'. It is told its customers by the parent over IPC, then:
 *
 * - opens each device's session (a login at custody) and event stream;
 * - drives payments, each device serially, all devices in parallel: the
 *   merchant asks (MerchantClient.requestPayment), the device gets the
 *   request on its stream and confirms (Wallet.confirm) until the receipt;
 * - after the warm-up, counts for the window: payments completed, latencies,
 *   bytes and round trips per party (its `fetch` wrapped), its own CPU and
 *   its WebCrypto calls; then times its share of the crypto mix.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PrivateJwk } from '@mpay/envelope';
import type { CurrencyCode } from '@mpay/protocol';
import {
  fetchBankTrust,
  fetchFspTrust,
  MerchantClient,
  type PaymentRequestView,
  Wallet,
  type WalletKeystoreData,
} from '@mpay/sdk';
import { countSubtleCalls, timeMix } from './e2e-crypto.ts';

export interface DriverDevice {
  readonly keystore: WalletKeystoreData;
  readonly pin: string;
  readonly msisdn: string;
}

export interface DriverConfig {
  readonly gatewayUrl: string;
  readonly bankUrls: readonly string[];
  readonly merchant: { readonly id: string; readonly signingJwk: PrivateJwk };
  readonly devices: readonly DriverDevice[];
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly currency: CurrencyCode;
  readonly amountMinor: bigint;
}

export type Party = 'device' | 'merchant';

export interface PartyTraffic {
  sent: number;
  received: number;
  roundTrips: number;
}

export interface DriverReport {
  readonly payments: number;
  readonly windowMs: number;
  readonly latenciesMs: readonly number[];
  /** Payments that failed, in the warm-up, the window or the drain. */
  readonly failures: number;
  readonly failureSamples: readonly string[];
  /** Payments completed in all (warm-up and drain too): the money the audit should see moved. */
  readonly completedTotal: number;
  readonly traffic: Record<Party, PartyTraffic>;
  readonly cpuMs: { readonly user: number; readonly system: number };
  readonly cryptoCounts: Record<string, number>;
  readonly cryptoMsPerPayment: number;
  readonly cryptoMicrosecondsPerCall: Record<string, number>;
}

export type DriverMessage =
  | { readonly type: 'window-start' }
  | { readonly type: 'window-end' }
  | { readonly type: 'progress'; readonly line: string }
  | { readonly type: 'report'; readonly report: DriverReport }
  | { readonly type: 'error'; readonly message: string };

/** How long a device waits for a request the merchant made to reach it. */
const requestArrivalDeadlineMs = 30_000;

const partyOf = new AsyncLocalStorage<Party>();

function headerBytes(headers: Headers): number {
  let bytes = 0;
  headers.forEach((value, name) => {
    bytes += name.length + value.length + 4;
  });
  return bytes;
}

/**
 * Wraps the global fetch: per party, the calls made and the bytes of each
 * request (path, headers, body) and answer (headers, body as it streams)
 * while counting. HTTP framing (request and status lines, chunk sizes) and
 * TCP/TLS overhead are not counted (loopback, no TLS).
 */
function countTraffic(counting: () => boolean): Record<Party, PartyTraffic> {
  const traffic: Record<Party, PartyTraffic> = {
    device: { sent: 0, received: 0, roundTrips: 0 },
    merchant: { sent: 0, received: 0, roundTrips: 0 },
  };
  const original = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const party = partyOf.getStore();
    if (party === undefined) return original(input, init);
    const counted = traffic[party];
    // A stream opened before the window (the device's events) is wrapped too: its bytes in the window count.
    const inWindow = counting();
    if (inWindow) {
      counted.roundTrips += 1;
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const body = init?.body;
      counted.sent +=
        new URL(url).pathname.length +
        headerBytes(new Headers(init?.headers)) +
        (typeof body === 'string' ? Buffer.byteLength(body) : 0);
    }
    const response = await original(input, init);
    if (inWindow) counted.received += headerBytes(response.headers);
    if (response.body === null) return response;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (counting()) counted.received += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  return traffic;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

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
    await partyOf.run('device', () => this.#wallet.unlock(this.#pin));
    await new Promise<void>((opened, failed) => {
      this.#closed = partyOf.run('device', async () => {
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
    const accepted = await partyOf.run('merchant', () =>
      merchant.requestPayment({
        customer: this.msisdn,
        amount: { currency: config.currency, minor: config.amountMinor },
      }),
    );
    const view = await this.#request(accepted.paymentId);
    const receipt = await partyOf.run('device', () => this.#wallet.confirm(view, this.#pin));
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

async function drive(config: DriverConfig, send: (message: DriverMessage) => void): Promise<DriverReport> {
  let counting = false;
  const traffic = countTraffic(() => counting);
  const subtle = countSubtleCalls();
  const fsp = await fetchFspTrust(config.gatewayUrl);
  const merchant = new MerchantClient({
    gatewayUrl: config.gatewayUrl,
    merchantId: config.merchant.id,
    signingKey: config.merchant.signingJwk,
    fsp,
    banks: await Promise.all(config.bankUrls.map((url) => fetchBankTrust(url))),
  });
  const devices = config.devices.map(
    (device) =>
      new Device(new Wallet({ gatewayUrl: config.gatewayUrl, keystore: device.keystore, fsp }), device),
  );
  send({ type: 'progress', line: `opening ${devices.length} device session(s) and event streams` });
  await Promise.all(devices.map((device) => device.open()));
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let completedTotal = 0;
  let inWindow = false;
  let stopping = false;
  const loops = devices.map(async (device) => {
    while (!stopping) {
      const startedInWindow = inWindow;
      try {
        const ms = await device.pay(merchant, config);
        completedTotal += 1;
        // A payment is the window's when it started and ended inside it.
        if (startedInWindow && inWindow) latencies.push(ms);
      } catch (error) {
        failures += 1;
        if (failureSamples.length < 5) failureSamples.push(describe(error));
      }
    }
  });
  send({ type: 'progress', line: `warm-up ${config.warmupMs / 1000} s` });
  await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
  const cpuAtStart = process.cpuUsage();
  counting = true;
  subtle.active = true;
  inWindow = true;
  const windowStarted = performance.now();
  send({ type: 'window-start' });
  send({ type: 'progress', line: `measuring ${config.windowMs / 1000} s` });
  await new Promise((resolve) => setTimeout(resolve, config.windowMs));
  inWindow = false;
  counting = false;
  subtle.active = false;
  const windowMs = performance.now() - windowStarted;
  const cpu = process.cpuUsage(cpuAtStart);
  send({ type: 'window-end' });
  stopping = true;
  send({ type: 'progress', line: 'draining the payments under way' });
  await Promise.all(loops);
  await Promise.all(devices.map((device) => device.close()));
  const payments = latencies.length;
  const counts = subtle.counts();
  const exact = Object.fromEntries(
    Object.entries(counts).map(([kind, count]) => [kind, payments === 0 ? 0 : count / payments]),
  );
  send({ type: 'progress', line: 'timing the devices’ and merchant’s crypto mix alone' });
  const mix = await timeMix(exact, subtle.samples);
  subtle.restore();
  return {
    payments,
    windowMs,
    latenciesMs: latencies,
    failures,
    failureSamples,
    completedTotal,
    traffic,
    cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
    cryptoCounts: counts,
    cryptoMsPerPayment: mix.msPerPayment,
    cryptoMicrosecondsPerCall: mix.microsecondsPerCall,
  };
}

if (process.send !== undefined) {
  const send = (message: DriverMessage) => process.send?.(message);
  const last = (message: DriverMessage) => process.send?.(message, undefined, {}, () => process.disconnect());
  // The parent gone (ended, interrupted): stop rather than pay on against a platform that is closing.
  process.once('disconnect', () => process.exit(0));
  process.once('message', (config: DriverConfig) => {
    drive(config, send).then(
      (report) => last({ type: 'report', report }),
      (error: unknown) => last({ type: 'error', message: describe(error) }),
    );
  });
}
