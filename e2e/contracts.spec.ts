/**
 * Issue 5's pages in Chromium against the real relay (first version): a space manager makes a
 * space, grants a certified colleague (an uncertified one is refused in words), creates a
 * contract with a PDF and a 9 MB annex uploaded with progress, views the PDF decrypted in the
 * browser and downloads the annex byte for byte; the colleague finds the contract by a
 * counterparty, and on a second visit searches it in Chinese and by amount from the local index
 * without fetching its records, while IndexedDB holds none of its plaintext; after revocation
 * the space is gone from the colleague's list.
 * Runs after accounts.spec.ts, whose administrators (sys, sec) set the employees up here through
 * the browser's own protocol code in Node.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { derivePasswordHalf } from '../shared/crypto/argon2';
import { registerAccount, unlockAccount, type DeriveP } from '../shared/protocol/account';
import { certifyAccount, openEnterpriseCaKey } from '../shared/protocol/certification';
import { fetchTransport } from '../shared/protocol/relay-transport';
import { AccountProfileSchema, EnterpriseResponse } from '../shared/schemas/directory';
import { caFetch } from '../relay/integration/https-client';

const deriveP: DeriveP = (password, salt, params) => derivePasswordHalf(password, salt, params);
const ADMIN_PASSWORDS = { sys: 'Ledger lantern orchard 7 system', sec: 'Quartz meadow signet 9 security', auditor: 'Harbor compass juniper 4 audit' };
const password = (username: string) => `${username} contract pages password 5`;

function twoPagePdf(): Buffer {
  const content = (text: string) => `BT /F1 28 Tf 36 120 Td (${text}) Tj ET`;
  const stream = (body: string) => `<< /Length ${Buffer.byteLength(body, 'latin1')} >>\nstream\n${body}\nendstream`;
  const page = (contents: number) => `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 260] /Resources << /Font << /F1 5 0 R >> >> /Contents ${contents} 0 R >>`;
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>', page(6), page(7), '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>', stream(content('Supply agreement page one')), stream(content('Supply agreement page two'))];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

async function person(browser: Browser, username: string): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: test.info().project.use.baseURL, acceptDownloads: true });
  // No native save dialog in a headless run: the page takes its Blob download path.
  await context.addInitScript(() => delete (window as { showSaveFilePicker?: unknown }).showSaveFilePicker);
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password(username));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('welcome')).toContainText('Welcome', { timeout: 30_000 });
  return page;
}

test('a space manager shares a contract with a PDF and an annex; a colleague finds, views and loses it', async ({ browser }) => {
  test.setTimeout(300_000);
  const dataDir = process.env.SEALVAULT_E2E_DATA ?? '';
  const baseURL = String(test.info().project.use.baseURL);
  const fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
  const transport = fetchTransport(baseURL, (url, init) => fetcher(url, init as never));
  const call = (method: 'GET' | 'POST', path: string, body?: unknown, session?: string) => transport.request(method, path, body, session) as Promise<any>;

  await test.step('the administrators set up a space manager and two employees, one left uncertified', async () => {
    const sys = await unlockAccount({ transport, username: 'sys', password: ADMIN_PASSWORDS.sys, deriveP });
    const sec = await unlockAccount({ transport, username: 'sec', password: ADMIN_PASSWORDS.sec, deriveP });
    const { name, caCertificate } = EnterpriseResponse.parse(await call('GET', '/api/directory/enterprise'));
    const caKey = await openEnterpriseCaKey(transport, sec, caCertificate!);
    const people = [
      { username: 'mgr', legalName: 'Manny Manager', number: 'E2001', manager: true, certify: true },
      { username: 'alice', legalName: 'Alice Editor', number: 'E2002', manager: false, certify: true },
      { username: 'bob', legalName: 'Bob Uncertified', number: 'E2003', manager: false, certify: false },
    ];
    for (const p of people) {
      const invited = await call('POST', '/api/directory/accounts', { legalName: p.legalName, employeeNumber: p.number, contact: `${p.username}@example.test`, username: p.username }, sys.session);
      await call('POST', `/api/directory/accounts/${invited.account}/approve`, {}, sec.session);
      if (p.manager) {
        const request = await call('POST', '/api/directory/role-requests', { account: invited.account, role: 'space-manager', op: 'add' }, sys.session);
        await call('POST', `/api/directory/role-requests/${request.id}/approve`, {}, sec.session);
      }
      const account = await registerAccount({ transport, invitationCode: invited.invitationCode, password: password(p.username), deriveP });
      if (p.certify) {
        const profile = AccountProfileSchema.parse(await call('GET', `/api/directory/accounts/${account.account}`, undefined, sec.session));
        await certifyAccount(transport, sec, { certificatePem: caCertificate!, privateKey: caKey, enterpriseName: name! }, profile);
      }
    }
  });

  const files = mkdtempSync(join(tmpdir(), 'sealvault-e2e-files-'));
  const pdfPath = join(files, 'supply-agreement.pdf');
  writeFileSync(pdfPath, twoPagePdf());
  const annex = Buffer.alloc(9 * 1024 * 1024 + 123);
  for (let i = 0; i < annex.length; i++) annex[i] = (i * 31 + (i >> 12)) & 0xff;
  const annexPath = join(files, 'annex.bin');
  writeFileSync(annexPath, annex);

  let space = '';
  const mgr = await person(browser, 'mgr');
  await test.step('the manager makes a space and grants Alice; Bob, not certified, is refused', async () => {
    await mgr.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await mgr.getByTestId('spaces-list').waitFor();
    await mgr.getByTestId('new-space-name').fill('Sales 销售');
    await mgr.getByTestId('new-space').getByRole('button').click();
    await mgr.waitForURL(/\/spaces\/sp-/);
    space = new URL(mgr.url()).pathname.split('/')[2]!;
    for (const [who, ok] of [['Alice', true], ['Bob', false]] as const) {
      await mgr.getByTestId('people-query').fill(who);
      await mgr.getByTestId('members').getByRole('button', { name: 'Search' }).click();
      await mgr.getByTestId('person-option').first().check();
      await mgr.getByTestId('grant-role').selectOption('editor');
      await mgr.getByTestId('grant').click();
      if (ok) await expect(mgr.getByTestId('member-row').filter({ hasText: 'Alice' })).toBeVisible();
      else await expect(mgr.getByTestId('members-error')).toContainText('not certified');
    }
  });

  await test.step('the manager creates a contract with the PDF and the annex, with upload progress', async () => {
    const form = mgr.getByTestId('new-contract');
    await form.getByTestId('field-title').fill('Supply agreement 供货合同');
    await form.getByTestId('field-counterparties').fill('Acme Ltd, 北京某某公司');
    await form.getByTestId('field-amount').fill('125000.50');
    await form.getByTestId('field-currency').fill('CNY');
    await form.getByTestId('field-status').selectOption('signed');
    await mgr.getByTestId('drop-zone-input').setInputFiles([pdfPath, annexPath]);
    await form.getByTestId('create-contract').click();
    await expect(mgr.getByTestId('upload-progress').first()).toBeVisible();
    await expect(mgr.getByTestId('upload-done')).toHaveCount(2, { timeout: 120_000 });
    await expect(mgr.getByTestId('contract-row').filter({ hasText: 'Supply agreement' })).toContainText('Acme Ltd');
  });

  await test.step('the manager views the PDF in the browser and downloads the annex byte for byte', async () => {
    await mgr.getByTestId('contract-created').getByRole('link').click();
    await expect(mgr.getByTestId('contract-fields')).toContainText('Supply agreement');
    await mgr.getByTestId('view-pdf').click();
    await expect(mgr.locator('canvas[data-rendered-page="1"]')).toBeVisible({ timeout: 30_000 });
    const row = mgr.getByTestId('file-row').filter({ hasText: 'annex.bin' });
    const [download] = await Promise.all([mgr.waitForEvent('download'), row.getByTestId('download').click()]);
    const saved = join(files, 'downloaded.bin');
    await download.saveAs(saved);
    expect(Buffer.compare(readFileSync(saved), annex)).toBe(0);
  });

  const alice = await person(browser, 'alice');
  await test.step('Alice finds the contract by a counterparty and opens the PDF', async () => {
    await alice.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await alice.getByTestId('space-row').first().getByRole('link').click();
    await alice.getByTestId('contract-filter').fill('nothing like this');
    await expect(alice.getByTestId('contract-row')).toHaveCount(0);
    await alice.getByTestId('contract-filter').fill('acme');
    await expect(alice.getByTestId('contract-row')).toHaveCount(1);
    await alice.getByTestId('contract-row').first().getByRole('link').click();
    await alice.getByTestId('view-pdf').click();
    await expect(alice.locator('canvas[data-rendered-page="1"]')).toBeVisible({ timeout: 30_000 });
  });

  await test.step('Alice searches in Chinese and by amount from the local index; IndexedDB holds no plaintext of it', async () => {
    // The space page already indexed the contract on the previous visit: it is shown again without fetching its records.
    const recordFetches: string[] = [];
    alice.on('request', (r) => {
      if (/\/api\/vault\/contracts\/[^/?]+\/records\//.test(r.url())) recordFetches.push(r.url());
    });
    await alice.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await alice.getByTestId('space-row').first().getByRole('link').click();
    await expect(alice.getByTestId('contract-row')).toContainText('Supply agreement');
    await expect(alice.getByTestId('contract-count')).toHaveText('1 of 1 contracts');
    expect(recordFetches).toEqual([]);
    for (const [query, count] of [['北京', 1], ['某某公司', 1], ['供货 acme', 1], ['125,000.50', 1], ['cny signed', 1], ['上海', 0], ['acme 上海', 0], ['supplier', 0]] as const) {
      await alice.getByTestId('contract-filter').fill(query);
      await expect(alice.getByTestId('contract-row'), query).toHaveCount(count);
      await expect(alice.getByTestId('contract-count'), query).toHaveText(`${count} of 1 contracts`);
    }
    const dump = await alice.evaluate(async () => {
      const request = <T,>(r: IDBRequest<T>) => new Promise<T>((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      // Bytes as Latin-1 and as UTF-8, so a plaintext in either spelling would show.
      const bytes = (b: Uint8Array) => `${Array.from(b, (x) => String.fromCharCode(x)).join('')} ${new TextDecoder().decode(b)}`;
      const out: { db: string; store: string; records: number; text: string }[] = [];
      for (const info of await indexedDB.databases()) {
        const db = await request(indexedDB.open(info.name!));
        for (const store of Array.from(db.objectStoreNames)) {
          const values = await request(db.transaction(store).objectStore(store).getAll());
          const text = JSON.stringify(values, (_k, v: unknown) => (v instanceof Uint8Array ? bytes(v) : v instanceof ArrayBuffer ? bytes(new Uint8Array(v)) : v));
          out.push({ db: info.name!, store, records: values.length, text });
        }
        db.close();
      }
      return out;
    });
    const entries = dump.filter((d) => d.db.startsWith('sealvault-index-') && d.store === 'entries');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.records).toBe(1);
    const all = dump.map((d) => d.text).join('\n');
    expect(all).toContain('"ct"');
    for (const marker of ['Supply agreement', '供货合同', 'Acme', '北京某某公司', '北京', '125000.50', 'supply', 'acme']) expect(all, marker).not.toContain(marker);
  });

  await test.step('an employee of no grant cannot list or fetch the contracts', async () => {
    const bob = await unlockAccount({ transport, username: 'bob', password: password('bob'), deriveP });
    const refused = await call('GET', `/api/vault/contracts?space=${space}`, undefined, bob.session).then(() => 'listed', (e: { code?: string }) => e.code);
    expect(refused).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
  });

  await test.step('after revocation the space is gone from Alice\'s list', async () => {
    await mgr.getByRole('link', { name: 'Sales 销售' }).click();
    await mgr.getByTestId('member-row').filter({ hasText: 'Alice' }).getByTestId('revoke').click();
    await mgr.getByTestId('revoke-confirm').click();
    await expect(mgr.getByTestId('member-row').filter({ hasText: 'Alice' })).toHaveCount(0);
    await alice.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await expect(alice.getByTestId('spaces-list')).toBeVisible();
    await expect(alice.getByTestId('space-row')).toHaveCount(0);
  });

  await test.step('the views and the download are in the audit log in the readers\' own signed words', async () => {
    const auditor = await unlockAccount({ transport, username: 'auditor', password: ADMIN_PASSWORDS.auditor, deriveP });
    const actions: { action: string; signer: string }[] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = await call('GET', `/api/audit/entries?start=${start}&limit=1000`, undefined, auditor.session);
      for (const e of page.entries) if (e.entry) actions.push({ action: e.entry.action, signer: e.entry.signer.kind });
      start = page.nextStart;
    }
    for (const action of ['contract.create', 'file.view', 'file.download', 'grant.create', 'grant.revoke', 'record.put', 'block.download']) {
      expect(actions.map((a) => a.action), action).toContain(action);
    }
    expect(actions.filter((a) => a.action === 'file.view').every((a) => a.signer === 'account')).toBe(true);
  });
  fetcher.close();
});
