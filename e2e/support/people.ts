/** Signing people in through the app's own login page, one browser context per person. */
import { expect, type Browser, type Page } from '@playwright/test';

export async function signIn(browser: Browser, baseURL: string, username: string, password: string): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL, acceptDownloads: true });
  // No native save dialog in a headless run: the page takes its Blob download path.
  await context.addInitScript(() => delete (window as { showSaveFilePicker?: unknown }).showSaveFilePicker);
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('welcome')).toContainText('Welcome', { timeout: 30_000 });
  return page;
}

/** Deterministic bytes that no other file of the tests repeats. */
export function patternBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32: cheap, and not a pattern the chunked format could compress or align with
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Follows a link inside the app, as a bookmark clicked in the same tab would (a reload drops the keys). */
export async function followInApp(page: Page, path: string): Promise<void> {
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.href = href;
    document.body.append(a);
    a.click();
    a.remove();
  }, path);
  await page.waitForURL((url) => url.pathname === path);
}
