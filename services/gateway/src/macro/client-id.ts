import { verifyPayload } from '@mpay/envelope';
import { errorFromAnswer, requestAnswer, signRequest } from '@mpay/http-client';
import {
  isMpayError,
  type MacroClientIdContent,
  MpayError,
  parseMacroClientIdContent,
  signedContentMatches,
} from '@mpay/protocol';
import type { GatewayContext } from '../context.ts';
import type { BankRecord } from '../registry/banks.ts';

/** The bank's statement verifies for a day, as its answers to orders do (the bank's lifetime). */
const clientIdStatementAgeSecondsMax = 86_400;
const clientIdAnswerBytesMax = 16 * 1024;

export interface ClientIdFromBank {
  readonly content: MacroClientIdContent;
  /** The bank's compact JWS: the evidence the MPASP keeps. */
  readonly statement: string;
}

function invalidAnswer(): never {
  throw new MpayError('BANK_ANSWER_INVALID');
}

/**
 * Asks the client bank for its customer's client id (seed 002 §3: "the bank
 * issues the ID for registered users"): POST /macro/clients, signed by the
 * FSP. The bank checks that the binding is its own, its customer's and
 * active, and answers a statement signed by its key; the MPASP uses the id
 * only once that statement verifies under the key it registered for that
 * bank, is addressed to it and names this customer at that bank. A refusal
 * (KEY_BINDING_REVOKED …) comes back with the bank's code.
 */
export async function requestClientId(
  context: GatewayContext,
  bank: BankRecord,
  request: { readonly partyId: string; readonly msisdn: string; readonly bindingSerial: string },
): Promise<ClientIdFromBank> {
  const path = '/macro/clients';
  const body = JSON.stringify(request);
  const authorization = await signRequest(
    { method: 'POST', path, body },
    { issuer: context.fsp.id, audience: bank.id, key: context.fsp.signing.privateJwk },
  );
  const answer = await requestAnswer(
    `${bank.url}${path}`,
    {
      body,
      contentType: 'application/json',
      headers: { authorization },
      timeoutMs: context.limits.bankTimeoutMs,
      responseBytesMax: clientIdAnswerBytesMax,
    },
    'BANK_UNAVAILABLE',
  );
  if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer.body, answer.status);
  const { clientId, statement } = (answer.body ?? {}) as { clientId?: unknown; statement?: unknown };
  if (typeof clientId !== 'string' || typeof statement !== 'string') invalidAnswer();
  const verified = await verifyPayload(
    statement,
    (kid) => (kid === bank.signingJwk.kid ? bank.signingJwk : undefined),
    { issuer: bank.id, audience: context.fsp.id, transactionId: clientId },
    { maxAgeSeconds: clientIdStatementAgeSecondsMax, clockSkewSeconds: context.limits.clockSkewSeconds },
  ).catch(invalidAnswer);
  let content: MacroClientIdContent;
  try {
    content = parseMacroClientIdContent(verified.payload.macroClient);
  } catch (error) {
    if (isMpayError(error)) invalidAnswer();
    throw error;
  }
  if (
    !signedContentMatches(verified.payload, { macroClient: content }) ||
    content.clientId !== clientId ||
    content.partyId !== request.partyId ||
    content.bankId !== bank.id
  ) {
    invalidAnswer();
  }
  return { content, statement };
}
