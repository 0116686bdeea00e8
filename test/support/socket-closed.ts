import type { Socket } from 'node:net';
import { requestDeadlineMs, within } from './deadlines.ts';

/**
 * Waits, within the request deadline, for the other side to close `socket`, however it closes it: a FIN
 * and a reset (ECONNRESET, when the peer closes with bytes of ours still unread) both count. `events.once`
 * would reject on the reset's 'error' event, which makes a test that expects the close fail now and then.
 */
export async function socketClosed(socket: Socket, what: string): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    socket.on('error', () => undefined);
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
  await within(closed, { deadlineMs: requestDeadlineMs, what });
}
