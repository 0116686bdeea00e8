import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import {
  bankOfMacroClientId,
  isMacroClientId,
  isMacroEmail,
  macroChannelInfo,
  maskEmail,
  normalizeSecretAnswer,
  parseMacroChannelConfirmation,
  parseMacroClientIdContent,
  parseMacroRegistration,
  parseSecretAnswer,
} from './registration.ts';

const registration = {
  kind: 'macro_registration',
  partyId: 'ann.smith@person.xbank',
  msisdn: '+38970111222',
  email: 'ann.smith@mail.example',
  name: 'Ann Smith',
  secretQuestion: 'Name of your first school?',
  deviceSecret: 'A'.repeat(42).concat('Q'),
  issuedAt: '2026-12-02T10:00:00.000Z',
};

function codeAndPath(run: () => unknown): { code: string; detail: string | undefined } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return { code: error.code, detail: error.detail };
  }
}

describe('parseMacroRegistration', () => {
  it('accepts a well-formed registration and returns a frozen copy', () => {
    const parsed = parseMacroRegistration({ ...registration });
    expect(parsed).toEqual(registration);
    expect(Object.isFrozen(parsed)).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a member added', { admin: true }, 'MESSAGE_INVALID', 'admin'],
    ['another kind', { kind: 'macro_payment_request' }, 'MESSAGE_INVALID', 'kind'],
    ['a merchant', { partyId: 'shop@merchant.xbank' }, 'PARTY_ID_INVALID', 'partyId'],
    [
      'a party id not in canonical form',
      { partyId: 'Ann.Smith@person.xbank' },
      'PARTY_ID_INVALID',
      'partyId',
    ],
    ['a national number', { msisdn: '070111222' }, 'MESSAGE_INVALID', 'msisdn'],
    ['two recipients', { email: 'ann@mail.example,eve@evil.example' }, 'MESSAGE_INVALID', 'email'],
    ['a display-name address', { email: 'Ann <ann@mail.example>' }, 'MESSAGE_INVALID', 'email'],
    ['a non-ASCII address', { email: 'änn@mail.example' }, 'MESSAGE_INVALID', 'email'],
    ['an address without a domain dot', { email: 'ann@localhost' }, 'MESSAGE_INVALID', 'email'],
    [
      'a long address',
      { email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}` },
      'MESSAGE_INVALID',
      'email',
    ],
    ['a long name', { name: 'x'.repeat(101) }, 'MESSAGE_INVALID', 'name'],
    ['an untrimmed name', { name: 'Ann ' }, 'MESSAGE_INVALID', 'name'],
    ['a control in the name', { name: 'Ann\nSmith' }, 'MESSAGE_INVALID', 'name'],
    ['a long question', { secretQuestion: 'q'.repeat(257) }, 'MESSAGE_INVALID', 'secretQuestion'],
    ['a bidi override in the question', { secretQuestion: 'a\u202eb' }, 'MESSAGE_INVALID', 'secretQuestion'],
    ['a short device secret', { deviceSecret: 'A'.repeat(42) }, 'MESSAGE_INVALID', 'deviceSecret'],
    ['a device secret of 33 bytes', { deviceSecret: 'A'.repeat(44) }, 'MESSAGE_INVALID', 'deviceSecret'],
    [
      'a device secret with stray bits',
      { deviceSecret: 'A'.repeat(42).concat('B') },
      'MESSAGE_INVALID',
      'deviceSecret',
    ],
    ['a date, not an instant', { issuedAt: '2026-12-02' }, 'MESSAGE_INVALID', 'issuedAt'],
  ])('refuses %s', (_, override, code, detail) => {
    expect(codeAndPath(() => parseMacroRegistration({ ...registration, ...override }))).toEqual({
      code,
      detail,
    });
  });

  it('accepts the longest address RFC 5321 allows and the longest question and name', () => {
    const email = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(email).toHaveLength(254);
    expect(isMacroEmail(email)).toBe(true);
    expect(() =>
      parseMacroRegistration({
        ...registration,
        email,
        name: 'n'.repeat(100),
        secretQuestion: 'q'.repeat(256),
      }),
    ).not.toThrow();
  });
});

describe('secret answers', () => {
  it('are compared in one normal form: NFKC, trimmed, spaces collapsed, case folded', () => {
    expect(normalizeSecretAnswer('  Saint\t  MARY ')).toBe('saint mary');
    expect(normalizeSecretAnswer('ＳＡＩＮＴ\u3000Mary')).toBe('saint mary');
    expect(normalizeSecretAnswer('Straße')).toBe('strasse');
    expect(normalizeSecretAnswer('ΟΔΥΣΣΕΥΣ')).toBe(normalizeSecretAnswer('οδυσσευς'));
    expect(normalizeSecretAnswer('ﬁsh')).toBe('fish');
  });

  it('are refused when too long as typed, too short once normalised, or with controls', () => {
    expect(parseSecretAnswer('Saint Mary')).toBe('saint mary');
    expect(parseSecretAnswer('a'.repeat(256))).toHaveLength(256);
    for (const answer of ['a'.repeat(257), '  ab  ', '', 'ab\u0007c', 42]) {
      expect(codeAndPath(() => parseSecretAnswer(answer))).toEqual({
        code: 'MESSAGE_INVALID',
        detail: 'secretAnswer',
      });
    }
  });
});

describe('client ids, masked addresses, the bank statement and the channel', () => {
  it('reads ID_C as C, twelve digits and a bank id', () => {
    expect(isMacroClientId('C042917365028.xbank')).toBe(true);
    expect(bankOfMacroClientId('C042917365028.x-bank2')).toBe('x-bank2');
    for (const id of [
      'C04291736502.xbank',
      'c042917365028.xbank',
      'C042917365028',
      'C042917365028.fsp',
      'C042917365028.xbank-',
    ]) {
      expect({ id, valid: isMacroClientId(id) }).toEqual({ id, valid: false });
    }
    expect(() => bankOfMacroClientId('ann@person.xbank')).toThrow();
  });

  it('masks an address to its first character and its domain', () => {
    expect(maskEmail('ann.smith@mail.example')).toBe('a***@mail.example');
    expect(() => maskEmail('not an address')).toThrow();
  });

  it('checks that the bank issued the id for its own person', () => {
    const content = {
      kind: 'macro_client_id',
      clientId: 'C042917365028.xbank',
      partyId: 'ann@person.xbank',
      bankId: 'xbank',
    };
    expect(parseMacroClientIdContent(content)).toEqual(content);
    expect(codeAndPath(() => parseMacroClientIdContent({ ...content, bankId: 'ybank' }))?.detail).toBe(
      'bankId',
    );
    expect(
      codeAndPath(() => parseMacroClientIdContent({ ...content, clientId: 'C042917365028.ybank' }))?.detail,
    ).toBe('bankId');
    expect(
      codeAndPath(() => parseMacroClientIdContent({ ...content, partyId: 'ann@person.ybank' }))?.detail,
    ).toBe('bankId');
  });

  it('builds the channel info from the label, the client and the session, separated by NUL', () => {
    const sessionId = '0b0a0000-0000-4000-8000-000000001234';
    expect(macroChannelInfo('C042917365028.xbank', sessionId)).toBe(
      `mpay macro E_SP v1\u0000C042917365028.xbank\u0000${sessionId}`,
    );
    expect(() => macroChannelInfo('C042917365028.xbank', 'not-a-uuid')).toThrow();
    const confirmation = {
      kind: 'macro_channel_confirmation',
      from: 'fsp.mpay',
      to: 'C042917365028.xbank',
      sessionId,
      expiresAt: '2026-12-02T10:15:00.000Z',
    };
    expect(parseMacroChannelConfirmation(confirmation)).toEqual(confirmation);
    expect(codeAndPath(() => parseMacroChannelConfirmation({ ...confirmation, from: 'xbank' }))?.detail).toBe(
      'from',
    );
  });
});
