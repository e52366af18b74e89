/**
 * An upload interrupted by a relay restart resumes by itself and completes (issue 5): the relay
 * goes down while a block is on its way, the page says the connection was lost and tries again,
 * and once the relay is back only the blocks it does not hold are sent. The downloaded file is
 * the same bytes. This test runs its own relay (the built app, its own data), so that it can stop
 * and start it without disturbing the other tests.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { createSpace } from '../shared/protocol/spaces';
import { employeePassword, startEnterprise, type Enterprise } from '../relay/integration/enterprise-fixture';
import { patternBytes, signIn } from './support/people';

const SPA = fileURLToPath(new URL('../client/build', import.meta.url));

let enterprise: Enterprise;
test.beforeAll(async () => {
  enterprise = await startEnterprise('Resume Test Co', { spaDir: SPA });
});
test.afterAll(async () => enterprise?.close());

test('an upload cut off by a relay restart resumes by itself, sending only the missing blocks', async ({ browser }) => {
  test.setTimeout(240_000);
  const manager = await enterprise.employee('rita', 'Rita Resume', { spaceManager: true });
  const { space } = await createSpace(enterprise.transport, manager, enterprise.caPem, 'Resume space');

  // 18 MiB: five 4 MiB blocks of ciphertext, so there are blocks before and after the cut.
  const content = patternBytes(18 * 1024 * 1024 + 777, 0x5eed);
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-resume-'));
  const path = join(dir, 'framework-agreement.bin');
  writeFileSync(path, content);

  const page = await signIn(browser, enterprise.relay.url, 'rita', employeePassword('rita'));
  const sent = new Map<number, number>();
  page.on('requestfinished', (r) => {
    const m = /\/blocks\/(\d+)$/.exec(new URL(r.url()).pathname);
    if (m && r.method() === 'PUT') sent.set(Number(m[1]), (sent.get(Number(m[1])) ?? 0) + 1);
  });
  // Chromium's own throttle (no request interception, which would slow everything unevenly):
  // slow enough that the upload is surely under way when the relay goes down.
  const cdp = await page.context().newCDPSession(page);
  const network = (offline: boolean) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: 6 * 1024 * 1024 });
  await network(false);

  // In-app navigation: a reload would drop the keys, which live in this tab only.
  await page.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
  await page.getByTestId('space-row').filter({ hasText: 'Resume space' }).getByRole('link').click();
  await page.waitForURL(new RegExp(`/spaces/${space}$`));
  const form = page.getByTestId('new-contract');
  await form.getByTestId('field-title').fill('Framework agreement');
  await page.getByTestId('drop-zone-input').setInputFiles([path]);
  await form.getByTestId('create-contract').click();

  // Once two blocks are on the relay, it goes down: the connection is gone (the browser is
  // offline, so no keep-alive connection can carry a retry through) and the relay restarts.
  await page.waitForFunction(() => {
    const bar = document.querySelector('[data-testid="upload-progress"][data-phase="uploading"]');
    return bar !== null && Number(bar.getAttribute('data-percent')) >= 25;
  }, undefined, { timeout: 60_000, polling: 50 });
  await network(true);
  const restarting = enterprise.restart(2_000);
  await expect(page.getByTestId('upload-reconnecting')).toContainText('Connection to the relay lost', { timeout: 30_000 });
  await restarting;
  // Back online: the browser's online event cuts the wait short and the upload resumes.
  await network(false);
  await expect(page.getByTestId('upload-done')).toHaveCount(1, { timeout: 120_000 });
  // Blocks that arrived before the cut were not sent again; every block arrived once.
  expect([...sent.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  expect([...sent.values()].every((n) => n === 1)).toBe(true);

  await page.getByTestId('contract-created').getByRole('link').click();
  const row = page.getByTestId('file-row').filter({ hasText: 'framework-agreement.bin' });
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download').click()]);
  const saved = join(dir, 'downloaded.bin');
  await download.saveAs(saved);
  expect(Buffer.compare(readFileSync(saved), content)).toBe(0);
});
