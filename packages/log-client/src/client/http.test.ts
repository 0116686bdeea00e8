import { MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EndlessAnswerServer,
  startEndlessAnswerServer,
} from '../../../../test/support/endless-answer.ts';
import { clientDefaults, fetchText } from './http.ts';

/** The endless answer stops here whatever happens (a client that never stops reading). */
const streamedBytesMax = 256 * 1024 * 1024;
let server: EndlessAnswerServer;

beforeAll(async () => {
  server = await startEndlessAnswerServer(streamedBytesMax);
});
afterAll(() => server.close());

describe("the log client's HTTP answers", () => {
  it('reads an answer with its status and Content-Type', async () => {
    expect(await fetchText(`${server.base}/small`, {})).toMatchObject({
      status: 200,
      contentType: 'text/plain',
      text: 'a small answer',
    });
  });

  it('stops reading an answer once it passes the limit, rather than after reading it all', async () => {
    const refused = await fetchText(`${server.base}/endless`, {}, { timeoutMs: 60_000 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(MpayError);
    expect(refused).toMatchObject({ code: 'SERVICE_UNAVAILABLE', detail: 'response too large' });
    // The log went on sending until its client went away: a little past the limit, not its 256 MiB.
    expect(await server.streamed).toBeLessThan(clientDefaults.answerBytesMax * 8);
  });
});
