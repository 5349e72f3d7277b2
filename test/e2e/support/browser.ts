import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { webIsBuilt, WEB_DIST } from '../../../src/web/index.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's Chromium, headless. The flags keep it from reaching out to Google's services, which
 * this machine's closed network refuses (slow starts, noisy logs), and run it as root.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/ensure-chromium.sh (npm test does)`);
  const dist = process.env.FUELCARD_WEB_OUT || WEB_DIST;
  if (!webIsBuilt(dist)) throw new Error(`the web front ends are not built in ${dist}: run npm run build:web (npm test does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export interface TrackedPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught page errors and console errors seen so far (a healthy screen has none). */
  errors: string[];
}

/** A phone: the portal is a mobile-first H5 page. */
export const PHONE = { viewport: { width: 390, height: 844 }, mobile: true } as const;

/** A fresh context (own storage: a separate person on a separate device) with error tracking. */
export async function openPage(
  browser: Browser,
  opts: { baseURL: string; viewport?: { width: number; height: number }; locale?: string; /** touch screen, mobile viewport meta, 2x pixels */ mobile?: boolean },
): Promise<TrackedPage> {
  const context = await browser.newContext({
    baseURL: opts.baseURL,
    viewport: opts.viewport ?? { width: 1440, height: 900 },
    locale: opts.locale ?? 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...(opts.mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // Expected refusals (4xx answers the test provokes) show as failed resource loads: not errors of the page.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  return { page, context, errors };
}

/**
 * Screenshots of the main screens. With UPDATE_SCREENSHOTS=1 they are written to
 * docs/screenshots (committed, shown in the README); otherwise to a temporary folder, so a
 * normal test run leaves the repository untouched.
 */
export function screenshotDir(): string {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? path.resolve('docs/screenshots') : path.join(os.tmpdir(), 'fuelcard-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * While the picture is taken: no transient toasts (antd message / notification) over the screen
 * they report on, no blinking caret; animations are frozen, and the pointer is moved off the page
 * so no hover highlight shows. The screen itself is what the README should show.
 */
const SHOT_STYLE = '.ant-message, .ant-notification { display: none !important; }';

export async function shot(page: Page, name: string): Promise<string> {
  const file = path.join(screenshotDir(), `${name}.png`);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: file, fullPage: false, animations: 'disabled', caret: 'hide', style: SHOT_STYLE });
  return file;
}

/**
 * When a test fails, a picture of every page it had open, in the temporary folder (never in
 * docs/screenshots): the first thing to look at when a browser test breaks on CI.
 */
export async function failureShots(pages: Record<string, TrackedPage>): Promise<string[]> {
  const dir = path.join(os.tmpdir(), 'fuelcard-screenshots', 'failures');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const [who, { page }] of Object.entries(pages)) {
    if (page.isClosed()) continue;
    const file = path.join(dir, `${who}.png`);
    await page.screenshot({ path: file }).then(() => files.push(file), () => undefined);
  }
  return files;
}
