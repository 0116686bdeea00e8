import { generateSigningKeyPair } from '@mpay/envelope';
import { imsFromJson, imsFromXml, imsToJson, imsToXml, MpayError } from '@mpay/protocol';
import { readServerSentEvents } from '@mpay/sdk';
import fc from 'fast-check';
import { imsMessageArbitrary } from '../../packages/protocol/src/ims/arbitraries.test-helper.ts';
import {
  type FundsTransfer,
  signAnswer,
  signFundsTransfer,
  verifyAnswer,
  verifyFundsTransfer,
} from '../../services/bank/src/interbank/messages.ts';
import { createInterbank } from '../../services/bank/src/interbank/peers.ts';
import {
  type RefundTransfer,
  signRefundAnswer,
  signRefundTransfer,
  verifyRefundAnswer,
  verifyRefundTransfer,
} from '../../services/bank/src/interbank/refund-messages.ts';
import { jsonMember } from '../../services/gateway/src/payments/verify.ts';
import { parseRefundRequestBody } from '../../services/gateway/src/refunds/request.ts';
import { type BankRegistration, parseBankRegistration } from '../../services/gateway/src/registry/banks.ts';
import { type Campaign, campaign, runEach } from '../harness.ts';
import { type Json, jsonInputs, textInputs } from '../mutate.ts';
import { type JwsInput, jwsInputs, jwsOf } from './jws.ts';
import { macroSamples } from './macro-samples.ts';

/** Two banks that know each other: xbank (the customer's) and ybank (the merchant's). */
async function twoBanks() {
  const [xKey, yKey] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
  const xPeer = { id: 'xbank', url: 'http://127.0.0.1:9', signingJwk: xKey.publicJwk };
  const yPeer = { id: 'ybank', url: 'http://127.0.0.1:9', signingJwk: yKey.publicJwk };
  const xbank = createInterbank('xbank', { signingKey: xKey.privateJwk, peers: [yPeer] });
  const ybank = createInterbank('ybank', { signingKey: yKey.privateJwk, peers: [xPeer] });
  return { xbank, ybank, xPeer, yPeer, xKey, yKey };
}

/** Deadlines a minute after the fixture is made, in the wire form (milliseconds, Z). */
const deadline = () => new Date(Date.now() + 60_000).toISOString();
const interbankTokens = [
  'xbank',
  'ybank',
  'EUR',
  'credited',
  'refused',
  'fundsTransfer',
  'macroFundsTransfer',
  'payAck',
];

const interbankTransfer = campaign(
  'interbank-transfer',
  'verifyFundsTransfer and verifyAnswer (bank ⇄ bank funds transfer, its macro FT content and Pay_Ack)',
  async () => {
    const { xbank, ybank, yPeer, xKey, yKey } = await twoBanks();
    const transfer: FundsTransfer = {
      id: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
      debtorBank: 'xbank',
      creditorBank: 'ybank',
      payeeId: 'merkur.trade@merchant.ybank',
      amount: '125000',
      currency: 'EUR',
      reference: 'order 42',
      deadline: deadline(),
    };
    const transfers = await Promise.all([
      signFundsTransfer(xbank, transfer),
      signFundsTransfer(xbank, transfer, macroSamples.macro_funds_transfer),
    ]);
    const answers = await Promise.all([
      signAnswer(ybank, 'xbank', { id: transfer.id, outcome: 'credited' }),
      signAnswer(ybank, 'xbank', { id: transfer.id, outcome: 'refused', code: 'LIMIT_EXCEEDED' }),
      signAnswer(
        ybank,
        'xbank',
        { id: transfer.id, outcome: 'credited' },
        'fundsTransferAnswer',
        () => macroSamples.macro_pay_ack,
      ),
    ]);
    return {
      arbitrary: fc.oneof(
        jwsInputs(transfers, interbankTokens).map((input) => ({ answer: false, input })),
        jwsInputs(answers, interbankTokens).map((input) => ({ answer: true, input })),
      ),
      run: async ({ answer, input }: { answer: boolean; input: JwsInput }) =>
        answer
          ? verifyAnswer(xbank, yPeer, await jwsOf(input, yKey.privateJwk), transfer.id)
          : verifyFundsTransfer(ybank, await jwsOf(input, xKey.privateJwk)),
    };
  },
);

const interbankRefund = campaign(
  'interbank-refund',
  'verifyRefundTransfer and verifyRefundAnswer (bank ⇄ bank refund transfer and its answer)',
  async () => {
    const { xbank, ybank, xPeer, xKey, yKey } = await twoBanks();
    const refund: RefundTransfer = {
      id: '1c9f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
      debtorBank: 'ybank',
      creditorBank: 'xbank',
      originalOrderId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
      payerId: 'merkur.trade@merchant.ybank',
      payeeId: 'john.bernard@person.xbank',
      amount: '500',
      currency: 'EUR',
      reference: 'refund order 42',
      deadline: deadline(),
    };
    const transfers = [await signRefundTransfer(ybank, refund)];
    const answers = await Promise.all([
      signRefundAnswer(xbank, 'ybank', { id: refund.id, outcome: 'credited' }),
      signRefundAnswer(xbank, 'ybank', { id: refund.id, outcome: 'refused', code: 'ACCOUNT_CLOSED' }),
    ]);
    return {
      arbitrary: fc.oneof(
        jwsInputs(transfers, interbankTokens).map((input) => ({ answer: false, input })),
        jwsInputs(answers, interbankTokens).map((input) => ({ answer: true, input })),
      ),
      run: async ({ answer, input }: { answer: boolean; input: JwsInput }) =>
        answer
          ? verifyRefundAnswer(ybank, xPeer, await jwsOf(input, xKey.privateJwk), refund.id)
          : verifyRefundTransfer(xbank, await jwsOf(input, yKey.privateJwk)),
    };
  },
);

