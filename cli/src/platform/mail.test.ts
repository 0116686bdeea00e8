import { X509Certificate } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createMailer, openMailbox } from '@mpay/mail';
import { createDeploymentCa, issueServiceCertificate, serialKey } from '@mpay/pki';
import { describe, expect, it } from 'vitest';
import { smtpRelayFromEnv, startPlatformMail } from './mail.ts';
import { refuseRevokedOf } from './tls.ts';

describe('smtpRelayFromEnv', () => {
  it('uses the embedded server unless MPAY_SMTP_HOST names a relay', () => {
    expect(smtpRelayFromEnv({})).toBeUndefined();
    expect(smtpRelayFromEnv({ MPAY_SMTP_HOST: ' ' })).toBeUndefined();
    expect(smtpRelayFromEnv({ MPAY_SMTP_HOST: 'relay.example' })).toEqual({
      host: 'relay.example',
      port: 587,
      secure: false,
    });
    expect(
      smtpRelayFromEnv({
        MPAY_SMTP_HOST: 'relay.example',
        MPAY_SMTP_SECURE: 'true',
        MPAY_SMTP_USER: 'mpasp',
        MPAY_SMTP_PASS: 'secret',
      }),
    ).toEqual({ host: 'relay.example', port: 465, secure: true, auth: { user: 'mpasp', pass: 'secret' } });
    expect(smtpRelayFromEnv({ MPAY_SMTP_HOST: 'relay.example', MPAY_SMTP_PORT: '2525' })?.port).toBe(2525);
  });

  it('refuses a configuration it cannot use', () => {
    const host = { MPAY_SMTP_HOST: 'relay.example' };
    expect(() => smtpRelayFromEnv({ ...host, MPAY_SMTP_PORT: '70000' })).toThrow(/MPAY_SMTP_PORT/);
    expect(() => smtpRelayFromEnv({ ...host, MPAY_SMTP_PORT: '25x' })).toThrow(/MPAY_SMTP_PORT/);
    expect(() => smtpRelayFromEnv({ ...host, MPAY_SMTP_SECURE: 'yes' })).toThrow(/MPAY_SMTP_SECURE/);
    expect(() => smtpRelayFromEnv({ ...host, MPAY_SMTP_USER: 'mpasp' })).toThrow(/go together/);
  });
});

/** The embedded server on TLS with `pair`, trusting `caPem`; `reload()` gives the function its tls.onReload was told of. */
async function startReloadableMail(
  pair: { keyPem: string; certPem: string },
  caPem: string | (() => string),
) {
  let apply: ((material: { key: string; cert: string }) => void) | undefined;
  const mail = await startPlatformMail({
    dataDir: undefined,
    relay: undefined,
    port: 0,
    tls: {
      key: pair.keyPem,
      cert: pair.certPem,
      caPem,
      onReload: (given) => {
        apply = given;
      },
    },
  });
  const reload = (material: { key: string; cert: string }) => {
    if (apply === undefined) throw new Error('the mail server took no reload hook');
    apply(material);
  };
  return { mail, reload };
}

