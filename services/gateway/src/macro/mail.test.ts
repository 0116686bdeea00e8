import { MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enrolDevice,
  everyStoredText,
  hasToken,
  type MacroTestGateway,
  mailedCredentials,
  register,
  registrationOf,
  startMacroTestGateway,
} from './macro.test-helper.ts';

/**
 * The registration mail through the outbox: queued with the client, retried
 * while the relay cannot take it, given up on when it refuses it, and the
 * mPIN erased from the row as soon as the mail went out or was given up on.
 */
let gateway: MacroTestGateway;

beforeAll(async () => {
  gateway = await startMacroTestGateway({ outboxAttemptsMax: 3 });
});
afterAll(async () => {
  await gateway?.close();
});

async function mailRow(clientId: string) {
  const { rows } = await gateway.database.query<{
    payload: string;
    delivered_at: Date | null;
    abandoned_at: Date | null;
    attempts: number;
    last_error: string | null;
  }>(
    `SELECT payload, delivered_at, abandoned_at, attempts, last_error FROM outbox
     WHERE kind = 'macro_mail' AND payment_id = $1`,
    [clientId],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

function mPinOfRow(payload: string): string | undefined {
  return (JSON.parse(payload) as { mail?: { text?: string } }).mail?.text?.match(/mPIN: +([0-9]{6})/)?.[1];
}

/** Registers a new client while the mailer behaves as `mailer` says; returns its client id. */
async function registerWhileMailer(mailer: MacroTestGateway['mailerBehaviour']) {
  gateway.mailerBehaviour = mailer;
  const device = await enrolDevice(gateway.bank);
  const registration = registrationOf(device);
  const answer = await register(gateway, device, registration);
  expect(answer.status).toBe(201);
  await gateway.service.runBackgroundOnce();
  return { clientId: answer.body.clientId as string, email: registration.email };
}

describe('the registration mail (outbox kind macro_mail)', () => {
  it('keeps the mPIN in the queued row only while the relay cannot take the mail, then erases it', async () => {
    const { clientId, email } = await registerWhileMailer(async () => {
      throw new MpayError('MAIL_DELIVERY_FAILED', '421 try later');
    });
    const waiting = await mailRow(clientId);
    expect(waiting).toMatchObject({ delivered_at: null, abandoned_at: null, attempts: 1 });
    expect(waiting.last_error).toBe('MAIL_DELIVERY_FAILED');
    const mPin = mPinOfRow(waiting.payload);
    expect(mPin).toMatch(/^[0-9]{6}$/);
    // The search finds it while it is there: the one place it is.
    expect(hasToken(await everyStoredText(gateway.database), mPin!)).toBe(true);

    gateway.mailerBehaviour = async () => undefined;
    gateway.advanceSeconds(3_600);
    await gateway.service.runBackgroundOnce();
    const sent = await mailRow(clientId);
    expect(sent.delivered_at).not.toBeNull();
    expect(sent.attempts).toBe(2);
    expect(mailedCredentials(gateway.mails, email)).toEqual({ clientId, mPin });
    expect(hasToken(await everyStoredText(gateway.database), mPin!)).toBe(false);
  });

  it('gives up at once on a mail the relay refuses for good, and erases the mPIN', async () => {
    const { clientId } = await registerWhileMailer(async () => {
      throw new MpayError('MAIL_REJECTED', '550 no such user');
    });
    const refused = await mailRow(clientId);
    expect(refused).toMatchObject({ delivered_at: null, attempts: 1, last_error: 'MAIL_REJECTED' });
    expect(refused.abandoned_at).not.toBeNull();
    expect(JSON.parse(refused.payload)).toEqual({
      clientId,
      mailedTo: expect.stringMatching(/\*\*\*@/),
      mPinErased: true,
    });
  });

  it('gives up after the outbox attempts limit, and erases the mPIN then too', async () => {
    const { clientId } = await registerWhileMailer(async () => {
      throw new MpayError('MAIL_DELIVERY_FAILED', 'no connection');
    });
    for (let round = 0; round < 3; round += 1) {
      gateway.advanceSeconds(3_600);
      await gateway.service.runBackgroundOnce();
    }
    const abandoned = await mailRow(clientId);
    expect(abandoned.attempts).toBe(3);
    expect(abandoned.abandoned_at).not.toBeNull();
    expect(mPinOfRow(abandoned.payload)).toBeUndefined();
    expect(JSON.parse(abandoned.payload)).toMatchObject({ clientId, mPinErased: true });
    gateway.mailerBehaviour = async () => undefined;
  });
});