/** The gateway's handling of a message opened for the FSP: XML when it starts with '<', else `{"ims": …}`. */
function openedMessage(plaintext: string) {
  if (plaintext.trimStart().startsWith('<')) return imsFromXml(plaintext);
  return imsFromJson(jsonMember(plaintext, 'ims'));
}

/**
 * POST /admin/banks validates its body with a JSON schema (bankSchema in routes/registry.ts) before
 * parseBankRegistration sees it: the campaign lets through only what that schema lets through.
 */
function bankSchemaGate(body: Json): BankRegistration {
  const record = body as Record<string, Json>;
  const isObject = (value: Json | undefined) =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (
    !isObject(body) ||
    Object.keys(record).some((key) => !['id', 'url', 'signingJwk'].includes(key)) ||
    typeof record.id !== 'string' ||
    record.id.length > 64 ||
    typeof record.url !== 'string' ||
    record.url.length > 500 ||
    !isObject(record.signingJwk)
  )
    throw new MpayError('REQUEST_INVALID', 'schema');
  return body as unknown as BankRegistration;
}

const gatewayBodies = campaign(
  'gateway-bodies',
  "the gateway's body parsers: the opened iMS message (jsonMember + imsFromJson, or imsFromXml), parseRefundRequestBody, parseBankRegistration (behind its route's JSON schema)",
  async () => {
    const messages = fc.sample(imsMessageArbitrary, { numRuns: 10, seed: 7 });
    const plaintexts = [
      ...messages.map((message) => JSON.stringify({ ims: imsToJson(message) })),
      ...messages.slice(0, 3).map((message) => imsToXml(message)),
    ];
    const { xKey } = await twoBanks();
    const bodies: Json[] = [
      { refund: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln', reason: 'damaged on arrival' },
      { refund: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' },
      { id: 'xbank', url: 'http://127.0.0.1:4101', signingJwk: xKey.publicJwk as unknown as Json },
    ];
    return {
      arbitrary: fc.oneof(
        textInputs(plaintexts, { tokens: ['{"ims":', '<iMS>', ' '] }).map((plaintext) => ({ plaintext })),
        jsonInputs(bodies).map((body) => ({ body })),
      ),
      run: (input: { plaintext: string } | { body: Json }) =>
        'plaintext' in input
          ? openedMessage(input.plaintext)
          : runEach([
              () => parseRefundRequestBody(input.body),
              () => parseBankRegistration(bankSchemaGate(input.body)),
            ]),
    };
  },
);

/** The chunks of a response body, as a stream. */
function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

const sse = campaign(
  'sse-reader',
  "readServerSentEvents (the SDK's text/event-stream reader, chunked anyhow)",
  async () => {
    const seeds = [
      'event: payment\nid: 1\ndata: {"a":1}\n\n: keep-alive\n\nevent: refund\r\nid: 2\r\ndata: x\r\ndata: y\r\n\r\n',
      'data: eyJhbGciOiJFQ0RILUVTIn0..aXZ.Y2l.dGF\n\nid\nevent\ndata\n\n',
    ];
    return {
      arbitrary: fc.record({
        text: textInputs(seeds, { tokens: ['\n', '\r', '\r\n', 'data:', 'event:', 'id:', ':', ' '] }),
        cuts: fc.array(fc.nat({ max: 1_000 }), { maxLength: 6 }),
        lineLengthMax: fc.constantFrom(16, 256, 256 * 1024),
      }),
      run: async ({ text, cuts, lineLengthMax }: { text: string; cuts: number[]; lineLengthMax: number }) => {
        // Cut as the network cuts: between bytes, inside a character's UTF-8 sequence too.
        const bytes = new TextEncoder().encode(text);
        const positions = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [...positions, bytes.length].map((end, index) =>
          bytes.subarray(positions[index - 1] ?? 0, end),
        );
        const read = async (parts: readonly Uint8Array[]) => {
          const events = [];
          try {
            for await (const event of readServerSentEvents(streamOf(parts), { lineLengthMax }))
              events.push(event);
          } catch (error) {
            // The stream's own refusal (a limit), with the events read before it; anything else is a defect.
            if (!(error instanceof MpayError)) throw error;
            return { events, refused: error.code };
          }
          return { events, refused: undefined };
        };
        // The events must not depend on how the body was cut into chunks: the same text in one piece.
        const cut = await read(chunks);
        const whole = await read([bytes]);
        if (JSON.stringify(cut) !== JSON.stringify(whole))
          throw new Error(
            `the events depend on the chunks: ${JSON.stringify(cut)} against ${JSON.stringify(whole)}`,
          );
        return cut;
      },
    };
  },
);

export const serviceCampaigns: readonly Campaign[] = [interbankTransfer, interbankRefund, gatewayBodies, sse];
