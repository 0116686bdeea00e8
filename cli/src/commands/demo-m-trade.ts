import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type EmvDataObject,
  emvCrcOf,
  formatDecimalAmount,
  MpayError,
  parseEmvPayload,
  parseTillCode,
  tillSigningContext,
} from '@mpay/protocol';
import { type TillClaim, Wallet, type WalletKeystoreData } from '@mpay/sdk';
import { demoParties } from '../platform/seed.ts';
import {
  balancesOf,
  type DemoContext,
  type DemoDeployment,
  formatMinor,
  logEvidence,
  openDemo,
  refusalOf,
  signedWith,
} from './demo.ts';
import { readJson } from './deployment.ts';
import type { CommandIo } from './io.ts';

/** How long the till waits for a customer to claim its code (here the demo's own wallet, at once). */
const claimWaitMs = 30_000;
const claimPollMs = 200;

/** What each data object of the till code is (packages/protocol/src/emvqr/till.ts has the layout). */
const names: Readonly<Record<string, string>> = {
  '00': 'payload format indicator',
  '01': 'point of initiation: 12 = dynamic, one payment',
  '26': 'merchant account information (mpay)',
  '26.00': 'globally unique identifier',
  '26.01': "merchant's party id",
  '52': 'merchant category code',
  '53': 'currency, ISO 4217 numeric',
  '54': 'amount',
  '58': 'country',
  '59': 'merchant name (the wallet shows the FSP’s name instead)',
  '60': 'merchant city',
  '62': 'additional data',
  '62.05': 'reference label: the transaction id, its 16 bytes in base64url',
  '90': 'signature parameters (mpay)',
  '90.00': 'globally unique identifier',
  '90.01': "key id: RFC 7638 thumbprint of the merchant's certified key",
  '90.02': 'expiry, UTC YYYYMMDDhhmmss',
  '91': "the merchant's signature (mpay)",
  '91.00': 'globally unique identifier',
  '91.01': 'signature, 64 bytes in base64url (ES256 r‖s)',
  '63': 'CRC-16/CCITT-FALSE over everything before its 4 digits',
};

function layoutLines(objects: readonly EmvDataObject[], parent?: string): string[] {
  return objects.flatMap((object) => {
    const id = parent === undefined ? object.tag : `${parent}.${object.tag}`;
    const indent = parent === undefined ? '     ' : '         ';
    const length = String(Array.from(object.value).length).padStart(2, '0');
    const shown = object.children === undefined ? object.value : '';
    const head = `${indent}${object.tag} ${length} ${shown}`.padEnd(parent === undefined ? 60 : 64);
    return [
      `${head} ${names[id] ?? ''}`.trimEnd(),
      ...(object.children === undefined ? [] : layoutLines(object.children, id)),
    ];
  });
}

/** The till polls the FSP until its code is claimed (a till behind a NAT takes no webhooks). */
async function waitForClaim(context: DemoContext, transactionId: string): Promise<TillClaim> {
  const deadline = Date.now() + claimWaitMs;
  for (;;) {
    const claim = await context.merchantClient.tillClaim(transactionId);
    if (claim !== undefined) return claim;
    if (Date.now() > deadline)
      throw new MpayError('SERVICE_UNAVAILABLE', 'no claim of the till code in time');
    await new Promise((done) => setTimeout(done, claimPollMs));
  }
}

/** A copy of the code whose amount a forger changed, with the CRC made right again; the wallet must refuse it. */
function alteredCopy(payload: string, amountText: string): string {
  const tlv = (text: string) => `54${String(text.length).padStart(2, '0')}${text}`;
  const body = payload.slice(0, -8).replace(tlv(amountText), tlv('0.01'));
  return `${body}6304${emvCrcOf(`${body}6304`)}`;
}

/**
 * `mpay demo --m-trade`: iMS §2.2 (Figure 2), the customer at the merchant's
 * till. The till shows a signed EMV QR code; the wallet reads it, checks the
 * merchant's signature under the FSP's certificate and claims it; the till
 * requests the payment from the customer who claimed; the customer confirms;
 * the banks move the money. Prints the payload, its layout and each step.
 */
