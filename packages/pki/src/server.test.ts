import { generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { sharedServerTls } from './server.ts';

const material = {
  institution: 'xbank',
  service: 'bank',
  keyPem: 'key',
  certPem: 'cert',
  caPem: 'ca',
};
const port = sharedServerTls(material, {
  institutions: ['fsp.mpay', 'xbank', 'ybank'],
  pathPrefixes: ['/interbank/funds-transfers'],
});
const ybank = { subject: { O: 'ybank', OU: 'bank', CN: 'bank.ybank' } };
const fsp = { subject: { O: 'fsp.mpay', OU: 'gateway', CN: 'gateway.fsp.mpay' } };

async function signedAs(issuer: string): Promise<string> {
  const { privateJwk } = await generateSigningKeyPair('ES256');
  return signRequest(
    { method: 'POST', path: '/payment-orders', body: '{}' },
    { issuer, audience: 'xbank', key: privateJwk },
  );
}

/** The check's verdict: undefined when it lets the request through, else the refusal's code. */
function verdict(peer: {
  certificate: { subject?: { O?: unknown; OU?: unknown; CN?: unknown } };
  authorized: boolean;
  authorization?: string;
  url?: string;
  /** The route the router matched (default: the url). */
  route?: string;
}): string | undefined {
  try {
    port.checkPeer?.({
      certificate: peer.certificate,
      authorized: peer.authorized,
      authorization: peer.authorization,
      method: 'POST',
      url: peer.url ?? '/payment-orders',
      route: peer.route ?? peer.url ?? '/payment-orders',
    });
    return undefined;
  } catch (error) {
    return isMpayError(error) ? error.code : String(error);
  }
}

describe('a port shared by devices and institutions', () => {
  it('asks for a client certificate without demanding it, against the deployment CA', () => {
    expect(port).toMatchObject({ clientCertificate: 'requested', ca: 'ca', key: 'key', cert: 'cert' });
  });

  it("takes an institution's request with its own authorised certificate", async () => {
    expect(verdict({ certificate: fsp, authorized: true, authorization: await signedAs('fsp.mpay') })).toBe(
      undefined,
    );
  });

  it("refuses an institution's request with another institution's certificate, none, or an unauthorised one", async () => {
    const asFsp = await signedAs('fsp.mpay');
    expect(verdict({ certificate: ybank, authorized: true, authorization: asFsp })).toBe('TLS_PEER_REFUSED');
    expect(verdict({ certificate: {}, authorized: false, authorization: asFsp })).toBe('TLS_PEER_REFUSED');
    // A certificate node:tls did not authorise (another CA, expired) counts for nothing, whatever it names.
    expect(verdict({ certificate: fsp, authorized: false, authorization: asFsp })).toBe('TLS_PEER_REFUSED');
  });

  it('lets a device, a merchant or an operator through without a certificate', async () => {
    for (const issuer of ['john.bernard@person.xbank', 'merkur.trade@merchant.ybank', 'operator.xbank']) {
      expect(verdict({ certificate: {}, authorized: false, authorization: await signedAs(issuer) })).toBe(
        undefined,
      );
    }
    expect(verdict({ certificate: {}, authorized: false })).toBe(undefined);
  });

  it('demands an authorised certificate on a route signed inside its body, whoever it names', () => {
    const url = '/interbank/funds-transfers';
    expect(verdict({ certificate: {}, authorized: false, url })).toBe('TLS_PEER_REFUSED');
    expect(verdict({ certificate: ybank, authorized: false, url })).toBe('TLS_PEER_REFUSED');
    expect(verdict({ certificate: ybank, authorized: true, url })).toBe(undefined);
  });

  it('decides by the route the router matched, not the raw url (percent-encoded, absolute form)', () => {
    const route = '/interbank/funds-transfers';
    for (const url of [
      '/%69nterbank/funds-transfers',
      '/interbank/funds%2Dtransfers',
      'https://xbank/interbank/funds-transfers',
    ]) {
      expect(verdict({ certificate: {}, authorized: false, url, route }), url).toBe('TLS_PEER_REFUSED');
    }
  });

  it("takes only the named institutions' certificates on such a route when it names them (the witness: the log's)", () => {
    const witness = sharedServerTls(material, {
      institutions: ['fsp.mpay', 'xbank', 'log.mpay'],
      pathPrefixes: ['/add-checkpoint'],
      pathPrefixPeers: ['log.mpay'],
    });
    const check = (certificate: { subject: { O: string; OU: string; CN: string } }, url: string) => {
      try {
        witness.checkPeer?.({
          certificate,
          authorized: true,
          authorization: undefined,
          method: 'POST',
          url,
          route: url,
        });
        return undefined;
      } catch (error) {
        return isMpayError(error) ? error.code : String(error);
      }
    };
    const log = { subject: { O: 'log.mpay', OU: 'log', CN: 'log.log.mpay' } };
    const xbank = { subject: { O: 'xbank', OU: 'bank', CN: 'bank.xbank' } };
    expect(check(log, '/add-checkpoint')).toBe(undefined);
    expect(check(xbank, '/add-checkpoint')).toBe('TLS_PEER_REFUSED');
    // Its public reads take anyone's.
    expect(check(xbank, '/checkpoints/latest')).toBe(undefined);
  });
});
