import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PublishedPosition, reconcilePositions } from './reconcile.ts';

const position = (bank: string, peer: string, net: bigint, inFlight = 0n): PublishedPosition => ({
  bank,
  peer,
  currency: 'EUR',
  net,
  inFlight,
});

describe('reconcilePositions', () => {
  it('agrees when the two books mirror each other', () => {
    const [pair] = reconcilePositions([
      position('xbank', 'ybank', 2500n),
      position('ybank', 'xbank', -2500n),
    ]);
    expect(pair).toMatchObject({
      banks: ['xbank', 'ybank'],
      owedByFirst: 2500n,
      agree: true,
      consistent: true,
    });
  });

  it('explains a lead of the merchant bank by the payments in flight, in either direction', () => {
    // xbank → ybank 100 in flight: ybank credited (its net −100), xbank not posted yet.
    const ahead = reconcilePositions([
      position('xbank', 'ybank', 0n, 100n),
      position('ybank', 'xbank', -100n),
    ]);
    expect(ahead[0]).toMatchObject({ agree: false, consistent: true });
    // ybank → xbank 40 in flight: xbank credited (its net −40), ybank not posted yet.
    const back = reconcilePositions([position('xbank', 'ybank', -40n), position('ybank', 'xbank', 0n, 40n)]);
    expect(back[0]).toMatchObject({ agree: false, consistent: true });
  });

  it('flags money that appeared or vanished', () => {
    const lagging = reconcilePositions([position('xbank', 'ybank', 100n), position('ybank', 'xbank', 0n)]);
    expect(lagging[0]?.consistent).toBe(false);
    const beyond = reconcilePositions([
      position('xbank', 'ybank', 0n, 50n),
      position('ybank', 'xbank', -51n),
    ]);
    expect(beyond[0]?.consistent).toBe(false);
    const oneSided = reconcilePositions([position('ybank', 'xbank', -10n)]);
    expect(oneSided[0]).toMatchObject({ banks: ['xbank', 'ybank'], consistent: false });
  });

  it('is consistent for any interleaving of credits before posts (property)', () => {
    const payment = fc.record({
      fromX: fc.boolean(),
      amount: fc.bigInt({ min: 1n, max: 10_000n }),
      stage: fc.constantFrom('credited', 'posted'),
    });
    fc.assert(
      fc.property(fc.array(payment, { maxLength: 30 }), (payments) => {
        let xNet = 0n;
        let yNet = 0n;
        let xFlight = 0n;
        let yFlight = 0n;
        for (const { fromX, amount, stage } of payments) {
          // The merchant bank's settlement account is debited on credit; the client bank's credited on post.
          if (fromX) {
            yNet -= amount;
            if (stage === 'posted') xNet += amount;
            else xFlight += amount;
          } else {
            xNet -= amount;
            if (stage === 'posted') yNet += amount;
            else yFlight += amount;
          }
        }
        const [pair] = reconcilePositions([
          position('xbank', 'ybank', xNet, xFlight),
          position('ybank', 'xbank', yNet, yFlight),
        ]);
        return (
          pair?.consistent === true &&
          pair.agree === (xFlight + yFlight === 0n || payments.every((p) => p.stage === 'posted'))
        );
      }),
    );
  });
});
