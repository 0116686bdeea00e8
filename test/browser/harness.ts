import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { startTestPlatform, type TestPlatform } from '../e2e/harness.ts';
import { expectUsableScreen } from './accessibility.ts';

/**
 * Real-browser tests: the whole platform on loopback with its web pages, and
 * Debian's Chromium (installed by the project's setup, scripts/system-packages.mjs)
 * driven by playwright-core at a phone's size. No downloaded browser.
 */

/** Where Debian installs Chromium; MPAY_CHROMIUM names another binary. */
export const chromiumPath = process.env.MPAY_CHROMIUM ?? '/usr/bin/chromium';

/** A phone: 390 × 844 CSS pixels, touch, at twice the density. */
export const phoneViewport = { width: 390, height: 844 } as const;

/** The platform with its pages (web: true), the browser, and helpers to open pages at phone size. */
export interface BrowserPlatform extends TestPlatform {
  readonly web: string;
  readonly browser: Browser;
  /** A fresh browser profile (its own IndexedDB and storage) at phone size: one person's phone. */
  phone(): Promise<{ context: BrowserContext; page: Page }>;
  /** A fresh profile at desktop size (the console, a shop's staff). */
  desk(): Promise<{ context: BrowserContext; page: Page }>;
}

export async function startBrowserPlatform(
  options: Parameters<typeof startTestPlatform>[0] = {},
): Promise<BrowserPlatform> {
  const test = await startTestPlatform({ ...options, web: true });
  const web = test.platform.urls.web;
  if (web === undefined) throw new Error('assertion failed: the platform serves its pages');
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      // Root in a container has no user namespace for Chromium's sandbox.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  } catch (error) {
    await test.close();
    throw new Error(
      `Chromium did not start from ${chromiumPath}: install Debian's chromium package (npm install runs ` +
        `scripts/system-packages.mjs, which does) or set MPAY_CHROMIUM`,
      { cause: error },
    );
  }
  const open = async (size: { width: number; height: number }, mobile: boolean) => {
    const context = await browser.newContext({
      viewport: size,
      deviceScaleFactor: mobile ? 2 : 1,
      isMobile: mobile,
      hasTouch: mobile,
      baseURL: web,
    });
    const page = await context.newPage();
    return { context, page };
  };
  return {
    ...test,
    web,
    browser,
    phone: () => open(phoneViewport, true),
    desk: () => open({ width: 1280, height: 860 }, false),
    async close() {
      await browser.close();
      await test.close();
    },
  };
}

const screensFolder = fileURLToPath(new URL('../../docs/screens/', import.meta.url));

/**
 * A screen the test reached: checked as a person would use it (`expectUsableScreen`:
 * every control named, nothing wider than the screen, no overlapping controls, all
 * reachable by keyboard) on every run, and written to docs/screens/<name>.png when
 * MPAY_SCREENSHOTS=1 (`npm run screenshots`); the suite's own runs leave the docs alone.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  await expectUsableScreen(page, name);
  if (process.env.MPAY_SCREENSHOTS !== '1') return;
  await mkdir(screensFolder, { recursive: true });
  await page.screenshot({ path: join(screensFolder, `${name}.png`), fullPage: true });
}
