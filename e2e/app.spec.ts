import { expect, test } from '@playwright/test';

test('the app loads over HTTPS in a secure context and reaches its relay', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sealvault' })).toBeVisible();
  expect(await page.evaluate(() => isSecureContext)).toBe(true);
  await expect(page.getByTestId('secure')).toHaveText('Secure context (HTTPS)');
  await expect(page.getByTestId('relay')).toContainText('reachable');
});

test('Argon2id runs in a Web Worker with a progress bar, and the page stays responsive', async ({ page }) => {
  await page.goto('/');
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  await page.getByLabel('Test password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Derive' }).click();
  await expect(page.getByTestId('kdf-progress')).toBeVisible();
  // The main thread answers while Argon2id runs: evaluate returns before the result appears.
  expect(await page.evaluate(() => 1 + 1)).toBe(2);
  await expect(page.getByTestId('kdf-result')).toContainText(/Derived in \d+ ms/);
  expect(workers.some((u) => u.includes('argon2'))).toBe(true);
});

test('a file is encrypted and decrypted intact in the browser with progress', async ({ page }) => {
  await page.goto('/');
  const size = 3 * 1024 * 1024 + 12345;
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31) & 0xff;
  await page.getByTestId('file-input').setInputFiles({ name: 'contract.pdf', mimeType: 'application/pdf', buffer });
  await expect(page.getByTestId('file-result')).toContainText('3.16 MB encrypted and decrypted intact');
});

test('the interface switches to Chinese and remembers it', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: '中文' }).click();
  await expect(page.getByRole('heading', { name: '密钥派生检查' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: '本地加密检查' })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
});
