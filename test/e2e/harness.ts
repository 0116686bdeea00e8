import { randomBytes } from 'node:crypto';
import {
  bankOperator,
  demoParties,
  type Platform,
  type PlatformOptions,
  platformSchemas,
  startPlatform,
} from '@mpay/cli';
import { encryptTo, type PrivateJwk, signPayload } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { verifyReceipt } from '@mpay/merkle';
import {
  defaultSecurityPolicy,
  type ImsMessage,
  imsToJson,
  isMpayError,
  merchantSignedContent,
  parseSecurityPolicy,
  type SecurityPolicy,
  securityPolicyToJson,
} from '@mpay/protocol';
import {
  type FspTrust,
  fetchBankTrust,
  fetchFspTrust,
  fspEncryptionKey,
  MerchantClient,
  Wallet,
} from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { assertAnswersMatchDocuments, installAnswerContract } from '../support/answer-contract.ts';
import { paymentSettledDeadlineMs, platformStartDeadlineMs, waitFor, within } from '../support/deadlines.ts';

/** A whole platform on loopback: real HTTP, real crypto, PGlite in memory or a fresh PostgreSQL schema set. */
export interface TestPlatform {
  platform: Platform;
  fsp: FspTrust;
  merchant: MerchantClient;
  wallet: () => Wallet;
  balances(): Promise<{ customer: bigint; merchant: bigint }>;
  close(): Promise<void>;
}

/**
 * The suites pay many times in a few minutes from one demo customer, which the
 * default policy would (rightly) step up to large once the sum since the last
 * large payment passes €500. Outside the security-level tests, the suites use
 * the defaults with that sum lifted; the level tests pass the defaults.
 */
export const suitePolicy: SecurityPolicy = parseSecurityPolicy({
  ...securityPolicyToJson(defaultSecurityPolicy),
  currencies: Object.fromEntries(
    Object.entries(
      securityPolicyToJson(defaultSecurityPolicy).currencies as Record<string, PolicyCurrency>,
    ).map(([currency, rules]) => [
      currency,
      { ...rules, medium: { ...rules.medium, cumulativeMaxMinor: '100000000000' } },
    ]),
  ),
});

type PolicyCurrency = { medium: Record<string, unknown> } & Record<string, unknown>;

export async function startTestPlatform(
  options: Pick<
    PlatformOptions,
    | 'gatewayLimits'
    | 'gatewayClock'
    | 'bankClock'
    | 'securityPolicy'
    | 'macroLimits'
    | 'dataDir'
    | 'web'
    | 'gateways'
  > = {},
): Promise<TestPlatform> {
  const databaseUrl = process.env.DATABASE_URL;
  // Every answer of every service is checked against its OpenAPI document as the suite runs.
  installAnswerContract();
  const schemaPrefix = `e2e_${randomBytes(4).toString('hex')}_`;
  // startPlatform runs in this process and resolves once every service listens and the demo is seeded:
  // that is its readiness. The named deadline only turns a hang into a failure that says so.
  const platform = await within(
    startPlatform({
      databaseUrl,
      schemaPrefix,
      backgroundIntervalMs: 100,
      // The suite asks one demo customer for many payments in a minute; the rate tests set their own.
      gatewayLimits: { paymentRequestsPerCustomerMax: 1_000, ...options.gatewayLimits },
      ...(options.gatewayClock === undefined ? {} : { gatewayClock: options.gatewayClock }),
      ...(options.bankClock === undefined ? {} : { bankClock: options.bankClock }),
      ...(options.macroLimits === undefined ? {} : { macroLimits: options.macroLimits }),
      // A data folder keeps keys, mail and deployment.json where the CLI's commands find them.
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.web === undefined ? {} : { web: options.web }),
      ...(options.gateways === undefined ? {} : { gateways: options.gateways }),
      securityPolicy: options.securityPolicy ?? suitePolicy,
    }),
    { deadlineMs: platformStartDeadlineMs, what: 'the platform (startPlatform) to start' },
  );
  const fsp = await fetchFspTrust(platform.urls.gateway);
  const merchant = new MerchantClient({
    gatewayUrl: platform.urls.gateway,
    merchantId: demoParties.merchant.id,
    signingKey: platform.credentials.merchantKeys.signing.privateJwk,
    fsp,
    banks: await Promise.all(platform.banks.map((bank) => fetchBankTrust(bank.url))),
  });
  const balance = async (bankId: string, account: string) => {
    const bank = platform.banks.find((candidate) => candidate.id === bankId)!;
    const { balance } = await bankOperator(bank, bank.operatorKey).get<{ balance: string }>(
      `/accounts/${account}`,
    );
    return BigInt(balance);
  };
  return {
    platform,
    fsp,
    merchant,
    wallet: () =>
      new Wallet({
        gatewayUrl: platform.urls.gateway,
        keystore: structuredClone(platform.credentials.customerKeystore),
        fsp,
      }),
    balances: async () => ({
      customer: await balance(demoParties.bank.id, demoParties.customer.account),
      merchant: await balance(demoParties.merchantBank.id, demoParties.merchant.account),
    }),
    async close() {
      await platform.close();
      if (databaseUrl)
        for (const schema of platformSchemas)
          await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
      assertAnswersMatchDocuments();
    },
  };
}

