import { describe, expect, it } from 'vitest';
import {
  custodyMessageAwaitsCustomer,
  custodyMessageStates,
  custodySteps,
  stepCustodyMessage,
} from './security-procedure.ts';

describe('the iMS §5 security procedure at custody', () => {
  it('has the ten steps of the paper, numbered 1 to 10', () => {
    expect(Object.keys(custodySteps).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('signs a message at most once: a second authorisation for it is refused in every later state', () => {
    expect(stepCustodyMessage('sent_to_device', 'delegate_confirmed')).toEqual({
      to: 'signed',
      effects: ['send_to_fsp', 'log_signature'],
    });
    for (const state of custodyMessageStates.filter((s) => s !== 'sent_to_device')) {
      expect(custodyMessageAwaitsCustomer(state)).toBe(false);
      for (const event of ['delegate_confirmed', 'delegate_declined'] as const) {
        expect(() => stepCustodyMessage(state, event)).toThrow(
          expect.objectContaining({ code: 'PAYMENT_STATE_INVALID' }),
        );
      }
    }
  });

  it('forwards a receipt only for a message custody signed, and ends every path', () => {
    expect(stepCustodyMessage('signed', 'fsp_receipt').effects).toEqual(['forward_receipt']);
    expect(() => stepCustodyMessage('declined', 'fsp_receipt')).toThrow();
    expect(() => stepCustodyMessage('sent_to_device', 'fsp_receipt')).toThrow();
    for (const state of ['sent_to_device', 'signed', 'declined'] as const) {
      expect(stepCustodyMessage(state, 'fsp_outcome').to).toBe('closed');
    }
    for (const state of ['receipted', 'closed'] as const) {
      expect(() => stepCustodyMessage(state, 'fsp_outcome')).toThrow();
    }
  });
});
