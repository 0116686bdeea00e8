import { describe, expect, it } from 'vitest';
import { httpsOptionsOf } from './tls.ts';

describe('httpsOptionsOf', () => {
  it('demands and verifies client certificates on an institution port, TLS 1.2 at least', () => {
    expect(httpsOptionsOf({ key: 'k', cert: 'c', ca: 'a', clientCertificate: 'required' })).toEqual({
      key: 'k',
      cert: 'c',
      ca: 'a',
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: true,
    });
  });

  it('asks no client certificate on a public port', () => {
    expect(httpsOptionsOf({ key: 'k', cert: 'c', clientCertificate: 'none' })).toMatchObject({
      requestCert: false,
      rejectUnauthorized: false,
    });
  });

  it('asks for a client certificate without demanding it on a port shared by devices and institutions', () => {
    expect(httpsOptionsOf({ key: 'k', cert: 'c', ca: 'a', clientCertificate: 'requested' })).toMatchObject({
      ca: 'a',
      requestCert: true,
      rejectUnauthorized: false,
    });
    expect(() => httpsOptionsOf({ key: 'k', cert: 'c', clientCertificate: 'requested' })).toThrow(RangeError);
  });

  it('refuses an institution port without the CA to verify clients against', () => {
    expect(() => httpsOptionsOf({ key: 'k', cert: 'c', clientCertificate: 'required' })).toThrow(RangeError);
    expect(() => httpsOptionsOf({ key: 'k', cert: 'c', ca: '', clientCertificate: 'required' })).toThrow(
      RangeError,
    );
  });
});
