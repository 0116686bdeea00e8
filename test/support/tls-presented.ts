import { connect, type TLSSocket } from 'node:tls';

/**
 * The SHA-256 fingerprint of the certificate a new TLS connection to
 * 127.0.0.1:`port` is shown (SNI `localhost`), verified with `caPem` as the
 * only trust anchor: what a reload test compares before and after.
 */
export function presentedAt(port: number, caPem: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem });
    socket.once('secureConnect', () => {
      done(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', fail);
  });
}
