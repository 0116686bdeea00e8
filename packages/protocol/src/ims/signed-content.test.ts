import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultSecurityPolicy } from '../payment/index.ts';
import { imsMessageArbitrary, sampleImsJson, sampleSignatures } from './arbitraries.test-helper.ts';
import { imsFromJson } from './json.ts';
import type { ImsMessage } from './message.ts';
import { customerSignedContent, fspSignedContent, merchantSignedContent } from './signed-content.ts';

const signed = imsFromJson(sampleImsJson());

function withoutSignatures(message: ImsMessage): ImsMessage {
  const { accountPayable: _payable, accountReceivable: _receivable, ...data } = message.data;
  const { protections: _protections, ...rest } = message;
  return {
    ...rest,
    address: {
      ...message.address,
      from: { id: message.address.from.id },
      to: { id: message.address.to.id },
      fspSign: undefined,
    },
    data,
  };
}

describe('signed content', () => {
  it('merchant: no level, no accounts, no signatures, amount as a decimal string', () => {
    expect(merchantSignedContent(signed)).toEqual({
      signer: 'merchant',
      transactionId: '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d',
      procedure: 'm-commerce',
      address: {
        from: { id: 'john.bernard@person.xbank' },
        to: { id: 'merkur.trade@merchant.xbank' },
        timestamp: '2002-05-27T12:34:34Z',
      },
      data: { amount: { currency: 'EUR', value: '1000.00' } },
    });
  });

  it('fsp: the accounts and the merchant signature; customer: the FSP signature too', () => {
    const fsp = fspSignedContent(signed);
    expect(fsp.signer).toBe('fsp');
    const signatureOf = (jws: string) => jws.split('.')[2];
    expect(fsp.address.to.sign).toBe(signatureOf(sampleSignatures.merchant));
    expect(fsp.address.fspSign).toBeUndefined();
    expect(fsp.data.accountPayable).toBe('1234-5678-9abc');
    const customer = customerSignedContent(signed);
    expect(customer.address.fspSign).toBe(signatureOf(sampleSignatures.fsp));
    expect(customer.address.to.sign).toBe(signatureOf(sampleSignatures.merchant));
    expect(customer.address.from).toEqual({ id: 'john.bernard@person.xbank' });
    for (const content of [fsp, customer]) {
      expect(content.type).toBe('medium');
      expect(content.protections).toEqual(signed.protections);
    }
  });

  it('the customer signs the sealed second factor; nobody else does', () => {
    const sealed = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVy.dGFn';
    const withCode = imsFromJson({
      ...sampleImsJson(),
      address: {
        ...sampleImsJson().address,
        from: { ...sampleImsJson().address.from, secondFactor: sealed },
      },
    });
    expect(customerSignedContent(withCode).address.from).toEqual({
      id: 'john.bernard@person.xbank',
      secondFactor: sealed,
    });
    expect(fspSignedContent(withCode)).toEqual(fspSignedContent(signed));
    expect(merchantSignedContent(withCode)).toEqual(merchantSignedContent(signed));
  });

  it('the FSP cannot raise or lower the level under the merchant signature, but under its own and the customer one it can not be changed', () => {
    const small = { ...signed, type: 'small' as const };
    expect(merchantSignedContent(small)).toEqual(merchantSignedContent(signed));
    expect(fspSignedContent(small)).not.toEqual(fspSignedContent(signed));
    expect(customerSignedContent(small)).not.toEqual(customerSignedContent(signed));
    const fewer = { ...signed, protections: signed.protections?.filter((p) => p !== 'pin') };
    expect(customerSignedContent(fewer)).not.toEqual(customerSignedContent(signed));
  });

  it('refuses to build content for a step the chain has not reached', () => {
    const unsigned = imsFromJson(JSON.parse(JSON.stringify(withoutSignaturesJson())));
    expect(() => fspSignedContent(unsigned)).toThrow(expect.objectContaining({ detail: 'address.to.sign' }));
    expect(() => customerSignedContent(unsigned)).toThrow(
      expect.objectContaining({ detail: 'address.fspSign' }),
    );
    const merchantSigned = {
      ...unsigned,
      address: { ...unsigned.address, to: { ...unsigned.address.to, sign: sampleSignatures.merchant } },
    };
    expect(() => fspSignedContent(merchantSigned)).toThrow(
      expect.objectContaining({ detail: 'protections' }),
    );
    const assessedMedium = { ...merchantSigned, protections: defaultSecurityPolicy.levels.medium };
    expect(() => fspSignedContent(assessedMedium)).toThrow(
      expect.objectContaining({ detail: 'data.accountPayable' }),
    );
    // At a sealing level the FSP fills in no account: the content is complete without one.
    const assessedLarge = {
      ...merchantSigned,
      type: 'large' as const,
      protections: defaultSecurityPolicy.levels.large,
    };
    expect(fspSignedContent(assessedLarge).data).not.toHaveProperty('accountPayable');
    expect(() =>
      fspSignedContent({ ...assessedLarge, data: { ...assessedLarge.data, accountPayable: 'ACC-0001' } }),
    ).toThrow(expect.objectContaining({ detail: 'data.accountPayable' }));
  });

  it('contains no bigint and no undefined (ready for RFC 8785)', () => {
    for (const content of [
      merchantSignedContent(signed),
      fspSignedContent(signed),
      customerSignedContent(signed),
    ]) {
      expect(JSON.parse(JSON.stringify(content))).toEqual(content);
    }
  });

  it('property: what a party signed does not change as later parties add to the message', () => {
    fc.assert(
      fc.property(imsMessageArbitrary, (message) => {
        expect(merchantSignedContent(message)).toEqual(merchantSignedContent(withoutSignatures(message)));
        if (message.address.fspSign !== undefined) {
          // The customer's signature is added after it signs; its sealed second factor is part of what it signs.
          const { sign: _sign, ...unsignedFrom } = message.address.from;
          const beforeCustomer = { ...message, address: { ...message.address, from: unsignedFrom } };
          expect(customerSignedContent(message)).toEqual(customerSignedContent(beforeCustomer));
          const beforeFsp = {
            ...beforeCustomer,
            address: { ...beforeCustomer.address, from: { id: message.address.from.id }, fspSign: undefined },
          };
          expect(fspSignedContent(message)).toEqual(fspSignedContent(beforeFsp));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: changing the amount changes what every party signs', () => {
    fc.assert(
      fc.property(imsMessageArbitrary, fc.bigInt({ min: 1n, max: 1000n }), (message, delta) => {
        const { amount } = message.data;
        const minor = amount.minor > delta ? amount.minor - delta : amount.minor + delta;
        const other = { ...message, data: { ...message.data, amount: { ...amount, minor } } };
        expect(merchantSignedContent(other)).not.toEqual(merchantSignedContent(message));
      }),
      { numRuns: 100 },
    );
  });
});

function withoutSignaturesJson() {
  const json = sampleImsJson();
  delete json.address.from.sign;
  delete json.address.to.sign;
  delete json.address.fspSign;
  delete json.data.accountPayable;
  delete json.data.accountReceivable;
  delete json.protections;
  return json;
}

describe('customer decline content', () => {
  it('differs from the confirmation content, so one can never stand for the other', async () => {
    const { customerDeclineContent } = await import('./signed-content.ts');
    const { canonicalize } = await import('../canonical/index.ts');
    const message = signed;
    const decline = customerDeclineContent(message);
    expect(decline.decision).toBe('decline');
    expect(decline.transactionId).toBe(message.transactionId);
    expect(canonicalize(decline)).not.toBe(canonicalize(customerSignedContent(message)));
    expect(Object.keys(decline).sort()).toEqual(
      ['amount', 'decision', 'fspSign', 'payee', 'payer', 'signer', 'transactionId'].sort(),
    );
  });
});