describe('startPlatformMail', () => {
  it('keeps the mail under <data>/mail, where mpay mail reads it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mpay-platform-mail-'));
    const mail = await startPlatformMail({ dataDir, relay: undefined, port: 0 });
    try {
      expect(mail.dir).toBe(join(dataDir, 'mail'));
      await mail.mailer.send({
        to: 'ann@mail.example',
        subject: 'Your mpay client id and mPIN',
        text: 'hello',
      });
      const [stored] = await openMailbox(join(dataDir, 'mail')).list('ann@mail.example');
      expect(stored).toMatchObject({ from: 'mpasp@fsp.mpay', subject: 'Your mpay client id and mPIN' });
    } finally {
      await mail.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('removes its temporary folder on close when the platform keeps no data folder', async () => {
    const mail = await startPlatformMail({ dataDir: undefined, relay: undefined, port: 0 });
    const dir = mail.dir!;
    await access(dir);
    await mail.close();
    await expect(access(dir)).rejects.toThrow();
  });

  it('starts no server with a relay', async () => {
    const mail = await startPlatformMail({
      dataDir: undefined,
      relay: { host: '127.0.0.1', port: 2525 },
      port: undefined,
    });
    expect(mail.server).toBeUndefined();
    expect(mail.dir).toBeUndefined();
    await mail.close();
  });

  it("speaks implicit TLS with its certificate, and its mailer trusts the deployment's CA only", async () => {
    const now = new Date();
    const ca = await createDeploymentCa({ now, label: 'mail-test' });
    const pair = await issueServiceCertificate(ca, { institution: 'mail.mpay', service: 'smtp' }, { now });
    const mail = await startPlatformMail({
      dataDir: undefined,
      relay: undefined,
      port: 0,
      tls: { key: pair.keyPem, cert: pair.certPem, caPem: ca.certPem },
    });
    try {
      const server = mail.server!;
      expect(server.secure).toBe(true);
      await mail.mailer.send({ to: 'ann@mail.example', subject: 'Your mpay client id and mPIN', text: 'hi' });
      expect(await server.mailbox.list('ann@mail.example')).toHaveLength(1);
      const from = 'MPASP <mpasp@fsp.mpay>';
      // TLS with the system's roots: the deployment's certificate is not trusted.
      const untrusting = createMailer({ smtp: { host: server.host, port: server.port, secure: true }, from });
      await expect(
        untrusting.send({ to: 'ann@mail.example', subject: 's', text: 't' }),
      ).rejects.toMatchObject({
        code: 'MAIL_DELIVERY_FAILED',
      });
      // Plain SMTP to a TLS port: no greeting it understands.
      const plain = createMailer({
        smtp: { host: server.host, port: server.port },
        from,
        limits: { greetingTimeoutMs: 300 },
      });
      await expect(plain.send({ to: 'ann@mail.example', subject: 's', text: 't' })).rejects.toMatchObject({
        code: 'MAIL_DELIVERY_FAILED',
      });
      expect(await server.mailbox.list('ann@mail.example')).toHaveLength(1);
    } finally {
      await mail.close();
    }
  });

  it('refuses to send to a mail server presenting a revoked certificate, asked at each mail', async () => {
    const now = new Date();
    const ca = await createDeploymentCa({ now, label: 'mail-revoked' });
    const pair = await issueServiceCertificate(ca, { institution: 'mail.mpay', service: 'smtp' }, { now });
    const revoked = new Set<string>();
    const mail = await startPlatformMail({
      dataDir: undefined,
      relay: undefined,
      port: 0,
      tls: {
        key: pair.keyPem,
        cert: pair.certPem,
        caPem: ca.certPem,
        // As PlatformTls gives it (refuseRevokedOf): the set of its last reload.
        refuseCertificate: refuseRevokedOf({ revokedSerials: revoked }),
      },
    });
    try {
      const server = mail.server!;
      const letter = { to: 'ann@mail.example', subject: 'Your mpay client id and mPIN', text: 'hi' };
      await mail.mailer.send(letter);
      revoked.add(serialKey(new X509Certificate(pair.certPem).serialNumber));
      // The mPIN never goes to a server whose key may have leaked.
      await expect(mail.mailer.send(letter)).rejects.toMatchObject({ code: 'MAIL_DELIVERY_FAILED' });
      expect(await server.mailbox.list('ann@mail.example')).toHaveLength(1);
    } finally {
      await mail.close();
    }
  });

  it('takes a new certificate without a restart (tls.onReload): new connections get it, mail still goes', async () => {
    const now = new Date();
    const ca = await createDeploymentCa({ now, label: 'mail-reload' });
    const first = await issueServiceCertificate(ca, { institution: 'mail.mpay', service: 'smtp' }, { now });
    const second = await issueServiceCertificate(ca, { institution: 'mail.mpay', service: 'smtp' }, { now });
    const { mail, reload: apply } = await startReloadableMail(first, ca.certPem);
    const presented = () =>
      new Promise<string>((done, fail) => {
        const socket = connect({
          host: '127.0.0.1',
          port: mail.server!.port,
          servername: 'localhost',
          ca: ca.certPem,
        });
        socket.once('secureConnect', () => {
          done(socket.getPeerCertificate().fingerprint256);
          socket.destroy();
        });
        socket.once('error', fail);
      });
    try {
      expect(await presented()).toBe(new X509Certificate(first.certPem).fingerprint256);
      // A key that is not the certificate's is refused, and the server keeps its certificate.
      expect(() => apply({ key: first.keyPem, cert: second.certPem })).toThrow();
      expect(await presented()).toBe(new X509Certificate(first.certPem).fingerprint256);
      apply({ key: second.keyPem, cert: second.certPem });
      expect(await presented()).toBe(new X509Certificate(second.certPem).fingerprint256);
      await mail.mailer.send({ to: 'ann@mail.example', subject: 'after the reload', text: 'hi' });
      expect(await mail.server!.mailbox.list('ann@mail.example')).toHaveLength(1);
    } finally {
      await mail.close();
    }
  });

  it("follows the deployment's trust bundle (a CA rotation) without a restart: each mail asks for the anchors", async () => {
    const now = new Date();
    const oldCa = await createDeploymentCa({ now, label: 'mail-old' });
    const newCa = await createDeploymentCa({ now, label: 'mail-new' });
    const first = await issueServiceCertificate(
      oldCa,
      { institution: 'mail.mpay', service: 'smtp' },
      { now },
    );
    const second = await issueServiceCertificate(
      newCa,
      { institution: 'mail.mpay', service: 'smtp' },
      { now },
    );
    let bundle = oldCa.certPem;
    const { mail, reload: apply } = await startReloadableMail(first, () => bundle);
    const send = (subject: string) => mail.mailer.send({ to: 'ann@mail.example', subject, text: 'hi' });
    try {
      await send('before');
      // The switch: the server presents the new CA's certificate; a mailer on the old bundle refuses it.
      apply({ key: second.keyPem, cert: second.certPem });
      await expect(send('old bundle')).rejects.toMatchObject({ code: 'MAIL_DELIVERY_FAILED' });
      // The reload of the bundle (both CAs, as during a rotation), then the retirement (the new one only).
      bundle = `${oldCa.certPem}\n${newCa.certPem}`;
      await send('both');
      bundle = newCa.certPem;
      await send('after');
      expect(await mail.server!.mailbox.list('ann@mail.example')).toHaveLength(3);
    } finally {
      await mail.close();
    }
  });
});
