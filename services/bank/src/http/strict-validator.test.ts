import { describe, expect, it } from 'vitest';
import { createTransferBodySchema, postPendingBodySchema } from './schemas.ts';
import { compile, type StrictSchema, strictValidatorCompiler } from './strict-validator.ts';

const validateTransfer = strictValidatorCompiler({ schema: createTransferBodySchema });
const id = '00000000-0000-4000-8000-000000000001';

describe('strictValidatorCompiler', () => {
  it('accepts a valid body as is', () => {
    const body = { id, amount: '10', timeoutSeconds: 5, kind: 'pending' };
    expect(validateTransfer(body)).toEqual({ value: body });
  });

  it.each([
    ['a number where a string is expected (no coercion)', { id, amount: 10 }, '$.amount must be a string'],
    [
      'a string where an integer is expected',
      { id, timeoutSeconds: '5' },
      '$.timeoutSeconds must be an integer',
    ],
    ['a fractional integer', { id, timeoutSeconds: 1.5 }, '$.timeoutSeconds must be an integer'],
    ['an unknown property (not silently removed)', { id, extra: 1 }, '$.extra is not allowed'],
    ['a missing required property', { amount: '1' }, '$.id is required'],
    ['a value outside the enum', { id, kind: 'refund' }, '$.kind must be one of'],
    ['null', null, '$ must be an object'],
    ['an array', [id], '$ must be an object'],
  ])('refuses %s', (_name, body, message) => {
    const { error } = validateTransfer(body);
    expect(error).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((error as { detail?: string }).detail).toContain(message);
  });

  it('turns an absent body into {} only where the schema allows null', () => {
    expect(strictValidatorCompiler({ schema: postPendingBodySchema })(null)).toEqual({ value: {} });
  });

  it('refuses, at registration, schemas outside the subset', () => {
    const open = { type: 'object', properties: {}, additionalProperties: true } as unknown as StrictSchema;
    expect(() => compile(open)).toThrow(/additionalProperties: false/);
    const format = { type: 'string', format: 'uuid' } as unknown as StrictSchema;
    expect(() => compile(format)).toThrow(/unsupported keyword format/);
    const nested = {
      type: 'object',
      properties: { a: format },
      additionalProperties: false,
    } as unknown as StrictSchema;
    expect(() => compile(nested)).toThrow(/unsupported keyword format/);
  });
});
