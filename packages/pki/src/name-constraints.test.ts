import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { promisify } from 'node:util';
import { isMpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentCa, issueServiceCertificate, type PemPair } from './ca.ts';
import { createUnconstrainedCa, forgeLeaf } from './forge.test-helper.ts';
import {
  checkOperatorPermitted,
  decodeNameConstraints,
  describeSubtree,
  encodeNameConstraints,
  ipOctets,
  isNamePermitted,
  nameConstraintsOf,
  parseIpRange,
  permittedSubtreesOf,
} from './name-constraints.ts';

const run = promisify(execFile);
const now = new Date('2026-12-03T12:00:00Z');
/** How long one TLS handshake on loopback may take before the test gives up on it (generous: a loaded CI runner). */
const handshakeDeadlineMs = 10_000;

async function failureOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMpayError(error)) throw new Error(`expected an MpayError, got ${String(error)}`);
  return `${error.code} ${error.detail ?? ''}`;
}

describe('the NameConstraints DER', () => {
  it('reads back what it writes, in CIDR words', () => {
    const subtrees = permittedSubtreesOf({
      hosts: ['pay.example'],
      ipRanges: ['10.1.0.0/16', 'fd00::/8', '::1'],
    });
    const read = decodeNameConstraints(encodeNameConstraints(subtrees));
    expect(read.permitted.map(describeSubtree)).toEqual([
      'DNS:localhost',
      'DNS:pay.example',
      'IP:127.0.0.0/8',
      'IP:::1/128',
      'IP:10.1.0.0/16',
      'IP:fd00::/8',
    ]);
    expect(read.excluded).toEqual([]);
    expect(() => decodeNameConstraints(Uint8Array.from([0x30, 0x05, 0xa0]))).toThrow(RangeError);
  });

  it('parses IPv4 and IPv6 addresses and ranges, and refuses what is neither', () => {
    expect([...(ipOctets('::ffff:1.2.3.4') ?? [])]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4,
    ]);
    expect([...(ipOctets('1:2::3') ?? [])]).toEqual([0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    expect([...parseIpRange('10.1.2.3/16').address]).toEqual([10, 1, 0, 0]);
    for (const bad of ['10.0.0.0/33', '1.2.3', 'fd00::/129', 'example', '10.0.0.0/8/8', '10.0.0.0/'])
      expect(() => parseIpRange(bad), bad).toThrow(RangeError);
    expect(() => permittedSubtreesOf({ hosts: ['*.example'] })).toThrow(RangeError);
  });

  it("refuses an operator's permit that would all but undo the constraint", () => {
    for (const wide of [
      { hosts: ['com'] },
      { ipRanges: ['0.0.0.0/0'] },
      { ipRanges: ['::/0'] },
      { ipRanges: ['10.0.0.0/7'] },
      { ipRanges: ['2001:db8::/31'] },
    ])
      expect(() => checkOperatorPermitted(wide), JSON.stringify(wide)).toThrow(RangeError);
    expect(() =>
      checkOperatorPermitted({ hosts: ['pay.example'], ipRanges: ['10.0.0.0/8', '2001:db8::/32'] }),
    ).not.toThrow();
  });

  it('permits a name and the names under it, an address within a range, nothing else', () => {
    const set = decodeNameConstraints(
      encodeNameConstraints(permittedSubtreesOf({ hosts: ['pay.example'], ipRanges: ['10.1.0.0/16'] })),
    );
    const dns = (value: string) => isNamePermitted(set, { type: 'dns', value });
    const ip = (value: string) => isNamePermitted(set, { type: 'ip', value });
    expect(['localhost', 'pay.example', 'api.pay.example', 'PAY.example'].map(dns)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['notpay.example', 'example', 'www.example.org', 'localhost.example'].map(dns)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(['127.0.0.1', '127.255.0.9', '::1', '10.1.200.3'].map(ip)).toEqual([true, true, true, true]);
    expect(['10.2.0.1', '192.168.1.1', '::2', 'not-an-ip'].map(ip)).toEqual([false, false, false, false]);
    expect(isNamePermitted(undefined, { type: 'dns', value: 'www.example.org' })).toBe(true);
  });
});

describe('a name-constrained deployment CA, with OpenSSL', () => {
  let constrained: PemPair;
  let unconstrained: PemPair;
  let permittedLeaf: PemPair;
  let forged: PemPair;
  let forgedIp: PemPair;
  let forgedByUnconstrained: PemPair;
  let folder: string;
  const file = (name: string) => join(folder, name);

  beforeAll(async () => {
    constrained = await createDeploymentCa({ now, label: 'nc', permitted: { hosts: ['pay.example'] } });
    unconstrained = await createUnconstrainedCa(now, 'legacy');
    permittedLeaf = await issueServiceCertificate(
      constrained,
      { institution: 'xbank', service: 'bank', hosts: ['api.pay.example'] },
      { now },
    );
    // What a thief of ca.key.pem would make: ./ca.ts refuses to, the key signs it anyway.
    forged = await forgeLeaf(constrained, { dns: ['www.example.org'] }, now);
    forgedIp = await forgeLeaf(constrained, { ip: ['10.0.0.1'] }, now);
    forgedByUnconstrained = await forgeLeaf(unconstrained, { dns: ['www.example.org'] }, now);
    folder = await mkdtemp(join(tmpdir(), 'mpay-pki-nc-'));
    await writeFile(file('ca.pem'), constrained.certPem);
    await writeFile(file('legacy-ca.pem'), unconstrained.certPem);
    await writeFile(file('leaf.pem'), permittedLeaf.certPem);
    await writeFile(file('forged.pem'), forged.certPem);
    await writeFile(file('forged-ip.pem'), forgedIp.certPem);
    await writeFile(file('forged-legacy.pem'), forgedByUnconstrained.certPem);
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('carries a critical extension permitting localhost, loopback and the names given', () => {
    const set = nameConstraintsOf(constrained.certPem);
    expect(set?.critical).toBe(true);
    expect(set?.permitted.map(describeSubtree)).toEqual([
      'DNS:localhost',
      'DNS:pay.example',
      'IP:127.0.0.0/8',
      'IP:::1/128',
    ]);
    expect(nameConstraintsOf(unconstrained.certPem)).toBeUndefined();
  });

  it('`openssl verify` accepts a permitted leaf and refuses one for another site or address', async () => {
    const ok = await run('openssl', ['verify', '-CAfile', file('ca.pem'), file('leaf.pem')]);
    expect(ok.stdout.trim()).toBe(`${file('leaf.pem')}: OK`);
    for (const leaf of ['forged.pem', 'forged-ip.pem']) {
      const refused = await run('openssl', ['verify', '-CAfile', file('ca.pem'), file(leaf)]).then(
        () => 'accepted',
        (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
      );
      expect(refused, leaf).toMatch(/permitted subtree violation/);
    }
    // The same forgery under a CA without constraints passes: what the constraints are for.
    const legacy = await run('openssl', [
      'verify',
      '-CAfile',
      file('legacy-ca.pem'),
      file('forged-legacy.pem'),
    ]);
    expect(legacy.stdout.trim()).toBe(`${file('forged-legacy.pem')}: OK`);
  });

  /** A TLS handshake to a server presenting `pair`, trusting `caPem` and asking for `servername`: 'ok' or the client's error. */
  async function handshake(pair: PemPair, caPem: string, servername: string): Promise<string> {
    const server = createServer({ key: pair.keyPem, cert: pair.certPem }, (socket) => socket.end('hello'));
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('no handshake outcome in time')),
          handshakeDeadlineMs,
        );
        const socket = connect({ host: '127.0.0.1', port, ca: caPem, servername }, () => {
          clearTimeout(timer);
          socket.destroy();
          resolve('ok');
        });
        socket.on('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve(`${error.code ?? ''} ${error.message}`);
        });
      });
    } finally {
      server.close();
    }
  }

  it('node:tls trusting the CA connects to a permitted name and refuses a forged certificate for another site', async () => {
    expect(await handshake(permittedLeaf, constrained.certPem, 'api.pay.example')).toBe('ok');
    expect(await handshake(permittedLeaf, constrained.certPem, 'localhost')).toBe('ok');
    expect(await handshake(forged, constrained.certPem, 'www.example.org')).toMatch(
      /permitted subtree violation/,
    );
    // Control: the same forgery by a CA without constraints is accepted by the same client.
    expect(await handshake(forgedByUnconstrained, unconstrained.certPem, 'www.example.org')).toBe('ok');
  });

  it('issueServiceCertificate refuses a name outside the constraints before signing; a CA without them issues any', async () => {
    expect(
      await failureOf(
        issueServiceCertificate(
          constrained,
          { institution: 'xbank', service: 'bank', hosts: ['www.example.org'] },
          { now },
        ),
      ),
    ).toMatch(
      /^PKI_INVALID the deployment CA: its name constraints do not permit DNS:www\.example\.org \(it permits DNS:localhost, DNS:pay\.example, IP:127\.0\.0\.0\/8, IP:::1\/128;/,
    );
    expect(
      await failureOf(
        issueServiceCertificate(
          constrained,
          { institution: 'xbank', service: 'bank', ipAddresses: ['10.0.0.1'] },
          { now },
        ),
      ),
    ).toMatch(/do not permit IP:10\.0\.0\.1/);
    const legacy = await issueServiceCertificate(
      unconstrained,
      { institution: 'xbank', service: 'bank', hosts: ['www.example.org'] },
      { now },
    );
    expect(await handshake(legacy, unconstrained.certPem, 'www.example.org')).toBe('ok');
  });
});
