import { MpayError } from '@mpay/protocol';
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { writeEvent } from '../devices/hub.ts';
import { pendingPushes } from '../payments/store.ts';
import { resolveParty } from '../registry/parties.ts';
import { authenticateParty } from './auth.ts';

/**
 * The customer's device listens here (Server-Sent Events) for payment requests
 * encrypted to its key. On connect it first receives every request still
 * waiting for it, so nothing is lost while it was offline.
 */
export function registerDeviceRoutes(app: FastifyInstance, context: GatewayContext): void {
  app.get('/devices/events', async (request, reply) => {
    const partyId = await authenticateParty(context, request);
    const party = await resolveParty(context.database, partyId);
    if (party.kind !== 'person') throw new MpayError('FORBIDDEN');
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    if (!context.hub.attach(partyId, stream)) {
      stream.end('event: error\ndata: REQUEST_RATE_LIMITED\n\n');
      return;
    }
    stream.write(': connected\n\n');
    for (const payment of await pendingPushes(context.database, partyId)) {
      writeEvent(stream, { event: 'payment-request', id: payment.id, data: payment.pushMessage! });
    }
  });
}
