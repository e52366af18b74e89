/**
 * Saving a large file without the File System Access API goes through the download worker
 * (issue 5): the browser's own download, fed as a stream, so the tab never holds the file whole.
 * The saved bytes are the uploaded ones, under the file's Chinese name; the tab's live memory
 * stays far below the file's size while it streams; and a block tampered with (served changed
 * by the relay, or changed on its disk) makes the browser's download fail, never a short file
 * kept as complete, while the page shows the refusal. This test runs its own relay, so that it
 * can edit the block store, and its own browser, which trusts that relay's key.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Browser, type CDPSession } from '@playwright/test';
import { createSpace } from '../shared/protocol/spaces';
import { employeePassword, startEnterprise, type Enterprise } from '../relay/integration/enterprise-fixture';
import { patternBytes, signIn } from './support/people';

const SPA = fileURLToPath(new URL('../client/build', import.meta.url));
const MiB = 1024 * 1024;

let enterprise: Enterprise;
let browser: Browser;
test.beforeAll(async ({ playwright, launchOptions }) => {
  enterprise = await startEnterprise('Stream Test Co', { spaDir: SPA });
  // Chromium registers no service worker from a page whose certificate it does not trust, and
  // ignoreHTTPSErrors does not change that: this browser trusts the relay's own key, and no other,
  // as a person does who installed the relay's local CA (the other tests take the Blob path).
  const spki = new X509Certificate(readFileSync(join(enterprise.dataDir, 'tls', 'server.pem'))).publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  browser = await playwright.chromium.launch({ ...launchOptions, args: [...(launchOptions.args ?? []), `--ignore-certificate-errors-spki-list=${pin}`] });
});
test.afterAll(async () => {
  await browser?.close();
  await enterprise?.close();
});

/** Every block file in the relay's stores (blocks of all files, under random ids). */
function blockFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...blockFiles(path));
    else if (entry.isFile() && path.includes(`${sep}blobs${sep}`)) out.push(path);
  }
  return out;
}

/**
 * The tab's live memory: V8's heap plus ArrayBuffer backing stores (where file bytes live, and
 * which JSHeapUsedSize leaves out), measured after a collection so garbage not yet collected
 * does not count: what the page holds, not what it has touched.
 */
async function liveBytes(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const usage = await cdp.send('Runtime.getHeapUsage');
  return usage.usedSize + usage.backingStorageSize;
}

test('a large file is saved through the download worker as a stream, and a tampered block fails the download', async () => {
  test.setTimeout(300_000);
  const manager = await enterprise.employee('sally', 'Sally Stream', { spaceManager: true });
  const { space } = await createSpace(enterprise.transport, manager, enterprise.caPem, 'Stream space');

  const size = 40 * MiB + 4321;
  const content = patternBytes(size, 0xd0d0);
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-stream-'));
  const name = '采购框架协议 2025.bin';
  const path = join(dir, name);
  writeFileSync(path, content);

  const page = await signIn(browser, enterprise.relay.url, 'sally', employeePassword('sally'));
  // The hidden frame and the worker must pass the relay's CSP as it is.
  const violations: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /content.security.policy/i.test(m.text())) violations.push(m.text());
  });
  // The worker was registered on the first page and has claimed it by now.
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null), { timeout: 15_000 }).toMatch(/\/service-worker\.js$/);

  await page.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
  await page.getByTestId('space-row').filter({ hasText: 'Stream space' }).getByRole('link').click();
  await page.waitForURL(new RegExp(`/spaces/${space}$`));
  const form = page.getByTestId('new-contract');
  await form.getByTestId('field-title').fill('Streamed agreement');
  await page.getByTestId('drop-zone-input').setInputFiles([path]);
  await form.getByTestId('create-contract').click();
  await expect(page.getByTestId('upload-done')).toHaveCount(1, { timeout: 180_000 });
  await page.getByTestId('contract-created').getByRole('link').click();
  const row = page.getByTestId('file-row').filter({ hasText: name });

  const cdp = await page.context().newCDPSession(page);
  const before = await liveBytes(cdp);
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await liveBytes(cdp));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download').click()]);
  // The worker's URL, not a blob: one (the in-memory path) and not the relay (which answers 404 there).
  expect(new URL(download.url()).pathname).toMatch(/^\/download-stream\/[0-9a-f]{32}$/);
  expect(download.suggestedFilename()).toBe(name);
  const saved = join(dir, 'downloaded.bin');
  await download.saveAs(saved);
  expect(await download.failure()).toBeNull();
  sampling = false;
  await sampler;
  expect(statSync(saved).size).toBe(size);
  expect(Buffer.compare(readFileSync(saved), content)).toBe(0);
  const growth = peak - before;
  console.log(`download-stream: ${(size / MiB).toFixed(1)} MiB file, live memory before ${(before / MiB).toFixed(1)} MiB, peak growth ${(growth / MiB).toFixed(1)} MiB`);
  // A behaviour check, not a benchmark: holding the file adds all of its 40 MiB (the in-memory
  // path measured 39 MiB here); streaming holds the blocks between fetch and decryption (each
  // stage may queue one 4 MiB block) and a 1 MiB batch for the worker.
  expect(growth).toBeLessThan(24 * MiB);
  await expect(row.getByRole('alert')).toHaveCount(0);
  expect(violations).toEqual([]);

  // A relay that serves the last block changed: the page's own check refuses it, after all the
  // blocks before it went to disk, and the browser must not keep that part as the file.
  const lastBlock = (url: URL) => /\/versions\/1\/blocks\/10$/.test(url.pathname);
  await page.route(
    lastBlock,
    async (route) => {
      const response = await route.fetch();
      const body = await response.body();
      body[body.length >> 1]! ^= 0x01;
      await route.fulfill({ response, body });
    },
  );
  const [lied] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download').click()]);
  expect(new URL(lied.url()).pathname).toMatch(/^\/download-stream\//);
  const liedFailure = await lied.failure();
  console.log(`download-stream: a tampered block fails the download: ${liedFailure}`);
  expect(liedFailure).not.toBeNull();
  await expect(row.getByRole('alert')).toContainText('does not match its signed fingerprint');
  await page.unroute(lastBlock);

  // The same block changed on the relay's disk: the relay checks the copy while sending it and
  // cuts the answer, or (when the bytes are already out) the page's own check refuses them; the
  // download fails just the same.
  const stored = blockFiles(join(enterprise.dataDir, 'vault', 'stores'));
  expect(stored.length).toBeGreaterThanOrEqual(3);
  const smallest = Math.min(...stored.map((f) => statSync(f).size));
  for (const file of stored.filter((f) => statSync(f).size === smallest)) {
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(file, bytes);
  }
  const [failed] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download').click()]);
  expect(new URL(failed.url()).pathname).toMatch(/^\/download-stream\//);
  expect(await failed.failure()).not.toBeNull();
  await expect(row.getByRole('alert')).toContainText(/does not match its signed fingerprint|unavailable/);
});
