import { randomUUID } from 'node:crypto';
import { macroOrderId as coreMacroOrderId } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { macroOrderId } from './approval.ts';
import { sha256 } from './approval-request.ts';

describe("the client bank's macro order id", () => {
  it('is the core’s macroOrderId, which the MPASP uses to ask for it at step 12', () => {
    for (const bankId of ['xbank', 'ybank', 'bank-with-dashes']) {
      for (let round = 0; round < 20; round++) {
        const sessionId = randomUUID();
        expect(coreMacroOrderId(bankId, sessionId, sha256)).toBe(macroOrderId(bankId, sessionId));
      }
    }
  });
});
