import { createServer } from 'node:http';

/**
 * A loopback HTTP server for the tests of bounded reads: GET /small answers a
 * few bytes; any other path answers an endless body (64 KiB chunks, stopped at
 * `bytesMax` whatever happens) until its client goes away. `streamed` says how
 * many bytes it had written then: a client that stops at its limit is seen
 * to have stopped, one that reads it all is not.
 */
export interface EndlessAnswerServer {
  readonly base: string;
  readonly streamed: Promise<number>;
  close(): Promise<void>;
}

export async function startEndlessAnswerServer(bytesMax: number): Promise<EndlessAnswerServer> {
  let closedAfter: (bytes: number) => void = () => undefined;
  const streamed = new Promise<number>((done) => {
    closedAfter = done;
  });
  const server = createServer((request, response) => {
    if (request.url === '/small') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('a small answer');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 120);
    const more = () => {
      while (written < bytesMax && !response.destroyed) {
        written += chunk.length;
        if (!response.write(chunk)) return void response.once('drain', more);
      }
      response.end();
    };
    response.on('close', () => closedAfter(written));
    more();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    streamed,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
