import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, expectUsableScreen } from './accessibility.ts';
import { type BrowserPlatform, screenshot, startBrowserPlatform } from './harness.ts';

/** The web front itself: pages, config, the API proxy and its edges, in Chromium and over plain HTTP. */
describe('the web front', () => {
  let test: BrowserPlatform;
  beforeAll(async () => {
    test = await startBrowserPlatform();
  });
  afterAll(() => test?.close());

  it('serves the home page in Chromium with links to every page', async () => {
    const { context, page } = await test.phone();
    await page.goto('/');
    for (const name of ['Wallet', 'Shop', 'Till', 'Console'])
      await expect(page.getByRole('link', { name, exact: true }).isVisible()).resolves.toBe(true);
    await expectUsableScreen(page, 'home');
    await screenshot(page, 'home');
    await context.close();
  });

  it('has a screen check that finds unlabelled, too wide, overlapping and unreachable controls', async () => {
    const { context, page } = await test.phone();
    await page.setContent(`
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <input id="bare">
      <div style="width: 900px">wide</div>
      <button id="a" style="position:absolute;top:100px;left:10px;width:80px">A</button>
      <button id="b" style="position:absolute;top:105px;left:20px;width:80px">B</button>
      <button id="c" tabindex="-1">C</button>`);
    const problems = await checkScreen(page);
    expect(problems.unlabelled).toEqual(['input#bare']);
    expect(problems.overflowing).toContain('div "wide"');
    expect(problems.overlapping).toContain('button#a "A" × button#b "B"');
    expect(problems.unreachable).toEqual(['button#c "C"']);
    await context.close();
  });

  it('makes the wallet an installable app: its manifest, and a service worker for the shell', async () => {
    const { context, page } = await test.phone();
    await page.goto('/wallet/');
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(new URL(scope).pathname).toBe('/wallet/');
    const href = await page.locator('link[rel="manifest"]').getAttribute('href');
    const manifest = await fetch(`${test.web}${href}`);
    expect(manifest.headers.get('content-type')).toContain('application/manifest+json');
    expect(await manifest.json()).toMatchObject({ start_url: '/wallet/', display: 'standalone' });
    await context.close();
  });

  it('sends the pages with a strict content security policy', async () => {
    const response = await fetch(`${test.web}/wallet/`);
    expect(response.status).toBe(200);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('passes API calls to the service and its answers back unchanged', async () => {
    const direct = await (await fetch(`${test.platform.urls.gateway}/fsp`)).json();
    const proxied = await fetch(`${test.web}/api/gateway/fsp`);
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toEqual(direct);
  });

  it('gives the pages the deployment: where each service is and the log keys', async () => {
    const config = (await (await fetch(`${test.web}/config.json`)).json()) as Record<string, unknown>;
    expect(config.fspId).toBe(test.fsp.id);
    expect(config.api).toMatchObject({
      gateway: '/api/gateway',
      xbank: '/api/xbank',
      custody: '/api/custody',
    });
    expect(config.log).toMatchObject({ origin: test.platform.log.origin, witnessesRequired: 1 });
  });

  it('answers a stable error for an unknown service and 404 for what is not a page', async () => {
    const unknown = await fetch(`${test.web}/api/nowhere/fsp`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/wallet/../../package.json',
      '/.sources-sha256',
    ])
      expect((await fetch(`${test.web}${path}`)).status, path).toBe(404);
  });
});
