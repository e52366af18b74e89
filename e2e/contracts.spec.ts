/**
 * Issue 5's pages in Chromium against the real relay: a space manager makes a space, grants a
 * certified colleague (an uncertified one is refused in words), creates a contract with fields, a
 * 30 MiB PDF, a 9 MB annex and two small files uploaded with progress, views the PDF decrypted in
 * the browser and downloads the annex byte for byte; the colleague finds the contract by a
 * counterparty, views the PDF and downloads it byte for byte, and on a second visit searches it
 * in Chinese and by amount from the local index without fetching its records, while IndexedDB
 * holds none of its plaintext; an employee of another space can neither list nor fetch any of
 * it; after revocation the colleague cannot open it any more.
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
import { createSpace, grantAccess } from '../shared/protocol/spaces';
import { fetchTransport } from '../shared/protocol/relay-transport';
import { AccountProfileSchema, EnterpriseResponse } from '../shared/schemas/directory';
import { caFetch } from '../relay/integration/https-client';
import { followInApp, patternBytes, signIn } from './support/people';
import { E2E_MARKERS } from './support/markers';

const deriveP: DeriveP = (password, salt, params) => derivePasswordHalf(password, salt, params);
const ADMIN_PASSWORDS = { sys: 'Ledger lantern orchard 7 system', sec: 'Quartz meadow signet 9 security', auditor: 'Harbor compass juniper 4 audit' };
const password = (username: string) => `${username} contract pages password 5`;

/**
 * A two-page PDF; `padding` bytes go into an object no page uses, so the file is as large as a
 * scanned contract while pdf.js still renders its two small pages.
 */
function twoPagePdf(padding = 0): Buffer {
  const content = (text: string) => `BT /F1 28 Tf 36 120 Td (${text}) Tj ET`;
  const stream = (body: string) => `<< /Length ${Buffer.byteLength(body, 'latin1')} >>\nstream\n${body}\nendstream`;
  const page = (contents: number) => `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 260] /Resources << /Font << /F1 5 0 R >> >> /Contents ${contents} 0 R >>`;
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>', page(6), page(7), '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>', stream(content('Supply agreement page one')), stream(content('Supply agreement page two'))];
  const parts: Buffer[] = [];
  let length = 0;
  const add = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  add(Buffer.from('%PDF-1.4\n', 'latin1'));
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(length);
    add(Buffer.from(`${i + 1} 0 obj\n${body}\nendobj\n`, 'latin1'));
  });
  if (padding > 0) {
    offsets.push(length);
    add(Buffer.from(`${objects.length + 1} 0 obj\n<< /Length ${padding} >>\nstream\n`, 'latin1'));
    add(patternBytes(padding, 0xf11e));
    add(Buffer.from('\nendstream\nendobj\n', 'latin1'));
  }
  const xref = length;
  let tail = `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) tail += `${String(offset).padStart(10, '0')} 00000 n \n`;
  tail += `trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  add(Buffer.from(tail, 'latin1'));
  return Buffer.concat(parts);
}

