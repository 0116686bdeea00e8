import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCaTrustAgent, createDeploymentCa, issueServiceCertificate, tlsFetch } from '@mpay/pki';
import { createSmsSender, openSmsInbox } from '@mpay/sms';
import { describe, expect, it } from 'vitest';
import { requestDeadlineMs } from '../../../test/support/deadlines.ts';
import { smsRelayFromEnv, startPlatformSms } from './sms.ts';

const token = 'relay-token-0123456789abcdef';

describe('smsRelayFromEnv', () => {
  it('uses the embedded gateway unless MPAY_SMS_URL names one', () => {
    expect(smsRelayFromEnv({})).toBeUndefined();
    expect(smsRelayFromEnv({ MPAY_SMS_URL: ' ', MPAY_SMS_TOKEN: token })).toBeUndefined();
    expect(smsRelayFromEnv({ MPAY_SMS_URL: 'https://sms.example/v1', MPAY_SMS_TOKEN: token })).toEqual({
      url: 'https://sms.example/v1',
      token,
    });
    expect(
      smsRelayFromEnv({ MPAY_SMS_URL: ' http://127.0.0.1:4140 ', MPAY_SMS_TOKEN: ` ${token}\n` }),
    ).toEqual({
      url: 'http://127.0.0.1:4140',
      token,
    });
  });

  it('refuses a configuration it cannot use', () => {
    const url = { MPAY_SMS_URL: 'https://sms.example' };
    expect(() => smsRelayFromEnv(url)).toThrow(/MPAY_SMS_TOKEN/);
    expect(() => smsRelayFromEnv({ ...url, MPAY_SMS_TOKEN: 'a'.repeat(15) })).toThrow(/MPAY_SMS_TOKEN/);
    expect(() => smsRelayFromEnv({ ...url, MPAY_SMS_TOKEN: 'a'.repeat(513) })).toThrow(/MPAY_SMS_TOKEN/);
    expect(() => smsRelayFromEnv({ ...url, MPAY_SMS_TOKEN: `${token} x` })).toThrow(/MPAY_SMS_TOKEN/);
    expect(() => smsRelayFromEnv({ MPAY_SMS_URL: 'sms.example', MPAY_SMS_TOKEN: token })).toThrow(
      /MPAY_SMS_URL must be an http\(s\) URL/,
    );
    expect(() => smsRelayFromEnv({ MPAY_SMS_URL: 'http://sms.example', MPAY_SMS_TOKEN: token })).toThrow(
      /MPAY_SMS_URL must be https/,
    );
  });
});

describe('startPlatformSms', () => {
  it('keeps the messages under <data>/sms, where mpay sms reads them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mpay-platform-sms-'));
    const sms = await startPlatformSms({ dataDir, relay: undefined, port: 0 });
    try {
      expect(sms.dir).toBe(join(dataDir, 'sms'));
      expect(sms.gateway?.host).toBe('127.0.0.1');
      const { id } = await sms.sender.send({ to: '+38970123456', text: 'mpay code: 482913' });
      const [stored] = await openSmsInbox(join(dataDir, 'sms')).list('+38970123456');
      expect(stored).toMatchObject({ id, from: 'mpay', to: '+38970123456', text: 'mpay code: 482913' });
      // The gateway's token is drawn at start and known to this sender only: a request without it is refused.
      const answer = await fetch(`${sms.gateway!.url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'mpay', to: '+38970123456', text: 'forged' }),
        signal: AbortSignal.timeout(requestDeadlineMs),
      });
      expect(answer.status).toBe(401);
    } finally {
      await sms.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('removes its temporary folder on close when the platform keeps no data folder', async () => {
    const sms = await startPlatformSms({ dataDir: undefined, relay: undefined, port: 0 });
    const dir = sms.dir!;
    await access(dir);
    await sms.close();
    await expect(access(dir)).rejects.toThrow();
  });

  it('starts no gateway with a relay', async () => {
    const sms = await startPlatformSms({
      dataDir: undefined,
      relay: { url: 'http://127.0.0.1:4140', token },
      port: undefined,
    });
    expect(sms.gateway).toBeUndefined();
    expect(sms.dir).toBeUndefined();
    await sms.close();
  });

  it("serves HTTPS with its certificate, and its sender trusts the deployment's CA only", async () => {
    const now = new Date();
    const ca = await createDeploymentCa({ now, label: 'sms-test' });
    const pair = await issueServiceCertificate(ca, { institution: 'sms.mpay', service: 'sms' }, { now });
    const agent = createCaTrustAgent(ca.certPem);
    const sms = await startPlatformSms({
      dataDir: undefined,
      relay: undefined,
      port: 0,
      token,
      tls: { key: pair.keyPem, cert: pair.certPem, fetch: tlsFetch(agent) },
    });
    try {
      expect(sms.gateway?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { id } = await sms.sender.send({ to: '+38970123456', text: 'mpay code: 482913' });
      expect((await sms.gateway!.inbox.list('+38970123456')).map((stored) => stored.id)).toEqual([id]);
      // The same gateway through the global fetch (the system's roots): its certificate is not trusted.
      const untrusting = createSmsSender({ url: sms.gateway!.url, token, from: 'mpay' });
      await expect(untrusting.send({ to: '+38970123456', text: 'x' })).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
      });
    } finally {
      await sms.close();
      await agent.close();
    }
  });
});