/** POSTs a raw body and returns status and stable error code (if any), never throwing on HTTP errors. */
export async function postRaw(
  url: string,
  body: string,
  contentType = 'application/jose',
  headers: Record<string, string> = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType, ...headers },
  });
  const json = (await response.json()) as { error?: { code: string } } & Record<string, unknown>;
  return { status: response.status, code: json.error?.code, body: json };
}

export async function expectCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

/** A merchant-signed message with claims chosen by the test (expired, other key …), encrypted to the FSP. */
export async function craftMerchantRequest(
  test: TestPlatform,
  options: {
    key?: PrivateJwk;
    now?: () => number;
    mutate?: (message: ImsMessage) => ImsMessage;
    rawJson?: (json: Record<string, unknown>) => void;
  } = {},
): Promise<{ jwe: string; message: ImsMessage }> {
  const { message } = await test.merchant.buildPaymentRequest({
    customer: demoParties.customer.id,
    amount: { currency: 'EUR', minor: 5_00n },
  });
  const sign = await signPayload(
    merchantSignedContent(message),
    {
      issuer: demoParties.merchant.id,
      audience: test.fsp.id,
      transactionId: message.transactionId,
      expiresInSeconds: 300,
      ...(options.now ? { now: options.now } : {}),
    },
    options.key ?? test.platform.credentials.merchantKeys.signing.privateJwk,
  );
  const signed = { ...message, address: { ...message.address, to: { ...message.address.to, sign } } };
  const final = options.mutate ? options.mutate(signed) : signed;
  const json = imsToJson(final) as unknown as Record<string, unknown>;
  options.rawJson?.(json);
  return { jwe: await encryptTo(JSON.stringify({ ims: json }), fspEncryptionKey(test.fsp)), message: final };
}

/** A payment's evidence file from the gateway, as the merchant (a party of the payment) asks for it, once the log proved it. */
export async function evidenceOf(test: TestPlatform, paymentId: string): Promise<string> {
  const path = `/payments/${paymentId}/evidence`;
  return waitFor(
    async () => {
      const authorization = await signRequest(
        { method: 'GET', path, body: '' },
        {
          issuer: demoParties.merchant.id,
          audience: test.fsp.id,
          key: test.platform.credentials.merchantKeys.signing.privateJwk,
        },
      );
      const response = await fetch(`${test.platform.urls.gateway}${path}`, { headers: { authorization } });
      const text = await response.text();
      if (response.status !== 200 && response.status !== 202)
        throw new Error(`evidence: HTTP ${response.status} ${text}`);
      return response.status === 200 ? text : undefined;
    },
    { deadlineMs: paymentSettledDeadlineMs, what: `the evidence of payment ${paymentId}` },
  );
}

/** The payment's evidence, verified under the platform's log and witness keys. */
export async function verifiedEvidence(test: TestPlatform, paymentId: string) {
  return verifyReceipt(await evidenceOf(test, paymentId), {
    logVerifierKey: test.platform.log.logVerifierKey,
    witnessVerifierKeys: [test.platform.log.witnessVerifierKey],
    witnessesRequired: 1,
  });
}
