import { randomUUID } from 'node:crypto';
import { encryptTo, type PublicJwk, parsePublicJwk, signPayload } from '@mpay/envelope';
import {
  type ClientBankRequestContent,
  createAmount,
  createSession,
  createTranId,
  createTransactionData,
  hashTransactionData,
  macroAmountOf,
  type PAppRespContent,
  type TransactionData,
} from '@mpay/protocol';
import type { TestBankNode, TestBankPair } from '../interbank/test-banks.ts';
import {
  type EnrolledKey,
  enrolTestCustomer,
  type HttpAnswer,
  testBearerToken,
  uniquePartyId,
} from '../test-helpers.ts';
import { sha256 } from './approval-request.ts';

/**
 * Test-only set-up for macro payments between the two test banks of
 * startBankPair (Seed 002 §4.2 steps 6 and 7): xbank is the client bank (CB),
 * the test plays the MPASP (the FSP both banks know) and the client's device.
 * Each test file keeps what only it needs (consents with changed content, a
 * rogue merchant bank, …) and builds it from these parts.
 */

/** The client bank of every payment made here (ID_CB). */
const clientBankId = 'xbank';

/**
 * One HTTP request to a test bank, as a device or another system sends it
 * (unlike node.call, with the caller's own headers); a JSON body when
 * `body` is given.
 */
