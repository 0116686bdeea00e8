import type { IncomingHttpHeaders } from 'node:http';
import { gzipAnswers, requestCodingsTaken } from '@mpay/http-server';
import {
  deviceCertificatesHeader,
  deviceCertificatesMax,
  MpayError,
  parseCertificateReferences,
} from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { EventStream } from '../devices/event-stream.ts';
import { writeEvent } from '../devices/hub.ts';
import { pendingRequestsPage } from '../payments/store.ts';
import { type DeviceStreamRequest, recordDeviceStream } from '../registry/bindings.ts';
import { findParty } from '../registry/parties.ts';
import { deviceEventStream, devicePaymentRequests } from './answers.ts';
import { authenticateParty } from './auth.ts';

const cursorPattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_([0-9a-f-]{36})$/;

function parseCursor(value: unknown): { createdAt: Date; id: string } | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? cursorPattern.exec(value) : null;
  if (match === null) throw new MpayError('REQUEST_INVALID', 'after');
  return { createdAt: new Date(match[1] as string), id: match[2] as string };
}

async function customerOf(context: GatewayContext, partyId: string): Promise<string> {
  const party = await findParty(context.database, partyId);
  if (party?.kind !== 'person') throw new MpayError('FORBIDDEN');
  return party.id;
}

/** What a wallet's stream request says of it (`?push=v2`, the `mpay-certificates` header or, from an older wallet, `?certificates=…`): hints, anything else read as none. */
export function deviceStreamRequestOf(
  query: unknown,
  headers: IncomingHttpHeaders = {},
): DeviceStreamRequest {
  const { push, certificates } = (query ?? {}) as { push?: unknown; certificates?: unknown };
  // The header (what the SDK sends: not written into URLs and their logs) over the query (older wallets).
  const header = headers[deviceCertificatesHeader];
  const listed = typeof header === 'string' ? header : certificates;
  let held: readonly string[] | undefined;
  try {
    held = typeof listed === 'string' ? parseCertificateReferences(listed) : undefined;
  } catch {
    held = undefined;
  }
  return { pushFormat: push === 'v2' ? 'v2' : 'v1', certificates: held };
}

/** How long a device that connected may take to read its next backlog event before its stream is cut off. */
const deviceBacklogReadDeadlineMs = 30_000;

/**
 * The customer's device listens here (Server-Sent Events) for payment
 * requests encrypted to its key. On connect it first receives every request
 * still waiting for it, newest first (the newest is the one the customer is
 * most likely looking at the till for), page by page, so nothing is lost
 * while it was offline and no flood of old requests hides a new one.
 */
export function registerDeviceRoutes(app: FastifyInstance, context: GatewayContext): void {
  const tags = ['devices'];
  const eventsSchema = {
    summary: "The customer's device stream of payment requests (Server-Sent Events)",
    tags,
    // Hints only: any other value, or a parameter a later wallet sends, reads as none (an older gateway's 400
    // must not keep a newer wallet from its requests).
    querystring: {
      type: 'object',
      properties: {
        push: {
          type: 'string',
          description:
            '`v2`: the wallet reads `push/v2` (both signatures detached, their claims beside the message). Otherwise requests made from now on are `push/v1`, the whole message.',
        },
        certificates: {
          type: 'string',
          description: `As the \`${deviceCertificatesHeader}\` header, from a wallet before it (in the URL, the list is written into request logs; the header wins when both are sent).`,
        },
      },
    },
    headers: {
      type: 'object',
      properties: {
        [deviceCertificatesHeader]: {
          type: 'string',
          description: `Sent (even empty) by a wallet that reads a merchant certificate named by reference in push/v2: the ones it holds, as comma-separated references (base64url SHA-256 of each certificate's text, at most ${deviceCertificatesMax}). A list that does not parse counts as not sent.`,
        },
      },
    },
    response: { 200: deviceEventStream },
  };
  // No HEAD twin: a stream's head would never be sent, and it would hold a slot.
  app.get('/devices/events', { schema: eventsSchema, exposeHeadRoute: false }, async (request, reply) => {
    const signer = await authenticateParty(context, request);
    const customerId = await customerOf(context, signer.partyId);
    // What this wallet reads and holds decides the form of the requests encrypted to it from now on:
    // recorded for a stream the hub has room for, before the device sees the stream open.
    const said = deviceStreamRequestOf(request.query, request.headers);
    if (context.hub.hasRoomFor(customerId))
      await recordDeviceStream(context.database, signer.kid, said, context.clock());
    reply.hijack();
    // gzipped for a device that takes it (about a quarter of every push: devices/event-stream.ts).
    const stream = EventStream.open(reply.raw, request.headers, { compress: context.hub.mayCompress() });
    if (!context.hub.attach(customerId, stream)) {
      stream.end('event: error\ndata: REQUEST_RATE_LIMITED\n\n');
      return;
    }
    stream.write(': connected\n\n');
    const now = context.clock();
    // Once for the whole backlog: a reload of the limits meanwhile must not change what a full page is.
    const pageSize = context.limits.devicePageSize;
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await pendingRequestsPage(context.database, customerId, now, pageSize, after);
      for (const pending of page) {
        // Each once the device has read enough of what came before (a backlog can be larger than a stream holds).
        if (!(await stream.whenRoom(deviceBacklogReadDeadlineMs))) return;
        writeEvent(stream, { event: 'payment-request', id: pending.id, data: pending.pushMessage });
      }
      const last = page.at(-1);
      if (last === undefined || page.length < pageSize) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
  });

  // The same pending requests as a paged list, newest first: `?after=<cursor>` continues.
  const pageSchema = {
    summary: 'The payment requests waiting for the customer, newest first, page by page',
    tags,
    querystring: { type: 'object', properties: { after: { type: 'string', maxLength: 64 } } },
    response: { 200: devicePaymentRequests },
  };
  app.get(
    '/devices/payment-requests',
    { schema: pageSchema, onSend: gzipAnswers() },
    async (request, reply) => {
      // The confirmation takes a gzipped body: said before the device confirms one of these.
      reply.header('accept-encoding', requestCodingsTaken);
      const customerId = await customerOf(context, (await authenticateParty(context, request)).partyId);
      const after = parseCursor((request.query as { after?: unknown }).after);
      // Once per request: a reload of the limits meanwhile must not change what a full page is.
      const pageSize = context.limits.devicePageSize;
      const page = await pendingRequestsPage(context.database, customerId, context.clock(), pageSize, after);
      const last = page.at(-1);
      return {
        requests: page.map((pending) => ({ paymentId: pending.id, message: pending.pushMessage })),
        ...(last !== undefined && page.length === pageSize
          ? { next: `${last.createdAt.toISOString()}_${last.id}` }
          : {}),
      };
    },
  );
}
