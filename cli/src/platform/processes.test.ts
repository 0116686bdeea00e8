import { describe, expect, it } from 'vitest';
import { smtpRelayFromEnv } from './mail.ts';
import {
  childBecameReady,
  type ReloadableChild,
  requestChildReload,
  serviceProcessSpawn,
  smtpLayoutOf,
} from './processes.ts';
import {
  gatewayMailRelay,
  type PlatformProcessLayout,
  platformProcessLayoutVariable,
  platformProcessNames,
} from './processes-service.ts';

/** A layout as ProcessPlatform.start makes it with an operator's relay (ports are never listened on here). */
function layoutWith(smtp: PlatformProcessLayout['smtp']): PlatformProcessLayout {
  return {
    dataDir: '/nonexistent/mpay-data',
    databaseUrl: undefined,
    schemaPrefix: '',
    ports: {
      gateway: 1,
      xbank: 2,
      ybank: 3,
      merchantShop: 4,
      log: 5,
      witness: 6,
      custody: 7,
      mail: 8,
      sms: 9,
    },
    smtp,
    sms: { url: 'http://127.0.0.1:9', token: 't' },
    logger: false,
    backgroundIntervalMs: 250,
    tls: true,
  };
}

describe('a service process of mpay up --processes', () => {
  const operatorEnv = {
    MPAY_SMTP_HOST: 'smtp.example.org',
    MPAY_SMTP_SECURE: 'true',
    MPAY_SMTP_USER: 'mpasp@example.org',
    MPAY_SMTP_PASS: 's3cret-relay-password',
  };
  const relay = smtpRelayFromEnv(operatorEnv);
  // The supervisor's layout: the relay as it is, but its credentials (ProcessPlatform.start).
  const layout = layoutWith(smtpLayoutOf(relay, { host: '127.0.0.1', port: 8 }, false));
  const layoutOf = (env: NodeJS.ProcessEnv) =>
    JSON.parse(env[platformProcessLayoutVariable] ?? 'null') as PlatformProcessLayout;

  it("gets the operator's whole SMTP relay in the gateway (secure, credentials), never on its command line", () => {
    expect(relay).toEqual({
      host: 'smtp.example.org',
      port: 465,
      secure: true,
      auth: { user: 'mpasp@example.org', pass: 's3cret-relay-password' },
    });
    const { args, env } = serviceProcessSpawn('gateway', layout, relay, { ...operatorEnv, PATH: '/bin' });
    expect(args).toEqual(['gateway']);
    expect(args.join(' ')).not.toContain('s3cret');
    // What the gateway process sends its mail through, from the layout it reads from its environment.
    expect(gatewayMailRelay(layoutOf(env).smtp, undefined)).toEqual(relay);
    // The supervisor's own variables stay with it; the rest of the environment is passed on.
    expect(env.MPAY_SMTP_PASS).toBeUndefined();
    expect(env.MPAY_SMTP_USER).toBeUndefined();
    expect(env.PATH).toBe('/bin');
  });

  it('gives the credentials to no other service, nor to the layout the supervisor prints', () => {
    expect(JSON.stringify(layout)).not.toContain('s3cret');
    for (const name of platformProcessNames.filter((service) => service !== 'gateway')) {
      const { args, env } = serviceProcessSpawn(name, layout, relay, { ...operatorEnv });
      expect(args).toEqual([name]);
      expect(JSON.stringify(env)).not.toContain('s3cret');
      expect(JSON.stringify(env)).not.toContain('mpasp@example.org');
      expect(layoutOf(env).smtp).toEqual({ host: 'smtp.example.org', port: 465, secure: true });
    }
  });

  it('keeps a relay without TLS or credentials as it is, and the embedded TLS server with the CA', () => {
    const plain = smtpRelayFromEnv({ MPAY_SMTP_HOST: 'relay.internal', MPAY_SMTP_SECURE: 'false' });
    const plainLayout = layoutWith(smtpLayoutOf(plain, { host: '127.0.0.1', port: 8 }, true));
    expect(plainLayout.smtp).toEqual({ host: 'relay.internal', port: 587, secure: false });
    const { env } = serviceProcessSpawn('gateway', plainLayout, plain, {});
    expect(gatewayMailRelay(layoutOf(env).smtp, undefined)).toEqual(plain);
    const embedded = layoutWith(smtpLayoutOf(undefined, { host: '127.0.0.1', port: 8 }, true));
    expect(
      gatewayMailRelay(layoutOf(serviceProcessSpawn('gateway', embedded, undefined, {}).env).smtp, 'CA'),
    ).toEqual({
      host: '127.0.0.1',
      port: 8,
      secure: true,
      ca: 'CA',
    });
  });
});

/** A service process as the supervisor sees it, its signals recorded instead of sent. */
function childLike(
  state: 'starting' | 'ready' | 'down',
): ReloadableChild & { signals: string[]; ready: boolean } {
  const signals: string[] = [];
  return {
    signals,
    ready: state === 'ready',
    reloadPending: false,
    process:
      state === 'down'
        ? undefined
        : {
            exitCode: null,
            signalCode: null,
            kill: (signal?: NodeJS.Signals | number) => {
              signals.push(String(signal));
              return true;
            },
          },
  };
}

describe('the supervisor passing a TLS reload on', () => {
  it('signals a ready service process at once, with SIGUSR2', () => {
    const child = childLike('ready');
    expect(requestChildReload(child)).toBe('signalled');
    expect(child.signals).toEqual(['SIGUSR2']);
    // Nothing left over for later.
    expect(childBecameReady(child)).toBe(false);
    expect(child.signals).toEqual(['SIGUSR2']);
  });

  it('remembers the reload of one still starting and sends it once, when it is ready', () => {
    const child = childLike('starting');
    expect(requestChildReload(child)).toBe('deferred');
    expect(requestChildReload(child)).toBe('deferred');
    // Not signalled while it starts: it may have read the files before they changed, and listens only once up.
    expect(child.signals).toEqual([]);
    child.ready = true;
    expect(childBecameReady(child)).toBe(true);
    expect(child.signals).toEqual(['SIGUSR2']);
    expect(childBecameReady(child)).toBe(false);
    expect(child.signals).toEqual(['SIGUSR2']);
  });

  it('leaves one that is down: its next start reads the files as they are then', () => {
    const child = childLike('down');
    expect(requestChildReload(child)).toBe('down');
    expect(child.reloadPending).toBe(false);
  });
});