export async function bankRequest(
  node: TestBankNode,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A request authenticated by the test verifier as `caller` (named by x-test-caller), e.g. the FSP. */
export function requestAsCaller(
  node: TestBankNode,
  caller: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<HttpAnswer> {
  return bankRequest(node, method, path, body, {
    authorization: `Bearer ${testBearerToken}`,
    'x-test-caller': caller,
  });
}

/** A bank's published keys (GET /bank): the first signing key and the encryption key devices seal to. */
export async function publishedBankKeys(
  node: TestBankNode,
): Promise<{ readonly signingJwk: PublicJwk; readonly encryptionJwk: PublicJwk }> {
  const published = await node.call('GET', '/bank');
  return {
    signingJwk: parsePublicJwk((published.body.keys as { keys: unknown[] }).keys[0]),
    encryptionJwk: parsePublicJwk(published.body.encryptionJwk),
  };
}

/** A customer of the client bank enrolled for macro payments. */
export interface MacroClient {
  readonly partyId: string;
  /** ID_C, issued by POST /macro/clients. */
  readonly clientId: string;
  readonly accountId: string;
  /** The device's keys, bound to the account. */
  readonly device: EnrolledKey;
}

/** Moves `amount` (EUR minor units) from a new funding account into `accountId`; throws unless booked. */
export async function fundAccount(node: TestBankNode, accountId: string, amount: bigint): Promise<void> {
  const funding = await node.openAccount('funding');
  const answer = await node.call('POST', '/transfers', {
    id: randomUUID(),
    debitAccountId: funding,
    creditAccountId: accountId,
    amount: `${amount}`,
    currency: 'EUR',
  });
  if (answer.status !== 201) throw new Error(`fund: ${JSON.stringify(answer.body)}`);
}

/**
 * A new party at the client bank (its id starting with `prefix`) with an
 * account holding `balance`, an enrolled device, and a macro client id
 * issued for that device's binding.
 */
export async function newMacroClient(
  node: TestBankNode,
  prefix: string,
  balance: bigint,
): Promise<MacroClient> {
  const partyId = uniquePartyId('person', node.name, prefix);
  const accountId = await node.openAccount('customer', partyId);
  if (balance > 0n) await fundAccount(node, accountId, balance);
  const device = await enrolTestCustomer(node, partyId, [accountId]);
  const issued = await node.call('POST', '/macro/clients', {
    partyId,
    msisdn: `+4916${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`,
    bindingSerial: device.serial,
  });
  if (issued.status !== 201) throw new Error(`client id: ${JSON.stringify(issued.body)}`);
  return { partyId, accountId, device, clientId: issued.body.clientId as string };
}

/** A payment as the MPASP knows it after step 5, with what the client put in TransactionData at step 1. */
export interface MacroTestPayment {
  readonly client: MacroClient;
  /** ID_M, the payee named in TransactionData. */
  readonly merchantId: string;
  /** SID_T */
  readonly sessionId: string;
  /** ID_T */
  readonly transactionId: string;
  /** The amount in EUR minor units. */
  readonly minor: bigint;
  /** TransactionData.date, whole seconds. */
  readonly date: Date;
  /** T_EXP, ISO form. */
  readonly expiresAt: string;
}

function random16(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** A fresh payment (new ID_T and SID_T) of `minor` EUR cents to `merchantId`, expiring after `lifetimeSeconds`. */
export function newMacroPayment(
  client: MacroClient,
  merchantId: string,
  minor: bigint,
  lifetimeSeconds = 300,
): MacroTestPayment {
  const date = new Date(Math.floor(Date.now() / 1000) * 1000);
  const transactionId = createTranId(client.clientId, date, random16());
  return {
    client,
    merchantId,
    sessionId: createSession(transactionId, random16()),
    transactionId,
    minor,
    date,
    expiresAt: new Date(date.getTime() + lifetimeSeconds * 1000).toISOString(),
  };
}

/** The payment's TransactionData, from its date, amount and merchant. */
export function transactionDataOf(payment: MacroTestPayment): TransactionData {
  return createTransactionData({
    date: payment.date,
    amount: createAmount('EUR', payment.minor),
    merchantId: payment.merchantId,
  });
}

/** h(TransactionData) of the payment. */
export function transactionDataHashOf(payment: MacroTestPayment): string {
  return hashTransactionData(transactionDataOf(payment), sha256);
}

/**
 * Step 6 as the MPASP sends it: the FSP's JWS over ClientBankRequestContent
 * (with `change` spread over the content, the signature still the FSP's),
 * POSTed to /macro/payment-requests on a request authenticated as the FSP.
 */
export async function sendPaymentRequest(
  pair: TestBankPair,
  payment: MacroTestPayment,
  change: Partial<ClientBankRequestContent> = {},
): Promise<HttpAnswer> {
  const content: ClientBankRequestContent = {
    kind: 'macro_client_bank_request',
    from: pair.fsp.id,
    to: clientBankId,
    sessionId: payment.sessionId,
    transactionId: payment.transactionId,
    clientId: payment.client.clientId,
    amount: macroAmountOf(createAmount('EUR', payment.minor)),
    transactionDataHash: transactionDataHashOf(payment),
    expiresAt: payment.expiresAt,
    ...change,
  };
  const jws = await signPayload(
    content,
    { issuer: pair.fsp.id, audience: clientBankId, transactionId: payment.sessionId, expiresInSeconds: 300 },
    pair.fsp.signingKey,
  );
  return postPaymentRequest(pair, { request: jws });
}

/** POST /macro/payment-requests at the client bank as the FSP, with any body. */
export function postPaymentRequest(pair: TestBankPair, body: unknown): Promise<HttpAnswer> {
  return requestAsCaller(pair.x, pair.fsp.id, 'POST', '/macro/payment-requests', body);
}

export interface PAppRespOptions {
  readonly decision?: PAppRespContent['decision'];
  /** The key that signs (the client's device by default). */
  readonly signer?: EnrolledKey;
  /** The JWS issuer (the signer's party by default). */
  readonly issuer?: string;
}

/**
 * Step 7 as the device makes it: PApp_Resp for `payment` (TransactionData
 * and its hash computed from the payment, so a payment changed by spreading
 * stays self-consistent), signed with the device's bound key and sealed to
 * the client bank's `bankEncryptionJwk`.
 */
export async function sealedPAppResp(
  payment: MacroTestPayment,
  bankEncryptionJwk: PublicJwk,
  options: PAppRespOptions = {},
): Promise<string> {
  const data = transactionDataOf(payment);
  const content: PAppRespContent = {
    kind: 'macro_papp_resp',
    from: payment.client.clientId,
    to: clientBankId,
    sessionId: payment.sessionId,
    transactionId: payment.transactionId,
    amount: data.amount,
    transactionDate: data.date,
    merchantId: data.merchantId,
    merchantBankId: data.merchantBankId,
    transactionDataHash: hashTransactionData(data, sha256),
    expiresAt: payment.expiresAt,
    decision: options.decision ?? 'approve',
  };
  const signer = options.signer ?? payment.client.device;
  const pappResp = await signPayload(
    content,
    {
      issuer: options.issuer ?? signer.partyId,
      audience: clientBankId,
      transactionId: payment.sessionId,
      expiresInSeconds: 120,
    },
    signer.signing.privateJwk,
  );
  return encryptTo(JSON.stringify({ pappResp }), bankEncryptionJwk);
}

/** POST /macro/approvals/:sessionId: the device hands the client bank a sealed PApp_Resp. */
export function postApproval(node: TestBankNode, sessionId: string, approval: string): Promise<HttpAnswer> {
  return bankRequest(node, 'POST', `/macro/approvals/${sessionId}`, { approval });
}