export async function demoTillPayment(
  dataDir: string,
  deployment: DemoDeployment,
  flags: Map<string, string>,
  io: CommandIo,
): Promise<number> {
  const { customer, merchant } = demoParties;
  const context = await openDemo(dataDir, deployment, io, { echo: false });
  const keystore = await readJson<WalletKeystoreData>(
    join(dataDir, 'parties', `${customer.id}.wallet-v2.json`),
  );
  if (keystore === undefined) throw new MpayError('AUTHENTICATION_FAILED', `no wallet of ${customer.id}`);
  const wallet = new Wallet({
    gatewayUrl: deployment.gateway,
    keystore,
    fsp: context.fsp,
    trace: context.record,
  });
  const before = await balancesOf(context, customer.account);

  io.stdout(`\nm-trade at the till (iMS §2.2): ${customer.id} stands at the till of ${merchant.id}.\n\n`);
  const qr = await context.merchantClient.createTillQr({
    amount: { currency: 'EUR', minor: 7_80n },
    merchantName: merchant.displayName,
    city: 'Skopje',
  });
  const code = parseTillCode(qr.payload);
  io.stdout(
    [
      `1. The till shows an EMV merchant-presented QR code for EUR ${formatDecimalAmount(code.amount)}, transaction ${qr.transactionId}, valid until ${qr.expiresAt},`,
      `   signed with the merchant's certified key (kid ${code.keyId}):`,
      '',
      qr.payload,
      '',
      `   ${Array.from(qr.payload).length} characters. Data objects (ID, length, value):`,
      ...layoutLines(parseEmvPayload(qr.payload).objects),
      `   Signed: the UTF-8 of ${JSON.stringify(tillSigningContext)} + the payload up to, not including, '91' (${code.signingInput.length} bytes).`,
      `   Check it with a second implementation (the signature needs the services up, e.g. \`npm start\`): python3 docs/verify-emvqr.py '${qr.payload}' --gateway ${deployment.gateway}`,
      '',
    ].join('\n'),
  );

  const offer = await wallet.readTillQr(qr.payload);
  io.stdout(
    `2. The wallet read it: CRC, layout and expiry checked; the merchant's certificate from the FSP (GET /parties/${merchant.id}) verified under the FSP's key; the signature verified. It shows: pay ${offer.amount.currency} ${formatDecimalAmount(offer.amount)} to ${offer.merchantName} (${offer.merchantId}).\n`,
  );
  const forged = await refusalOf(
    wallet.readTillQr(alteredCopy(qr.payload, formatDecimalAmount(code.amount))),
  );
  io.stdout(`   A copy with the amount changed to 0.01 and the CRC recomputed is refused: ${forged}.\n`);

  await wallet.unlock(customer.pin);
  const abort = new AbortController();
  const request = wallet.tillPaymentRequest(offer, customer.pin, abort.signal);
  let status = 'unknown';
  try {
    const claimed = await wallet.claimTill(offer);
    io.stdout(
      `3. The customer claims it (POST /m-trade/claims, signed with the device key): the FSP verified the code again, recorded the claim at ${claimed.claimedAt} and queued the merchant's trade.claimed webhook, signed by ${context.fsp.id}.\n`,
    );
    const claim = await waitForClaim(context, qr.transactionId);
    io.stdout(
      `4. The till learns who claimed it (GET /m-trade/claims/${qr.transactionId}, the FSP's signed statement): ${claim.customer}, EUR ${formatDecimalAmount(claim.amount)}.\n`,
    );
    const accepted = await context.merchantClient.requestPayment({
      customer: claim.customer,
      amount: claim.amount,
      procedure: 'm-trade',
      transactionId: qr.transactionId,
      description: 'At the till: 2 coffees',
    });
    const merchantSign = context.trace.find((message) => message.step === 'merchant-signature')?.compact;
    io.stdout(
      `5. The till sends the ordinary iMS payment request (m-trade, the same transaction id; ${merchantSign === undefined ? 'signed' : signedWith(merchantSign)}): the FSP checked it is what was claimed (merchant, customer, amount), countersigned and pushed it to the device (level ${accepted.securityLevel}).\n`,
    );
    const view = await request;
    if (!wallet.matchesOffer(view, offer)) throw new MpayError('TRADE_CLAIM_MISMATCH');
    io.stdout(
      `6. The wallet verified the FSP's and the merchant's signatures and matched the request to the code it claimed (transaction, payee, amount); the customer confirms with one action plus PIN.\n`,
    );
    const receipt = await wallet.confirm(view, customer.pin);
    status = String((receipt.payload.receipt as { status?: unknown } | undefined)?.status ?? 'unknown');
    io.stdout(
      `7. ${demoParties.bank.id} verified the customer's own signature under the key it bound to the account; the banks moved the money; receipt (${status}) signed by ${String(receipt.payload.iss)}.\n`,
    );
  } finally {
    abort.abort();
  }
  const after = await balancesOf(context, customer.account);
  io.stdout(
    [
      `8. Customer at ${demoParties.bank.id}: ${formatMinor(before.customer)} → ${formatMinor(after.customer)}; merchant at ${demoParties.merchantBank.id}: ${formatMinor(before.merchant)} → ${formatMinor(after.merchant)}.`,
      `9. ${(await logEvidence(context, qr.transactionId)).line}\n`,
    ].join('\n'),
  );
  const out = flags.get('out');
  if (out !== undefined) {
    const folder = resolve(out);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'till-qr.txt'), `${qr.payload}\n`);
    io.stdout(`\nWrote the QR payload to ${join(folder, 'till-qr.txt')}\n`);
  }
  return status === 'completed' && forged === 'QR_SIGNATURE_INVALID' ? 0 : 1;
}
