/**
 * `mpay simulate`: the flags it refuses (exit 2, a message naming the flag),
 * and one short run (ims over the Wi-Fi profile, two payments) whose figures
 * must all be there, with bytes on the device's link and every request of the
 * device through the shaper. No timing is asserted.
 */
import { describe, expect, it } from 'vitest';
import { platformStartDeadlineMs } from '../../../../test/support/deadlines.ts';
import { runMpay } from '../io.test-helper.ts';
import { type CellFigures, parseSimulateArguments, percentile, type SimulateFigures } from './index.ts';
import { barChartSvg, niceStep } from './svg.ts';

const silent = { stdout: () => undefined, stderr: () => undefined };

describe('mpay simulate flags', () => {
  it.each([
    [['--profiles', '5g'], /--profiles: no profile "5g"/],
    [['--protocols', 'ims,bitcoin'], /--protocols: no protocol "bitcoin"/],
    [['--payments', '0'], /--payments must be a whole number from 1 to 200/],
    [['--payments', '201'], /--payments must be a whole number from 1 to 200/],
    [['--payments', 'two'], /--payments must be/],
    [['--payments'], /--payments needs a value/],
    [['--seed', 'a b'], /--seed must be/],
    [['--max-minutes', '0'], /--max-minutes must be/],
    [['--profile', 'wifi'], /unknown argument "--profile"/],
    [['--payments', '2', '--payments', '3'], /--payments given twice/],
    [['--tls=yes'], /unknown argument "--tls=yes"/],
  ])('refuses %j', async (argv, message) => {
    const { status, stderr } = await runMpay(['simulate', ...argv]);
    expect(status).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('expands 2g to both 2G profiles and takes the defaults', () => {
    expect(parseSimulateArguments(['--profiles', '2g,wifi,edge'], silent)).toMatchObject({
      profiles: ['gprs', 'edge', 'wifi'],
      protocols: ['ims', 'ims-custody', 'macro', 'banking'],
      payments: 5,
      seed: 'mpay',
      json: false,
      writeDoc: false,
    });
  });

  it('computes nearest-rank percentiles and draws a chart', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.95)).toBe(4);
    expect(niceStep(7)).toBe(2);
    const svg = barChartSvg({
      title: 'a <b>',
      unit: 's',
      groups: ['x', 'y'],
      series: [{ name: 'p', values: [1, undefined] }],
    });
    expect(svg).toContain('<svg');
    expect(svg).toContain('a &#60;b&#62;');
    expect(svg.match(/<rect [^>]*fill="#3366cc"/g)).toHaveLength(2); // one bar and its legend square
  });
});

describe('mpay simulate run', () => {
  // Over TLS only (CI's time): the plain run differs in the device's fetch alone.
  it.each([['--tls: HTTPS, HTTP/2 with the gateway', ['--tls']]])(
    'pays twice with ims over Wi-Fi and reports every figure (%s)',
    async (_transport, extra) => {
      const { status, stdout, stderr } = await runMpay([
        'simulate',
        '--profiles',
        'wifi',
        '--protocols',
        'ims',
        '--payments',
        '2',
        '--json',
        ...extra,
      ]);
      expect(stderr).not.toMatch(/failed|bypassed/);
      expect(status).toBe(0);
      const figures = JSON.parse(stdout) as SimulateFigures;
      expect(figures.cells).toHaveLength(1);
      const cell = figures.cells[0] as CellFigures;
      expect(cell).toMatchObject({
        protocol: 'ims',
        profile: 'wifi',
        payments: 2,
        failures: 0,
        unshapedRequests: 0,
      });
      expect(cell.p50Ms).toBeGreaterThan(0);
      expect(cell.p95Ms).toBeGreaterThanOrEqual(cell.p50Ms ?? 0);
      expect(cell.bytesUp).toBeGreaterThan(0);
      expect(cell.bytesDown).toBeGreaterThan(0);
      expect(cell.httpRequests).toBeGreaterThan(0);
      expect(cell.exchanges).toBeGreaterThan(0);
      expect(cell.deviceCpuMs).toBeGreaterThan(0);
      expect(cell.deviceCryptoMs).toBeGreaterThan(0);
      expect(figures.loadBefore).toMatch(/^[0-9.]+ [0-9.]+ [0-9.]+$/);
      // Over TLS the device's calls still go through the meter and the shaper (unshapedRequests 0 above).
      expect(figures.tls).toBe(extra.length > 0);
    },
    platformStartDeadlineMs + 5 * 60_000,
  );
});
