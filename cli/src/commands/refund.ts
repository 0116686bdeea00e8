import { join } from 'node:path';
import {
  type Amount,
  currencyExponent,
  formatDecimalAmount,
  MpayError,
  parseCurrencyCode,
  parseDecimalAmount,
  type RefundStatus,
} from '@mpay/protocol';
import { fetchFspTrust, MerchantClient, type RefundAnswer } from '@mpay/sdk';
import type { PartyKeys } from '../platform/identities.ts';
import { demoParties } from '../platform/seed.ts';
import { dataDirOf, readDeployment, readJson } from './deployment.ts';
import type { CommandIo } from './io.ts';

export const refundUsage =
  'usage: mpay refund PAYMENT_ID [--amount 5.00] [--reason TEXT] [--id REFUND_ID] [--data DIR]\n';

/** How long the command follows a refund the banks have not finished (it goes on without it). */
const refundFollowMs = 60_000;
/** Pause between two looks at the refund while it waits for its banks. */
const refundPollMs = 250;

const valueFlags = ['amount', 'reason', 'id', 'data'] as const;

/** `--name value` and `--name=value` for the refund's flags; the payment id is the one positional argument. */
function parseRefundArgs(args: readonly string[]): { paymentId?: string; flags: Map<string, string> } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (!(valueFlags as readonly string[]).includes(name))
      throw new MpayError('REQUEST_INVALID', `--${name}`);
    const value = inline ?? args[index + 1];
    if (value === undefined) throw new MpayError('REQUEST_INVALID', `--${name} needs a value`);
    if (inline === undefined) index += 1;
    flags.set(name, value);
  }
  if (positional.length > 1) throw new MpayError('REQUEST_INVALID', 'one payment id');
  return positional[0] === undefined ? { flags } : { paymentId: positional[0], flags };
}

/** What a person types ('5', '5.5', '5.50') as the canonical amount of the payment's currency. */
function typedAmount(text: string, currency: string): Amount {
  const exponent = currencyExponent(parseCurrencyCode(currency, 'amount'));
  const match = /^(\d+)(?:\.(\d*))?$/.exec(text.trim());
  const fraction = match?.[2] ?? '';
  if (match === null || fraction.length > exponent) return parseDecimalAmount(text, currency, 'amount');
  const whole = match[1]!.replace(/^0+(?=\d)/, '');
  return parseDecimalAmount(
    exponent === 0 ? whole : `${whole}.${fraction.padEnd(exponent, '0')}`,
    currency,
    'amount',
  );
}

const finalStatuses: readonly RefundStatus[] = ['completed', 'refused', 'failed'];

function describeSteps(answer: RefundAnswer, shown: number, io: CommandIo): number {
  for (const step of answer.history.slice(shown)) io.stdout(`  ${step.status.padEnd(10)} ${step.step}\n`);
  return answer.history.length;
}

/**
 * `mpay refund PAYMENT_ID [--amount 5.00]`: the demo merchant gives back all
 * (default) or part of one of its completed payments through the payment
 * chain, against the running platform: it signs the refund with its key, the
 * FSP orders the merchant's bank, which checks that signature under the key
 * it bound to the merchant's account and pays the customer's bank back. The
 * command prints each step as the FSP records it, then the payment's status.
 */
export async function runRefund(args: readonly string[], io: CommandIo): Promise<number> {
  const { paymentId, flags } = parseRefundArgs(args);
  if (paymentId === undefined) {
    io.stderr(refundUsage);
    return 2;
  }
  const dataDir = dataDirOf(flags);
  const deployment = await readDeployment(dataDir);
  const { merchant } = demoParties;
  const keys = await readJson<PartyKeys>(join(dataDir, 'parties', `${merchant.id}.json`));
  if (keys === undefined)
    throw new MpayError('AUTHENTICATION_FAILED', `no keys of ${merchant.id} in ${dataDir}`);
  const client = new MerchantClient({
    gatewayUrl: deployment.gateway,
    merchantId: merchant.id,
    signingKey: keys.signing.privateJwk,
    fsp: await fetchFspTrust(deployment.gateway),
  });
  const payment = await client.paymentStatus(paymentId);
  const paid = payment.amount as { currency: string; value: string };
  const amount = typedAmount(flags.get('amount') ?? paid.value, paid.currency);
  const refundId = flags.get('id');
  const reason = flags.get('reason');
  io.stdout(
    `refund of payment ${paymentId} (${paid.currency} ${paid.value}, ${String(payment.status)}) to ${String(payment.payer)}: ` +
      `${paid.currency} ${formatDecimalAmount(amount)}, signed by ${merchant.id}\n`,
  );
  let answer = await client.refund(paymentId, {
    amount,
    ...(refundId === undefined ? {} : { refundId }),
    ...(reason === undefined ? {} : { reason }),
  });
  io.stdout(`refund ${answer.refundId}\n`);
  let shown = describeSteps(answer, 0, io);
  const deadline = Date.now() + refundFollowMs;
  while (!finalStatuses.includes(answer.status) && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, refundPollMs));
    answer = await client.refundStatus(paymentId, answer.refundId);
    shown = describeSteps(answer, shown, io);
  }
  if (!finalStatuses.includes(answer.status)) {
    io.stdout(
      `still ${answer.status}: the banks finish it later (mpay refund ${paymentId} --id ${answer.refundId} asks again)\n`,
    );
    return 0;
  }
  const after = await client.paymentStatus(paymentId);
  io.stdout(
    answer.status === 'completed'
      ? `completed: ${answer.amount.currency} ${answer.amount.value} back to ${String(after.payer)}; payment ${paymentId} is ${String(after.status)}\n`
      : `${answer.status}: ${answer.failureCode ?? 'no code'}; payment ${paymentId} is ${String(after.status)}\n`,
  );
  return answer.status === 'completed' ? 0 : 1;
}
