import { once } from 'node:events';
import { connect } from 'node:net';
import { socketClosed } from './socket-closed.ts';

/**
 * What a port on loopback sends back to a plain HTTP request (`GET /health`) before it closes the
 * connection, as latin1 text: a TLS port sends no HTTP status line.
 */
export async function plainHttpAnswerOf(port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await socketClosed(socket, 'the TLS port to close');
  return Buffer.concat(chunks).toString('latin1');
}
