import { expect, test } from '@playwright/test';

test('the app loads over HTTPS in a secure context and reaches its relay', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sealvault', exact: true })).toBeVisible();
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

/** A two-page PDF written by hand: one line of Helvetica per page, with a correct xref table. */
function twoPagePdf(): Buffer {
  const content = (text: string) => `BT /F1 28 Tf 36 120 Td (${text}) Tj ET`;
  const stream = (body: string) => `<< /Length ${Buffer.byteLength(body, 'latin1')} >>\nstream\n${body}\nendstream`;
  const page = (contents: number) => `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 260] /Resources << /Font << /F1 5 0 R >> >> /Contents ${contents} 0 R >>`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>',
    page(6),
    page(7),
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    stream(content('Sealvault page one')),
    stream(content('Sealvault page two')),
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  // Every xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, space, LF.
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  const bytes = Buffer.from(pdf, 'latin1');
  // The offsets really point at their objects, so pdf.js reads the table rather than repairing it.
  offsets.forEach((offset, i) => expect(bytes.toString('latin1', offset, offset + 10)).toMatch(new RegExp(`^${i + 1} 0 obj\n`)));
  return bytes;
}

test('a decrypted PDF is shown from memory page by page, with nothing fetched from elsewhere', async ({ page, context, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const elsewhere: string[] = [];
  context.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) elsewhere.push(r.url());
  });
  const workers: string[] = [];
  const problems: string[] = [];
  const noteConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'error' && /content.security.policy|\bCSP\b|unsafe-eval/i.test(m.text())) problems.push(m.text());
  };
  page.on('console', noteConsole);
  page.on('worker', (w) => {
    workers.push(w.url());
    w.on('console', noteConsole);
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('download', (d) => problems.push(`download: ${d.suggestedFilename()}`));
  // Record CSP violations and object URLs made by the page (the PDF must not become a blob: URL).
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as unknown as { __seen: string[] }).__seen = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`CSP: ${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`));
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (o: Blob | MediaSource) => {
      seen.push(`object URL for ${o instanceof Blob ? o.type || 'a blob' : 'media'}`);
      return create(o);
    };
  });

  await page.goto('/');
  await expect(page.getByTestId('relay')).toContainText('reachable');
  expect(workers.some((u) => u.includes('pdf.worker'))).toBe(false); // pdf.js is loaded only for a PDF
  // Nothing on the page may trip the CSP either (zod runs jitless: no eval probe).
  const seenBefore = await page.evaluate(() => (globalThis as unknown as { __seen: string[] }).__seen.splice(0));
  expect(seenBefore).toEqual([]);

  await page.getByTestId('file-input').setInputFiles({ name: 'two-pages.pdf', mimeType: 'application/pdf', buffer: twoPagePdf() });
  await expect(page.getByTestId('file-result')).toContainText('encrypted and decrypted intact');
  await expect(page.getByTestId('file-preview-note')).toContainText('decrypted copy');
  const viewer = page.getByTestId('pdf-viewer');
  const canvas = viewer.getByTestId('pdf-page');
  await expect(canvas).toHaveAttribute('data-rendered-page', '1');
  await expect(viewer.getByTestId('pdf-page-status')).toHaveText('Page 1 of 2');
  // Ink on the canvas: the text was drawn with the bundled standard font.
  const darkPixels = () =>
    canvas.evaluate((c: HTMLCanvasElement) => {
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! < 100 && data[i + 3]! > 0) dark++;
      return dark;
    });
  expect(await darkPixels()).toBeGreaterThan(200);

  await viewer.getByRole('button', { name: 'Next' }).click();
  await expect(canvas).toHaveAttribute('data-rendered-page', '2');
  await expect(viewer.getByTestId('pdf-page-status')).toHaveText('Page 2 of 2');
  await expect(viewer.getByRole('button', { name: 'Next' })).toBeDisabled();
  expect(await darkPixels()).toBeGreaterThan(200);

  // Arrow keys turn pages while the page area has focus; zoom changes the drawn size.
  await viewer.getByRole('group').focus();
  await page.keyboard.press('ArrowLeft');
  await expect(canvas).toHaveAttribute('data-rendered-page', '1');
  const fitWidth = await canvas.evaluate((c) => c.getBoundingClientRect().width);
  await viewer.getByRole('button', { name: 'Zoom out' }).click();
  await expect.poll(() => canvas.evaluate((c) => c.getBoundingClientRect().width)).toBeLessThan(fitWidth);
  await expect(canvas).toHaveAttribute('data-rendered-page', '1');

  expect(workers.some((u) => new URL(u).origin === origin && u.includes('pdf.worker'))).toBe(true);
  expect(elsewhere).toEqual([]);
  expect(problems).toEqual([]);
  expect(await page.evaluate(() => (globalThis as unknown as { __seen: string[] }).__seen)).toEqual([]);
});