const person = (browser: Browser, username: string): Promise<Page> => signIn(browser, String(test.info().project.use.baseURL), username, password(username));

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
      { username: 'carol', legalName: 'Carol Otherspace', number: 'E2004', manager: false, certify: true },
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
  const pdf = twoPagePdf(30 * 1024 * 1024);
  writeFileSync(pdfPath, pdf);
  const smallPaths = [
    [join(files, 'price-schedule.csv'), `item,price\n${E2E_MARKERS.fileText},125000.50\n`],
    [join(files, 'notes.txt'), 'Delivery notes: FOB Shanghai, 30 days net.\n'],
  ] as const;
  for (const [path, text] of smallPaths) writeFileSync(path, text);
  const annex = patternBytes(9 * 1024 * 1024 + 123, 0xa11e);
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
    await form.getByTestId('field-counterparties').fill(`Acme Ltd, 北京某某公司, ${E2E_MARKERS.counterparty}`);
    await form.getByTestId('field-amount').fill('125000.50');
    await form.getByTestId('field-currency').fill('CNY');
    await form.getByTestId('field-status').selectOption('signed');
    await mgr.getByTestId('drop-zone-input').setInputFiles([pdfPath, annexPath, ...smallPaths.map(([path]) => path)]);
    await form.getByTestId('create-contract').click();
    await expect(mgr.getByTestId('upload-progress').first()).toBeVisible();
    await expect(mgr.getByTestId('upload-done')).toHaveCount(4, { timeout: 180_000 });
    await expect(mgr.getByTestId('contract-row').filter({ hasText: 'Supply agreement' })).toContainText('Acme Ltd');
  });

  let contractPath = '';
  const fileIds: string[] = [];
  await test.step('the manager views the PDF in the browser and downloads the annex byte for byte', async () => {
    await mgr.getByTestId('contract-created').getByRole('link').click();
    await mgr.waitForURL(/\/spaces\/sp-[^/]+\/c-/);
    contractPath = new URL(mgr.url()).pathname;
    await expect(mgr.getByTestId('file-row')).toHaveCount(4);
    for (const row of await mgr.getByTestId('file-row').all()) fileIds.push((await row.getAttribute('data-file-id'))!);
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
    await expect(alice.locator('canvas[data-rendered-page="1"]')).toBeVisible({ timeout: 60_000 });
    const row = alice.getByTestId('file-row').filter({ hasText: 'supply-agreement.pdf' });
    const [download] = await Promise.all([alice.waitForEvent('download'), row.getByTestId('download').click()]);
    const saved = join(files, 'alice-downloaded.pdf');
    await download.saveAs(saved);
    expect(Buffer.compare(readFileSync(saved), pdf)).toBe(0);
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


  const contract = contractPath.split('/')[3]!;
  const refusal = (p: Promise<unknown>) => p.then(() => 'answered', (e: { code?: string }) => e.code);
  const fetchEverything = async (session: string) => {
    const codes = [
      await refusal(call('GET', `/api/vault/contracts?space=${space}`, undefined, session)),
      await refusal(call('GET', `/api/vault/contracts/${contract}/records/fields/latest`, undefined, session)),
      await refusal(call('GET', `/api/vault/contracts/${contract}/records/dek/latest`, undefined, session)),
      await refusal(call('GET', `/api/vault/contracts/${contract}/files`, undefined, session)),
    ];
    for (const file of fileIds) {
      codes.push(await refusal(call('GET', `/api/vault/files/${file}/versions/1/manifest`, undefined, session)));
      codes.push(await refusal(transport.getBytes(`/api/vault/files/${file}/versions/1/blocks/0`, session)));
    }
    return codes;
  };

  await test.step('an employee of another space, and one of no grant, can neither list nor fetch any of it', async () => {
    const mgrNode = await unlockAccount({ transport, username: 'mgr', password: password('mgr'), deriveP });
    const caPem = EnterpriseResponse.parse(await call('GET', '/api/directory/enterprise')).caCertificate!;
    const carol = await unlockAccount({ transport, username: 'carol', password: password('carol'), deriveP });
    const legal = await createSpace(transport, mgrNode, caPem, 'Legal 法务');
    await grantAccess(transport, mgrNode, caPem, legal.space, carol.account, 'editor');
    const bob = await unlockAccount({ transport, username: 'bob', password: password('bob'), deriveP });
    for (const outsider of [carol, bob]) {
      const codes = await fetchEverything(outsider.session);
      expect(codes).toHaveLength(4 + 2 * fileIds.length);
      for (const code of codes) expect(code).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
    }
  });

  await test.step('after revocation the space is gone from Alice\'s list', async () => {
    await mgr.getByRole('link', { name: 'Sales 销售' }).click();
    await mgr.getByTestId('member-row').filter({ hasText: 'Alice' }).getByTestId('revoke').click();
    await mgr.getByTestId('revoke-confirm').click();
    await expect(mgr.getByTestId('member-row').filter({ hasText: 'Alice' })).toHaveCount(0);
    await alice.getByRole('navigation').getByRole('link', { name: 'Contracts' }).click();
    await expect(alice.getByTestId('spaces-list')).toBeVisible();
    await expect(alice.getByTestId('space-row')).toHaveCount(0);
    // The contract's address, followed in the same tab, opens nothing: the relay refuses Alice.
    await followInApp(alice, contractPath);
    await expect(alice.getByRole('alert')).toBeVisible({ timeout: 30_000 });
    await expect(alice.getByTestId('contract-fields')).toHaveCount(0);
    const aliceNode = await unlockAccount({ transport, username: 'alice', password: password('alice'), deriveP });
    for (const code of await fetchEverything(aliceNode.session)) expect(code).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
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
