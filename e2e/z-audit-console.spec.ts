/**
 * The auditor's console in Chromium against the relay every other spec used (so the log holds
 * their actions): the auditor sees them, verifies the whole log in the browser (a green verdict),
 * cosigns the latest checkpoint as a witness, and exports a bundle that `sealvault verify-audit`
 * accepts offline. Then a row is edited in the audit database behind the relay's back: the
 * console and the offline verifier both name the entry. Runs after the other specs and before
 * zz-no-plaintext-at-rest (files run in name order).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, test, type Page } from '@playwright/test';
import { canonicalJson, type Json } from '../shared/crypto/encoding';
import { signIn } from './support/people';

const AUDITOR_PASSWORD = 'Harbor compass juniper 4 audit';

function verifyOffline(bundle: string): { code: number | null; stdout: string } {
  const run = spawnSync('npx', ['tsx', 'relay/cli.ts', 'verify-audit', bundle], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout };
}

async function exportBundle(page: Page, dir: string, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByTestId('audit-export').click()]);
  const path = join(dir, name);
  await download.saveAs(path);
  return path;
}

test('the auditor verifies the whole log, cosigns a checkpoint, exports a bundle the offline verifier accepts, and both catch an edited row', async ({ browser }) => {
  test.setTimeout(360_000);
  const baseURL = test.info().project.use.baseURL!;
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-audit-'));
  const auditor = await signIn(browser, baseURL, 'auditor', AUDITOR_PASSWORD);
  await auditor.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
  await expect(auditor.getByTestId('audit-console')).toBeVisible();

  await test.step('the actions of the other tests are in the log', async () => {
    await expect(auditor.getByTestId('audit-entry-row').first()).toBeVisible({ timeout: 30_000 });
    await auditor.getByTestId('audit-filter-action').fill('contract.create');
    await auditor.getByTestId('audit-filter-apply').click();
    await expect(auditor.locator('[data-testid="audit-entry-row"][data-action="contract.create"]').first()).toBeVisible({ timeout: 60_000 });
    await auditor.getByTestId('audit-filter-reset').click();
  });

  await test.step('the whole log verifies in the browser', async () => {
    await auditor.getByTestId('audit-verify').click();
    await expect(auditor.getByTestId('audit-verdict')).toHaveAttribute('data-ok', 'true', { timeout: 180_000 });
    await expect(auditor.getByTestId('audit-failure')).toHaveCount(0);
  });

  await test.step('the auditor cosigns the latest checkpoint as a witness', async () => {
    await auditor.getByTestId('audit-cosign').click();
    await expect(auditor.getByTestId('audit-cosigned')).toBeVisible({ timeout: 60_000 });
  });

  const good = await exportBundle(auditor, dir, 'bundle.json');
  await test.step('the offline verifier accepts the exported bundle', async () => {
    const result = verifyOffline(good);
    expect(result.stdout).toMatch(/^OK: \d+ entries/m);
    expect(result.code).toBe(0);
  });

  await test.step('a row edited in the database is named by the console and by the offline verifier', async () => {
    const db = new Database(join(process.env.SEALVAULT_E2E_DATA!, 'audit', 'audit.sqlite'));
    try {
      // An operator with the database in hand: the append-only triggers are no obstacle to them.
      db.exec('DROP TRIGGER IF EXISTS entries_no_update');
      const row = db.prepare('SELECT idx, leaf FROM entries WHERE idx = 2').get() as { idx: number; leaf: Buffer };
      const signed = JSON.parse(row.leaf.toString('utf8')) as { entry: { target: string } };
      signed.entry.target = 'account:someone-else';
      db.prepare('UPDATE entries SET leaf = ? WHERE idx = 2').run(Buffer.from(canonicalJson(signed as unknown as Json), 'utf8'));
    } finally {
      db.close();
    }
    await auditor.getByTestId('audit-verify').click();
    await expect(auditor.getByTestId('audit-verdict')).toHaveAttribute('data-ok', 'false', { timeout: 180_000 });
    await expect(auditor.locator('[data-testid="audit-failure"][data-index="2"]').first()).toBeVisible();

    const bad = await exportBundle(auditor, dir, 'bundle-edited.json');
    const result = verifyOffline(bad);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\(entry 2\)/);
    expect(result.stdout).toMatch(/^FAILED: /m);
  });
});
