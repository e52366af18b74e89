/**
 * A contract's life on its page, in Chromium against its own relay: a new version of a file is
 * uploaded and the old one still downloads byte for byte; the page lists who has access and the
 * person's own activity; deleting takes two people: the editor who asks cannot approve, the
 * manager reads the reason (decrypted in the browser) and approves, and the contract is gone.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { createSpace, grantAccess } from '../shared/protocol/spaces';
import { employeePassword, startEnterprise, type Enterprise } from '../relay/integration/enterprise-fixture';
import { followInApp, patternBytes, signIn } from './support/people';

const SPA = fileURLToPath(new URL('../client/build', import.meta.url));

let enterprise: Enterprise;
test.beforeAll(async () => {
  enterprise = await startEnterprise('Lifecycle Co', { spaDir: SPA });
});
test.afterAll(async () => enterprise?.close());

async function openSpace(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
  await page.getByTestId('space-row').filter({ hasText: name }).getByRole('link').click();
}

test('file versions, access, activity, and a deletion that takes two people', async ({ browser }) => {
  test.setTimeout(240_000);
  const manager = await enterprise.employee('mona', 'Mona Manager', { spaceManager: true });
  const editor = await enterprise.employee('eddie', 'Eddie Editor');
  const { space } = await createSpace(enterprise.transport, manager, enterprise.caPem, 'Leases');
  await grantAccess(enterprise.transport, manager, enterprise.caPem, space, editor.account, 'editor');

  const dir = mkdtempSync(join(tmpdir(), 'sealvault-lifecycle-'));
  const first = patternBytes(700_000, 0x1ea5e1);
  const second = patternBytes(900_123, 0x1ea5e2);
  const v1 = join(dir, 'lease.bin');
  const v2 = join(dir, 'lease-v2.bin');
  writeFileSync(v1, first);
  writeFileSync(v2, second);

  const eddie = await signIn(browser, enterprise.relay.url, 'eddie', employeePassword('eddie'));
  await openSpace(eddie, 'Leases');
  const form = eddie.getByTestId('new-contract');
  await form.getByTestId('field-title').fill('Warehouse lease');
  await eddie.getByTestId('drop-zone-input').setInputFiles([v1]);
  await form.getByTestId('create-contract').click();
  await expect(eddie.getByTestId('upload-done')).toHaveCount(1, { timeout: 60_000 });
  await eddie.getByTestId('contract-created').getByRole('link').click();
  await eddie.waitForURL(/\/c-/);
  const contractPath = new URL(eddie.url()).pathname;

  await test.step('a new version of the file; the old one still downloads byte for byte', async () => {
    await eddie.getByTestId('file-row').getByTestId('new-version-input').setInputFiles(v2);
    await expect(eddie.getByTestId('upload-done')).toHaveCount(1, { timeout: 60_000 });
    const row = eddie.getByTestId('file-row');
    await expect(row).toContainText('version 2');
    await row.getByTestId('file-versions').locator('summary').click();
    await expect(row.getByTestId('file-version')).toHaveCount(2);
    const [old] = await Promise.all([eddie.waitForEvent('download'), row.locator('[data-testid="file-version"][data-version="1"]').getByTestId('download-version').click()]);
    expect(old.suggestedFilename()).toBe('lease (v1).bin');
    await old.saveAs(join(dir, 'old.bin'));
    expect(Buffer.compare(readFileSync(join(dir, 'old.bin')), first)).toBe(0);
    const [latest] = await Promise.all([eddie.waitForEvent('download'), row.getByTestId('download').click()]);
    expect(latest.suggestedFilename()).toBe('lease.bin');
    await latest.saveAs(join(dir, 'latest.bin'));
    expect(Buffer.compare(readFileSync(join(dir, 'latest.bin')), second)).toBe(0);
  });

  await test.step('who has access, and the editor\'s own activity', async () => {
    await expect(eddie.getByTestId('access-row')).toHaveCount(2);
    await expect(eddie.getByTestId('access')).toContainText('Mona Manager');
    await expect(eddie.getByTestId('access')).toContainText('Editor');
    const activity = eddie.getByTestId('activity');
    await expect(activity.locator('[data-action="contract.create"]')).toHaveCount(1);
    await expect(activity.locator('[data-action="file.upload"]')).toHaveCount(2);
    await expect(activity.locator('[data-action="file.download"]')).toHaveCount(2);
    await expect(activity).toContainText('Uploaded lease.bin (version 2)');
  });

  await test.step('the versions seen are kept sealed in IndexedDB for the next sign-in', async () => {
    const contract = contractPath.split('/')[3]!;
    await expect
      .poll(() => eddie.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? '')), { timeout: 10_000 })
      .toContainEqual(expect.stringMatching(/^sealvault-versions-/));
    const stored = await eddie.evaluate(async () => {
      const name = (await indexedDB.databases()).map((d) => d.name ?? '').find((n) => n.startsWith('sealvault-versions-'))!;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const value = await new Promise<unknown>((resolve, reject) => {
        const r = db.transaction('memory').objectStore('memory').get('versions');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      db.close();
      return JSON.stringify(value ?? null);
    });
    expect(stored).toContain('"ct"');
    expect(stored).not.toContain(contract);
    expect(stored).not.toContain(space);
  });

  const reason = 'Lease ended early; 租约提前终止';
  await test.step('the editor asks for deletion and cannot approve it', async () => {
    await eddie.getByTestId('deletion-ask').click();
    await eddie.getByTestId('deletion-reason-input').fill(reason);
    await eddie.getByTestId('deletion-submit').click();
    await expect(eddie.getByTestId('deletion-pending')).toContainText('Eddie Editor');
    await expect(eddie.getByTestId('deletion-reason')).toHaveText(reason);
    await expect(eddie.getByTestId('deletion-approve')).toHaveCount(0);
  });

  await test.step('the manager reads the reason and approves; the contract is gone', async () => {
    const mona = await signIn(browser, enterprise.relay.url, 'mona', employeePassword('mona'));
    await openSpace(mona, 'Leases');
    await mona.getByTestId('contract-row').filter({ hasText: 'Warehouse lease' }).getByRole('link').click();
    await expect(mona.getByTestId('deletion-reason')).toHaveText(reason);
    await mona.getByTestId('deletion-approve').click();
    await mona.waitForURL((url) => url.pathname === `/spaces/${space}`);
    await expect(mona.getByTestId('contract-row')).toHaveCount(0);
    // The editor's page, opened again, says the contract was deleted.
    await openSpace(eddie, 'Leases');
    await expect(eddie.getByTestId('contract-row')).toHaveCount(0);
    await followInApp(eddie, contractPath);
    await expect(eddie.getByRole('alert')).toContainText('This contract was deleted');
  });
});
