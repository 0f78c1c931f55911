/**
 * Test support: Debian's chromium driven by playwright-core (no browser download). The
 * node's certificate is self-signed, so the test browser ignores certificate errors; the
 * tests save a screenshot of each main page under $PARAPET_SCREENSHOTS (default
 * test-results/screenshots).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export function chromiumPath(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === null) {
    throw new Error('chromium is not installed (scripts/install-system-deps.sh installs it)');
  }
  return chromium.launch({
    executablePath,
    headless: true,
    // Root in CI: chromium's sandbox needs user namespaces it does not get there.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export async function newPage(
  browser: Browser,
  viewport = { width: 1280, height: 860 },
): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

export const screenshotDir = (): string =>
  process.env['PARAPET_SCREENSHOTS'] ?? join(process.cwd(), 'test-results', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = screenshotDir();
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the real form. */
export async function signInThroughForm(
  page: Page,
  url: string,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(url);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
