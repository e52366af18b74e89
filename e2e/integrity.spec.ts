import { expect, test } from '@playwright/test';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, type RunningRelay } from '../relay/server';

// A second relay over a copy of the build, so one of its modules can be changed after start.
let relay: RunningRelay;
let root: string;
test.beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sealvault-sri-'));
  cpSync('client/build', join(root, 'build'), { recursive: true });
  relay = await startRelay({ dataDir: join(root, 'data'), port: 0, httpPort: false, spaDir: join(root, 'build'), handleSignals: false, log: () => {} });
});
test.afterAll(async () => {
  await relay?.close();
  rmSync(root, { recursive: true, force: true });
});

test('a module changed on the server after start is refused by the browser (subresource integrity)', async ({ page }) => {
  await page.goto(relay.url);
  await expect(page.getByRole('heading', { name: 'Sealvault', exact: true })).toBeVisible();

  const entryDir = join(root, 'build', '_app', 'immutable', 'entry');
  const start = readdirSync(entryDir).find((f) => f.startsWith('start.'))!;
  writeFileSync(join(entryDir, start), 'document.title = "pwned";\n');
  const errors: string[] = [];
  page.on('console', (m) => errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));

  const fresh = await page.context().browser()!.newContext({ ignoreHTTPSErrors: true });
  const p2 = await fresh.newPage();
  p2.on('console', (m) => errors.push(m.text()));
  await p2.goto(relay.url);
  await p2.waitForTimeout(1500);
  expect(await p2.title()).not.toBe('pwned');
  await expect(p2.getByRole('heading', { name: 'Sealvault', exact: true })).toHaveCount(0);
  expect(errors.join('\n')).toMatch(/integrity/i);
  await fresh.close();
});
