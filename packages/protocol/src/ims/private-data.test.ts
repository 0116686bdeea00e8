import { describe, expect, it } from 'vitest';
import { sampleImsJson, sampleSealedData } from './arbitraries.test-helper.ts';
import { imsFromJson } from './json.ts';
import { imsPrivateDataFromJson, imsPrivateDataFromText, imsPrivateDataToText } from './private-data.ts';
import { imsFromXml, imsToXml } from './xml/index.ts';

const transactionId = '0b8f2a6e-4c1d-4f7a-9e3b-2d5c6a7b8c9d';

describe('private data', () => {
  it('writes canonical text and reads it back', () => {
    const text = imsPrivateDataToText({
      transactionId,
      description: 'Order 42',
      orderLines: [{ name: 'Tea, green', quantity: 2, unitAmount: { currency: 'EUR', minor: 450n } }],
    });
    expect(text).toBe(
      `{"description":"Order 42","orderLines":[{"name":"Tea, green","quantity":2,"unitAmount":{"currency":"EUR","value":"4.50"}}],"transactionId":"${transactionId}"}`,
    );
    expect(imsPrivateDataFromText(text).orderLines?.[0]?.unitAmount).toEqual({
      currency: 'EUR',
      minor: 450n,
    });
  });

  it.each<[string, unknown, string]>([
    ['nothing private', { transactionId }, 'private'],
    ['an unknown field', { transactionId, description: 'x', account: 'ACC-1' }, 'private.account'],
    ['no transaction', { description: 'x' }, 'private.transactionId'],
    ['no lines', { transactionId, orderLines: [] }, 'private.orderLines'],
    [
      'a zero quantity',
      {
        transactionId,
        orderLines: [{ name: 'x', quantity: 0, unitAmount: { currency: 'EUR', value: '1.00' } }],
      },
      'private.orderLines[0].quantity',
    ],
    [
      'a fractional price',
      {
        transactionId,
        orderLines: [{ name: 'x', quantity: 1, unitAmount: { currency: 'EUR', value: '1.005' } }],
      },
      'private.orderLines[0].unitAmount.value',
    ],
    [
      'a control character in a name',
      {
        transactionId,
        orderLines: [{ name: 'a\u0000b', quantity: 1, unitAmount: { currency: 'EUR', value: '1.00' } }],
      },
      'private.orderLines[0].name',
    ],
    [
      'too many lines',
      {
        transactionId,
        orderLines: Array.from({ length: 21 }, () => ({
          name: 'x',
          quantity: 1,
          unitAmount: { currency: 'EUR', value: '1.00' },
        })),
      },
      'private.orderLines',
    ],
  ])('refuses %s', (_name, value, detail) => {
    expect(() => imsPrivateDataFromJson(value)).toThrow(expect.objectContaining({ detail }));
  });

  it('refuses text that is not JSON', () => {
    expect(() => imsPrivateDataFromText('{')).toThrow(expect.objectContaining({ code: 'MESSAGE_INVALID' }));
  });

  it('refuses text that is not the canonical text (a duplicate key, other spacing)', () => {
    const canonical = imsPrivateDataToText({ transactionId, description: 'tea' });
    expect(imsPrivateDataFromText(canonical).description).toBe('tea');
    for (const text of [
      `{"description":"tea","description":"coffee","transactionId":"${transactionId}"}`,
      `{"transactionId":"${transactionId}","description":"tea"}`,
      `{"description": "tea","transactionId":"${transactionId}"}`,
    ])
      expect(() => imsPrivateDataFromText(text)).toThrow(expect.objectContaining({ detail: 'private' }));
  });

  it('keeps the text within imsPrivateDataBytesMax (a full cart of long non-ASCII names does not fit)', () => {
    const orderLines = Array.from({ length: 20 }, () => ({
      name: 'Ж'.repeat(200),
      quantity: 1,
      unitAmount: { currency: 'EUR' as const, minor: 100n },
    }));
    expect(() => imsPrivateDataToText({ transactionId, orderLines })).toThrow(
      expect.objectContaining({ detail: 'private' }),
    );
    expect(imsPrivateDataToText({ transactionId, orderLines: orderLines.slice(0, 5) }).length).toBeLessThan(
      4096,
    );
  });
});

describe('the sealed data section', () => {
  const merchantSigned = () => {
    const json = sampleImsJson();
    const { accountPayable: _p, accountReceivable: _r, ...data } = json.data;
    const { protections: _protections, ...rest } = json;
    return {
      ...rest,
      address: { ...json.address, from: { id: json.address.from.id }, fspSign: undefined },
      data: { ...data, sealed: sampleSealedData },
    };
  };

  it('round-trips through JSON and XML as <data><sealed>', () => {
    const json = JSON.parse(JSON.stringify(merchantSigned()));
    const message = imsFromJson(json);
    const xml = imsToXml(message);
    expect(xml).toContain(`<sealed><content>${sampleSealedData.content}</content><customer>`);
    expect(imsFromXml(xml)).toEqual(message);
  });

  it('is never beside a description in clear', () => {
    const json = JSON.parse(JSON.stringify(merchantSigned()));
    json.data.description = 'in clear';
    expect(() => imsFromJson(json)).toThrow(expect.objectContaining({ detail: 'data.description' }));
  });

  it('needs all four parts, each a compact JWE', () => {
    const json = JSON.parse(JSON.stringify(merchantSigned()));
    delete json.data.sealed.payeeBank;
    expect(() => imsFromJson(json)).toThrow(expect.objectContaining({ detail: 'data.sealed.payeeBank' }));
    json.data.sealed.payeeBank = 'not.a.jwe';
    expect(() => imsFromJson(json)).toThrow(expect.objectContaining({ detail: 'data.sealed.payeeBank' }));
  });

  it('at a sealing level, refuses an account or a description in clear', () => {
    const json = sampleImsJson();
    json.type = 'large';
    json.protections = [...(json.protections ?? []), 'private_data_sealed'];
    expect(() => imsFromJson(json)).toThrow(expect.objectContaining({ detail: 'data.accountPayable' }));
    const { accountPayable: _p, accountReceivable: _r, ...data } = json.data;
    expect(() => imsFromJson({ ...json, data: { ...data, description: 'x' } })).toThrow(
      expect.objectContaining({ detail: 'data.description' }),
    );
    expect(imsFromJson({ ...json, data }).data).not.toHaveProperty('accountPayable');
  });
});
