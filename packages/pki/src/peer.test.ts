import { generateSigningKeyPair } from '@mpay/envelope';
import { signRequest } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import {
  authorizationLengthMax,
  checkPeerInstitution,
  checkTlsPeer,
  institutionOfPeerCertificate,
  signerClaimedBy,
} from './peer.ts';

const xbank = { subject: { O: 'xbank', OU: 'bank', CN: 'bank.xbank' } };

function refusal(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return isMpayError(error) ? error.code : String(error);
  }
}

describe('the institution of a peer certificate', () => {
  it('is the O of a subject that follows the naming scheme', () => {
    expect(institutionOfPeerCertificate(xbank)).toBe('xbank');
    expect(
      institutionOfPeerCertificate({ subject: { O: 'fsp.mpay', OU: 'gateway', CN: 'gateway.fsp.mpay' } }),
    ).toBe('fsp.mpay');
  });

  it.each([
    ['no certificate', {}],
    ['null', null],
    ['a common name of another institution', { subject: { O: 'xbank', OU: 'bank', CN: 'bank.ybank' } }],
    ['two organisations', { subject: { O: ['xbank', 'ybank'], OU: 'bank', CN: 'bank.xbank' } }],
    ['no service', { subject: { O: 'xbank', CN: 'xbank' } }],
    ['an upper-case id', { subject: { O: 'XBANK', OU: 'bank', CN: 'bank.XBANK' } }],
  ])('refuses %s with TLS_PEER_REFUSED', (_name, certificate) => {
    expect(refusal(() => institutionOfPeerCertificate(certificate))).toBe('TLS_PEER_REFUSED');
  });
});

describe('the signer a request claims', () => {
  it('is the iss of the MPay Authorization header, read without verifying', async () => {
    const key = await generateSigningKeyPair();
    const header = await signRequest(
      { method: 'POST', path: '/entries', body: '{}' },
      { issuer: 'fsp.mpay', audience: 'log', key: key.privateJwk },
    );
    expect(signerClaimedBy(header)).toBe('fsp.mpay');
  });

  it.each([
    ['no header', undefined],
    ['a bearer token', 'Bearer abc.def.ghi'],
    ['a scheme that only starts like it', 'MPayX e30.e30.c2ln'],
  ])('is undefined for %s', (_name, header) => {
    expect(signerClaimedBy(header)).toBeUndefined();
  });

  // Fails closed: an MPay header the check cannot read is refused, never let through unchecked.
  it.each([
    ['a payload that is not JSON', 'MPay e30.bm90IGpzb24.c2ln'],
    ['a payload without iss', `MPay e30.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`],
    ['a payload that is null', `MPay e30.${Buffer.from('null').toString('base64url')}.c2ln`],
    [
      'an over-long header',
      `MPay e30.${Buffer.from('{"iss":"fsp.mpay"}').toString('base64url')}.${'a'.repeat(authorizationLengthMax)}`,
    ],
    ['two spaces', 'MPay  e30.e30.c2ln'],
    [
      'another spelling of the scheme',
      `mpay e30.${Buffer.from('{"iss":"fsp.mpay"}').toString('base64url')}.c2ln`,
    ],
    ['the scheme alone', 'MPay'],
    ['no payload', 'MPay e30'],
  ])('refuses %s (TLS_PEER_REFUSED)', (_name, header) => {
    expect(refusal(() => signerClaimedBy(header))).toBe('TLS_PEER_REFUSED');
  });
});

describe('the peer check of an institution port', () => {
  it('passes a request signed by the institution of the certificate', async () => {
    const key = await generateSigningKeyPair();
    const authorization = await signRequest(
      { method: 'GET', path: '/x', body: '' },
      { issuer: 'xbank', audience: 'fsp.mpay', key: key.privateJwk },
    );
    expect(checkTlsPeer({ certificate: xbank, authorization })).toBe('xbank');
    expect(checkTlsPeer({ certificate: xbank, authorization: undefined })).toBe('xbank');
  });

  it('refuses a request signed as another institution than the certificate names', async () => {
    const key = await generateSigningKeyPair();
    const authorization = await signRequest(
      { method: 'GET', path: '/x', body: '' },
      { issuer: 'fsp.mpay', audience: 'ybank', key: key.privateJwk },
    );
    expect(refusal(() => checkTlsPeer({ certificate: xbank, authorization }))).toBe('TLS_PEER_REFUSED');
    expect(refusal(() => checkPeerInstitution('xbank', 'ybank'))).toBe('TLS_PEER_REFUSED');
    expect(refusal(() => checkPeerInstitution('xbank', 'xbank'))).toBeUndefined();
  });
});
