/**
 * Seals and signing in Chromium against the relay over HTTPS: a seal manager asks for the company
 * seal in the browser, a second security administrator approves it (its key is made and enveloped
 * to its user there); an editor sends a PDF for signature with the fields dragged onto its page;
 * the second signer finds nothing to do before the first has signed; the first draws a signature;
 * the second asks for the seal's use, the seal manager approves it, and she signs with a typed
 * signature and the company seal. The final PDF carries three signatures, valid in the browser,
 * in poppler's pdfsig and in OpenSSL against the enterprise CA; the same PDF with one byte changed
 * shows as invalid. The signed PDF and the CA certificate are left in e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { verifyPdfSignatures } from '../shared/pdf/verify';
import { twoPagePdf } from '../shared/pdf/test-support';
import { shareEnterpriseCaKey } from '../shared/protocol/certification';
import { createSpace, grantAccess } from '../shared/protocol/spaces';
import { nssDatabaseTrusting, opensslVerifies, pdfsig, requirePdfTools } from '../shared/test-support/pdf-tools';
import { employeePassword, startEnterprise, type Enterprise } from '../relay/integration/enterprise-fixture';
import { followInApp, signIn } from './support/people';

const SPA = fileURLToPath(new URL('../client/build', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('./artifacts', import.meta.url));

let enterprise: Enterprise;
test.beforeAll(async () => {
  requirePdfTools();
  enterprise = await startEnterprise('Signing Co', { spaDir: SPA });
});
test.afterAll(async () => enterprise?.close());

async function addPerson(page: Page, list: string, name: string): Promise<void> {
  const picker = page.getByTestId(list);
  await picker.getByRole('textbox').fill(name);
  await picker.getByRole('button', { name: 'Find' }).click();
  await picker.getByTestId('seal-person-add').first().click();
  await expect(picker.getByTestId('seal-person').filter({ hasText: name })).toHaveCount(1);
}

async function drawSignature(page: Page): Promise<void> {
  const canvas = page.getByTestId('signature-canvas');
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.6);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width * (0.1 + i * 0.06), box.y + box.height * (0.6 - 0.3 * Math.sin(i)));
  await page.mouse.up();
}

async function openTask(page: Page): Promise<void> {
  await page.getByTestId('nav-tasks').click();
  await page.waitForURL(/\/tasks$/);
  await page.getByTestId('task-row').getByRole('link').click();
  await expect(page.getByTestId('signing-flow')).toBeVisible({ timeout: 30_000 });
}

test('a seal is requested, approved and used; two employees sign in order; three PAdES signatures verify here and outside', async ({ browser }) => {
  test.setTimeout(360_000);
  const { transport, sec, caPem, relay } = enterprise;
  const sec2 = await enterprise.employee('sec2', 'Second Security', { roles: ['security-admin'] });
  await shareEnterpriseCaKey(transport, sec, caPem, sec2.account);
  const mark = await enterprise.employee('mark', 'Mark Sealkeeper');
  await enterprise.employee('alice', 'Alice Auditor');
  const mona = await enterprise.employee('mona', 'Mona Manager', { spaceManager: true });
  const eddie = await enterprise.employee('eddie', 'Eddie Editor');
  const sam = await enterprise.employee('sam', 'Sam Signer');
  const sue = await enterprise.employee('sue', 'Sue Signer');
  const { space } = await createSpace(transport, mona, caPem, 'Sales');
  await grantAccess(transport, mona, caPem, space, eddie.account, 'editor');
  await grantAccess(transport, mona, caPem, space, sam.account, 'signer');
  await grantAccess(transport, mona, caPem, space, sue.account, 'signer');
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-signing-'));
  const pdfPath = join(dir, 'supply-agreement.pdf');
  writeFileSync(pdfPath, await twoPagePdf());

  const markPage = await signIn(browser, relay.url, 'mark', employeePassword('mark'));
  await test.step('the seal manager asks for the company seal, drawn in the browser', async () => {
    await markPage.getByTestId('nav-seals').click();
    const form = markPage.getByTestId('seal-request-form');
    await form.getByTestId('seal-type').selectOption('company');
    await form.getByTestId('seal-name').fill('Signing Co company seal');
    await form.getByTestId('seal-purpose').fill('Contracts');
    await expect(form.getByTestId('seal-preview')).toBeVisible();
    await addPerson(markPage, 'seal-users', 'Sue Signer');
    await addPerson(markPage, 'seal-auditors', 'Alice Auditor');
    await expect(form.getByTestId('seal-use-needs-approval')).toBeChecked();
    await markPage.getByTestId('seal-submit').click();
    await expect(markPage.getByTestId('seal-list').getByTestId('seal-status')).toHaveAttribute('data-status', 'requested', { timeout: 30_000 });
  });

  await test.step('a second security administrator approves it: key and certificate made, key enveloped to its user', async () => {
    const secPage = await signIn(browser, relay.url, 'sec2', employeePassword('sec2'));
    await secPage.getByRole('navigation').getByRole('link', { name: 'Security administration' }).click();
    const row = secPage.getByTestId('admin-seals').getByTestId('seal-row').filter({ hasText: 'Signing Co company seal' });
    await row.getByTestId('seal-approve').getByRole('button', { name: 'Approve' }).click();
    await expect(row).toHaveCount(0, { timeout: 60_000 });
    await secPage.context().close();
  });

  const eddiePage = await signIn(browser, relay.url, 'eddie', employeePassword('eddie'));
  let flowPath = '';
  await test.step('the editor sends the PDF for signature, fields dragged onto the page', async () => {
    await eddiePage.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await eddiePage.getByTestId('space-row').filter({ hasText: 'Sales' }).getByRole('link').click();
    const form = eddiePage.getByTestId('new-contract');
    await form.getByTestId('field-title').fill('Supply agreement');
    await eddiePage.getByTestId('drop-zone-input').setInputFiles([pdfPath]);
    await form.getByTestId('create-contract').click();
    await expect(eddiePage.getByTestId('upload-done')).toHaveCount(1, { timeout: 60_000 });
    await eddiePage.getByTestId('contract-created').getByRole('link').click();
    await eddiePage.getByTestId('start-signing-link').click();
    await expect(eddiePage.getByTestId('signing-new')).toBeVisible({ timeout: 30_000 });
    await eddiePage.locator(`[data-testid="signer-choice"][data-account="${sam.account}"]`).check();
    await eddiePage.locator(`[data-testid="signer-choice"][data-account="${sue.account}"]`).check();
    await expect(eddiePage.getByTestId('signing-order').getByRole('listitem')).toHaveText([/Sam Signer/, /Sue Signer/]);
    const overlay = eddiePage.getByTestId('placer-overlay');
    // The whole A4 page on screen at once, so each drop lands where it is aimed without scrolling.
    await eddiePage.setViewportSize({ width: 1280, height: 2000 });
    await expect(eddiePage.getByTestId('field-add-signature')).toBeEnabled({ timeout: 30_000 });
    const box = (await overlay.boundingBox())!;
    await eddiePage.getByTestId('field-signer').selectOption(sam.account);
    await eddiePage.getByTestId('field-add-signature').dragTo(overlay, { targetPosition: { x: box.width * 0.25, y: box.height * 0.75 } });
    await eddiePage.getByTestId('field-add-date').dragTo(overlay, { targetPosition: { x: box.width * 0.25, y: box.height * 0.85 } });
    await eddiePage.getByTestId('field-signer').selectOption(sue.account);
    await eddiePage.getByTestId('field-add-signature').dragTo(overlay, { targetPosition: { x: box.width * 0.7, y: box.height * 0.75 } });
    await eddiePage.getByTestId('field-add-seal').dragTo(overlay, { targetPosition: { x: box.width * 0.7, y: box.height * 0.55 } });
    await expect(overlay.getByTestId('placed-field')).toHaveCount(4);
    await expect(overlay.getByTestId('field-seal')).toContainText('Signing Co company seal');
    await expect(eddiePage.getByTestId('signing-gap')).toHaveCount(0);
    await eddiePage.getByTestId('start-signing').click();
    await eddiePage.waitForURL(/\/signing\/[A-Za-z0-9_-]+$/, { timeout: 30_000 });
    await expect(eddiePage.getByTestId('flow-state')).toHaveText('Being signed');
    flowPath = new URL(eddiePage.url()).pathname;
  });

  const suePage = await signIn(browser, relay.url, 'sue', employeePassword('sue'));
  await test.step('the second signer has nothing to sign before the first', async () => {
    await suePage.getByTestId('nav-tasks').click();
    await expect(suePage.getByTestId('tasks-none')).toBeVisible();
    await followInApp(suePage, flowPath);
    await expect(suePage.getByTestId('not-your-turn')).toBeVisible({ timeout: 30_000 });
    await expect(suePage.getByTestId('my-turn')).toHaveCount(0);
  });

  await test.step('the first signer draws a signature and signs', async () => {
    const samPage = await signIn(browser, relay.url, 'sam', employeePassword('sam'));
    await openTask(samPage);
    await expect(samPage.getByTestId('my-turn')).toBeVisible({ timeout: 30_000 });
    await drawSignature(samPage);
    await samPage.getByTestId('sign-now').click();
    await expect(samPage.locator(`[data-testid="flow-signer"][data-account="${sam.account}"]`)).toHaveAttribute('data-signed', 'true', { timeout: 90_000 });
    await expect(samPage.getByTestId('signature-row')).toHaveCount(1, { timeout: 30_000 });
    await expect(samPage.getByTestId('signature-row')).toHaveAttribute('data-status', 'valid');
    await samPage.context().close();
  });

  await test.step('the second signer asks for the seal, its manager approves, she signs with a typed signature and the seal', async () => {
    await openTask(suePage);
    const seal = suePage.getByTestId('turn-seal');
    await expect(seal).toHaveAttribute('data-approval', 'needed', { timeout: 30_000 });
    await expect(suePage.getByTestId('sign-now')).toBeDisabled();
    await suePage.getByTestId('ask-seal-approval').click();
    await expect(seal).toHaveAttribute('data-approval', 'pending');

    await markPage.getByTestId('nav-tasks').click();
    await markPage.waitForURL(/\/tasks$/);
    await markPage.getByTestId('nav-seals').click();
    await markPage.waitForURL(/\/seals$/);
    await markPage.getByTestId('seal-list').getByTestId('seal-row').getByTestId('seal-open').click();
    await markPage.getByTestId('seal-use-row').getByTestId('seal-use-approve').click();
    await expect(markPage.getByTestId('seal-use-row')).not.toContainText('Waiting', { timeout: 30_000 });

    await suePage.getByTestId('nav-seals').click();
    await suePage.waitForURL(/\/seals$/);
    await openTask(suePage);
    await expect(suePage.getByTestId('turn-seal')).toHaveAttribute('data-approval', 'approved', { timeout: 30_000 });
    await suePage.getByTestId('signature-mode-type').check();
    await expect(suePage.getByTestId('signature-preview')).toBeVisible();
    await suePage.getByTestId('sign-now').click();
    await expect(suePage.getByTestId('flow-state')).toHaveText('Signed by all', { timeout: 90_000 });
  });

  mkdirSync(ARTIFACTS, { recursive: true });
  const signedPath = join(ARTIFACTS, 'signed-contract.pdf');
  const caPath = join(ARTIFACTS, 'enterprise-ca.pem');
  await test.step('three valid signatures in the browser; the signed PDF and the CA certificate download', async () => {
    const rows = suePage.getByTestId('signature-row');
    await expect(rows).toHaveCount(3, { timeout: 30_000 });
    for (const row of await rows.all()) await expect(row).toHaveAttribute('data-status', 'valid');
    await expect(rows.nth(2)).toHaveAttribute('data-kind', 'seal');
    await expect(suePage.getByTestId('signatures-verdict')).toHaveText('All 3 signature(s) are valid.');

    const [ca] = await Promise.all([suePage.waitForEvent('download'), suePage.getByTestId('download-ca').click()]);
    await ca.saveAs(caPath);
    expect(readFileSync(caPath, 'utf8')).toBe(caPem);

    const [pdf] = await Promise.all([suePage.waitForEvent('download'), suePage.getByTestId('download-signed').click()]);
    expect(pdf.suggestedFilename()).toBe('supply-agreement.pdf');
    await pdf.saveAs(signedPath);
  });

  await test.step('outside the app: pdfsig and OpenSSL accept all three against the enterprise CA', async () => {
    const signed = new Uint8Array(readFileSync(signedPath));
    const nss = nssDatabaseTrusting(readFileSync(caPath, 'utf8'));
    expect(pdfsig(signed, nss).map((v) => [v.signatureValidation, v.certificateValidation])).toEqual(Array(3).fill(['Signature is Valid.', 'Certificate is Trusted.']));
    const reports = await verifyPdfSignatures(signed, { caCertificatePem: caPem, revoked: new Map() });
    expect(reports).toHaveLength(3);
    for (const r of reports) expect(opensslVerifies(signed, r.byteRange, caPem)).toBe(true);
  });

  await test.step('the same PDF with one byte changed shows as invalid, in the browser and in pdfsig', async () => {
    const signed = new Uint8Array(readFileSync(signedPath));
    const reports = await verifyPdfSignatures(signed, { caCertificatePem: caPem, revoked: new Map() });
    const tampered = new Uint8Array(signed);
    const at = Math.floor(reports[0]!.byteRange[1] / 2);
    tampered[at] = tampered[at]! ^ 0x20;
    const tamperedPath = join(dir, 'supply-agreement-changed.pdf');
    writeFileSync(tamperedPath, tampered);
    await suePage.getByTestId('verify-local-input').setInputFiles(tamperedPath);
    await expect(suePage.getByTestId('signatures-local')).toContainText('supply-agreement-changed.pdf');
    await expect(suePage.getByTestId('signatures-verdict')).toHaveText('Not every signature is valid: see below.', { timeout: 30_000 });
    await expect(suePage.locator('[data-testid="signature-row"][data-status="invalid"]')).toHaveCount(3);
    expect(pdfsig(tampered, nssDatabaseTrusting(caPem)).some((v) => v.signatureValidation !== 'Signature is Valid.')).toBe(true);
  });
});
