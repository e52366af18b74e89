import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnterpriseCa } from '../../shared/pki/enterprise-ca';
import { AccountRequestListResponse, AccountRequestSchema, PublicKeysResponse, RevocationsResponse } from '../../shared/schemas/directory';
import { parseCertificate } from '../../shared/pki/x509';
import { openDatabase } from '../common/db';
import { insertAccount } from './accounts-store';
import { DIRECTORY_MIGRATIONS } from './migrations';
import {
  addEmployee,
  certify,
  errorCode as code,
  json,
  loginPerson,
  makeDirectory,
  setUpCa,
  setUpEnterprise,
  type Enterprise,
  type Person,
} from './test-harness';

let e: Enterprise;
let ca: EnterpriseCa;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
  ca = await setUpCa(e);
});
afterAll(async () => e.h.close());

async function ask(by: Person, body: Record<string, unknown>): Promise<string> {
  const res = await e.h.post('/account-requests', body, by.session);
  if (res.status !== 200) throw new Error(`account request failed: ${res.status} ${await res.text()}`);
  return AccountRequestSchema.parse(await res.json()).id;
}
const approve = (by: Person, id: string) => e.h.post(`/account-requests/${id}/approve`, undefined, by.session);
const reject = (by: Person, id: string, reason = 'no') => e.h.post(`/account-requests/${id}/reject`, { reason }, by.session);
const keysOf = async (account: string) => PublicKeysResponse.parse(await json(await e.h.get(`/accounts/${account}/public-keys`)));
const actions = (prefix: string) => e.h.ctx.audit.events.filter((x) => x.action.startsWith(prefix)).map((x) => `${x.action}:${x.outcome}`);

describe('directory: profile change requests', () => {
  it('changes the legal name only when a security-admin approves, and revokes the certificate naming the old one', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E700');
    await certify(e, ca, emp.account);
    const id = await ask(emp, { kind: 'profile', account: emp.account, legalName: 'Person E700-Married' });
    expect(await json(await h.get(`/accounts/${emp.account}`, emp.session))).toMatchObject({ legalName: 'Person E700' });
    expect(await keysOf(emp.account)).toMatchObject({ certified: true });

    expect(await code(await approve(admins['system-admin'], id))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await approve(emp, id))).toEqual([403, 'E_FORBIDDEN']);
    const ok = await approve(admins['security-admin'], id);
    expect(ok.status).toBe(200);
    expect(AccountRequestSchema.parse(await ok.json())).toMatchObject({ kind: 'profile', status: 'approved', legalName: 'Person E700-Married', employeeNumber: null, requestedBy: emp.account, decidedBy: admins['security-admin'].account });
    expect(await json(await h.get(`/accounts/${emp.account}`, emp.session))).toMatchObject({ legalName: 'Person E700-Married', employeeNumber: 'E700', certified: false });
    expect(await keysOf(emp.account)).toMatchObject({ status: 'active', certified: false, revoked: true });
    const last = h.ctx.audit.events.slice(-2);
    expect(last[0]).toMatchObject({ actor: admins['security-admin'].account, action: 'profile.approve', target: `account:${emp.account}`, outcome: 'ok', details: { request: id, fields: ['legalName'] } });
    expect(last[1]).toMatchObject({ actor: admins['security-admin'].account, action: 'certificate.revoke', target: `account:${emp.account}`, details: { reason: 'profile-changed', request: id } });
    expect(await code(await approve(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);

    // The old certificate cannot come back; a new one for the new name clears the revocation.
    const old = (await keysOf(emp.account)).certificate!;
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate: old }, admins['security-admin'].session))).toEqual([400, 'E_CERTIFICATE']);
    await certify(e, ca, emp.account);
    expect(await keysOf(emp.account)).toMatchObject({ certified: true, revoked: false });

    // The revoked serial stays on the list after the new certificate replaced it: a PDF signed
    // with the old one must still show as signed with a revoked certificate.
    const revocations = async (session?: string) => h.get('/revocations', session);
    expect((await revocations()).status).toBe(401);
    const list = RevocationsResponse.parse(await json(await revocations(emp.session))).revocations;
    const oldSerial = parseCertificate(old, 'old').serialNumber.toLowerCase();
    expect(list.filter((r) => r.serial === oldSerial)).toEqual([{ serial: oldSerial, revokedAt: expect.any(Number), reason: 'profile-changed' }]);
    const current = parseCertificate((await keysOf(emp.account)).certificate!, 'new').serialNumber.toLowerCase();
    expect(list.some((r) => r.serial === current)).toBe(false);
  });

  it('changes the employee number, unique across accounts and pending requests', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E710');
    const b = await addEmployee(e, 'E711');
    expect(await code(await h.post('/account-requests', { kind: 'profile', account: a.account, employeeNumber: 'e711' }, a.session))).toEqual([409, 'E_CONFLICT']);
    const id = await ask(a, { kind: 'profile', account: a.account, employeeNumber: 'E710-B' });
    expect(await code(await h.post('/account-requests', { kind: 'profile', account: b.account, employeeNumber: 'E710-b' }, b.session))).toEqual([409, 'E_CONFLICT']);
    expect((await approve(admins['security-admin'], id)).status).toBe(200);
    expect(await json(await h.get(`/accounts/${a.account}`, a.session))).toMatchObject({ employeeNumber: 'E710-B' });
    // The old number is free again.
    expect((await h.post('/account-requests', { kind: 'profile', account: b.account, employeeNumber: 'E710' }, b.session)).status).toBe(200);
  });

  it('refuses a change that an approval would make a duplicate (409, audited as refused)', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E712');
    const id = await ask(a, { kind: 'profile', account: a.account, employeeNumber: 'E713' });
    // Meanwhile a system-admin invites someone with that number (invitations do not look at requests).
    expect((await h.post('/accounts', { legalName: 'Late Comer', employeeNumber: 'E713', contact: 'c' }, admins['system-admin'].session)).status).toBe(200);
    expect(await code(await approve(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'profile.approve', outcome: 'refused', details: { request: id, code: 'E_CONFLICT' } });
    expect(await json(await h.get(`/accounts/${a.account}`, a.session))).toMatchObject({ employeeNumber: 'E712' });
  });

  it('lets only the account itself ask, one pending at a time, and only for a real change', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E720');
    for (const who of [admins['system-admin'], admins['security-admin'], await addEmployee(e, 'E721')]) {
      expect(await code(await h.post('/account-requests', { kind: 'profile', account: a.account, legalName: 'X' }, who.session))).toEqual([403, 'E_FORBIDDEN']);
    }
    expect(await code(await h.post('/account-requests', { kind: 'profile', account: a.account, legalName: 'Person E720' }, a.session))).toEqual([409, 'E_CONFLICT']);
    await ask(a, { kind: 'profile', account: a.account, legalName: 'A New Name' });
    expect(await code(await h.post('/account-requests', { kind: 'profile', account: a.account, employeeNumber: 'E720-X' }, a.session))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/account-requests', { kind: 'profile', account: a.account, legalName: 'X' }))).toEqual([401, 'E_UNAUTHORIZED']);
  });

  it('keeps four eyes: a security-admin never decides a change of their own profile', async () => {
    const { admins } = e;
    const sec = admins['security-admin'];
    const id = await ask(sec, { kind: 'profile', account: sec.account, legalName: 'Sue Sec-Renamed' });
    expect(await code(await approve(sec, id))).toEqual([403, 'E_FOUR_EYES']);
    expect(await code(await reject(sec, id))).toEqual([403, 'E_FOUR_EYES']);
    expect(e.h.ctx.audit.events.at(-1)).toMatchObject({ action: 'profile.approve', outcome: 'refused', details: { code: 'E_FOUR_EYES' } });
    // A second security-admin decides it.
    const second = await addEmployee(e, 'E725');
    const rr = await e.h.post('/role-requests', { account: second.account, role: 'security-admin', op: 'add' }, admins['system-admin'].session);
    const { id: roleRequest } = await json<{ id: string }>(rr);
    expect((await e.h.post(`/role-requests/${roleRequest}/approve`, undefined, sec.session)).status).toBe(200);
    second.session = (await loginPerson(e.h, second)).session;
    expect((await reject(second, id, 'bring your papers')).status).toBe(200);
    expect(await json(await e.h.get(`/accounts/${sec.account}`, sec.session))).toMatchObject({ legalName: 'Sue Sec' });
  });

  it('rejects with a reason and changes nothing', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E730');
    const id = await ask(a, { kind: 'profile', account: a.account, legalName: 'Not My Name' });
    expect(await code(await h.post(`/account-requests/${id}/reject`, {}, admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await reject(admins['system-admin'], id))).toEqual([403, 'E_FORBIDDEN']);
    const res = await reject(admins['security-admin'], id, 'no documents shown');
    expect(AccountRequestSchema.parse(await res.json())).toMatchObject({ status: 'rejected', rejectionReason: 'no documents shown', decidedBy: admins['security-admin'].account });
    expect(await json(await h.get(`/accounts/${a.account}`, a.session))).toMatchObject({ legalName: 'Person E730' });
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'profile.reject', outcome: 'ok', details: { request: id, reason: 'no documents shown' } });
    expect(await code(await approve(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await reject(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await approve(admins['security-admin'], 'no-such-request'))).toEqual([404, 'E_NOT_FOUND']);
  });
});

describe('directory: disable requests', () => {
  it('disables only when a security-admin approves: sessions end, certificate revoked, audited', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E740');
    await certify(e, ca, emp.account);
    const before = actions('account.disable').length;
    const id = await ask(admins['system-admin'], { kind: 'disable', account: emp.account, reason: 'left the company' });
    expect(await keysOf(emp.account)).toMatchObject({ status: 'active', certified: true });
    expect((await h.get('/me', emp.session)).status).toBe(200);
    const ok = await approve(admins['security-admin'], id);
    expect(AccountRequestSchema.parse(await ok.json())).toMatchObject({ kind: 'disable', status: 'approved', reason: 'left the company' });
    expect(await keysOf(emp.account)).toMatchObject({ status: 'disabled', certified: false, revoked: true });
    expect(await code(await h.get('/me', emp.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(actions('account.disable').length).toBe(before + 1);
    const last = h.ctx.audit.events.slice(-2);
    expect(last[0]).toMatchObject({ actor: admins['security-admin'].account, action: 'account.disable', outcome: 'ok', details: { request: id, reason: 'left the company', requestedBy: admins['system-admin'].account } });
    expect(last[1]).toMatchObject({ action: 'certificate.revoke', details: { reason: 'account-disabled' } });
    // The session rows ended too (not only refused while disabled).
    const db = h.peekDb();
    const live = db.prepare('SELECT count(*) AS n FROM sessions WHERE account = ? AND ended_at IS NULL').get(emp.account) as { n: number };
    db.close();
    expect(live.n).toBe(0);
    expect(await code(await h.post('/account-requests', { kind: 'disable', account: emp.account, reason: 'again' }, admins['system-admin'].session))).toEqual([409, 'E_CONFLICT']);
  });

  it('gives a disabled account no escrow ticket and no session refresh, even with a live session row', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E741');
    const s = await loginPerson(h, emp);
    expect((await h.post('/escrow-ticket', undefined, s.session)).status).toBe(200);
    const id = await ask(admins['system-admin'], { kind: 'disable', account: emp.account, reason: 'left' });
    expect((await approve(admins['security-admin'], id)).status).toBe(200);
    expect(await code(await h.post('/escrow-ticket', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.post('/session/refresh', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    // Below the routes: revive the session rows by hand; the account status still refuses them.
    const db = new Database(join(h.ctx.dataDir, 'directory.sqlite'));
    db.prepare('UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE account = ?').run(emp.account);
    db.close();
    expect(await code(await h.post('/escrow-ticket', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.post('/session/refresh', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    await expect(loginPerson(h, emp)).rejects.toMatchObject({ status: 403, code: 'E_ACCOUNT_DISABLED' });
  });

  it('lets only a system-admin ask, never for their own account, once at a time', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E750');
    const body = { kind: 'disable', account: emp.account, reason: 'x' };
    for (const who of [admins['security-admin'], admins['auditor'], emp]) expect(await code(await h.post('/account-requests', body, who.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.post('/account-requests', { ...body, account: admins['system-admin'].account }, admins['system-admin'].session))).toEqual([403, 'E_FOUR_EYES']);
    expect(await code(await h.post('/account-requests', { ...body, account: 'nobody' }, admins['system-admin'].session))).toEqual([404, 'E_NOT_FOUND']);
    const id = await ask(admins['system-admin'], body);
    expect(await code(await h.post('/account-requests', body, admins['system-admin'].session))).toEqual([409, 'E_CONFLICT']);
    expect((await reject(admins['security-admin'], id, 'still needed')).status).toBe(200);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'disable.reject', outcome: 'ok' });
    expect(await keysOf(emp.account)).toMatchObject({ status: 'active' });
    // Rejected: a new request may be made.
    await ask(admins['system-admin'], body);
  });

  it('refuses disabling the last holder of an administrator role, at request and at approval', async () => {
    const { h, admins } = e;
    expect(await code(await h.post('/account-requests', { kind: 'disable', account: admins['auditor'].account, reason: 'x' }, admins['system-admin'].session))).toEqual([409, 'E_LAST_ADMIN']);
    // Two auditors; a disable request for each; approving both would leave none.
    const second = await addEmployee(e, 'E760');
    const rr = await json<{ id: string }>(await h.post('/role-requests', { account: second.account, role: 'auditor', op: 'add' }, admins['system-admin'].session));
    expect((await h.post(`/role-requests/${rr.id}/approve`, undefined, admins['security-admin'].session)).status).toBe(200);
    const first = await ask(admins['system-admin'], { kind: 'disable', account: admins['auditor'].account, reason: 'moved' });
    const other = await ask(admins['system-admin'], { kind: 'disable', account: second.account, reason: 'moved too' });
    expect((await approve(admins['security-admin'], first)).status).toBe(200);
    expect(await code(await approve(admins['security-admin'], other))).toEqual([409, 'E_LAST_ADMIN']);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'account.disable', outcome: 'refused', details: { code: 'E_LAST_ADMIN' } });
    expect(await keysOf(second.account)).toMatchObject({ status: 'active', roles: ['auditor', 'employee'] });
  });

  it('never lets the account concerned decide its own disabling', async () => {
    const { admins } = e;
    // A second security-admin, whose disabling the first one must decide, not they themselves.
    const second = await addEmployee(e, 'E770');
    const rr = await json<{ id: string }>(await e.h.post('/role-requests', { account: second.account, role: 'security-admin', op: 'add' }, admins['system-admin'].session));
    expect((await e.h.post(`/role-requests/${rr.id}/approve`, undefined, admins['security-admin'].session)).status).toBe(200);
    second.session = (await loginPerson(e.h, second)).session;
    const id = await ask(admins['system-admin'], { kind: 'disable', account: second.account, reason: 'contract ended' });
    expect(await code(await approve(second, id))).toEqual([403, 'E_FOUR_EYES']);
    expect(await code(await reject(second, id))).toEqual([403, 'E_FOUR_EYES']);
    expect((await approve(admins['security-admin'], id)).status).toBe(200);
  });
});

describe('directory: account request bodies and listing', () => {
  it.each([
    ['no kind', { account: 'x', legalName: 'A' }],
    ['an unknown kind', { kind: 'rename', account: 'x', legalName: 'A' }],
    ['a profile change naming nothing', { kind: 'profile', account: 'x' }],
    ['a profile change with a reason', { kind: 'profile', account: 'x', legalName: 'A', reason: 'r' }],
    ['a disable without a reason', { kind: 'disable', account: 'x' }],
    ['a disable with a legal name', { kind: 'disable', account: 'x', reason: 'r', legalName: 'A' }],
    ['a legal name with a newline', { kind: 'profile', account: 'x', legalName: 'A\nB' }],
    ['a legal name of 201 characters', { kind: 'profile', account: 'x', legalName: 'A'.repeat(201) }],
    ['an employee number with spaces', { kind: 'profile', account: 'x', employeeNumber: 'E 1' }],
    ['a reason of 501 characters', { kind: 'disable', account: 'x', reason: 'r'.repeat(501) }],
    ['a bad account id', { kind: 'disable', account: 'a b', reason: 'r' }],
  ])('refuses %s (400 JSON)', async (_name, body) => {
    const res = await e.h.post('/account-requests', body, e.admins['system-admin'].session);
    expect(await code(res)).toEqual([400, 'E_VALIDATION']);
  });

  it('lists all requests for account administrators, and their own for anyone else', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E780');
    const b = await addEmployee(e, 'E781');
    const mine = await ask(a, { kind: 'profile', account: a.account, legalName: 'Listed Name' });
    for (const admin of [admins['system-admin'], admins['security-admin']]) {
      const all = AccountRequestListResponse.parse(await json(await h.get('/account-requests', admin.session)));
      expect(all.requests.map((r) => r.id)).toContain(mine);
      expect(new Set(all.requests.map((r) => r.account)).size).toBeGreaterThan(1);
    }
    const pending = AccountRequestListResponse.parse(await json(await h.get('/account-requests?status=pending', admins['security-admin'].session)));
    expect(pending.requests.every((r) => r.status === 'pending')).toBe(true);
    const own = AccountRequestListResponse.parse(await json(await h.get(`/account-requests?account=${a.account}`, a.session)));
    expect(own.requests.map((r) => r.id)).toEqual([mine]);
    expect(await code(await h.get('/account-requests', a.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get(`/account-requests?account=${a.account}`, b.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get('/account-requests?status=maybe', admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.get('/account-requests?sort=asc', admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
  });
});

describe('directory database: account requests keep four eyes below the routes', () => {
  it('refuses a decision by the requester or the account, self-disabling, profile changes asked by others, and two pending of a kind', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'sealvault-dir-db-')), 'directory.sqlite'), DIRECTORY_MIGRATIONS);
    for (const id of ['a1', 'a2', 'a3']) insertAccount(db, { id, username: id, legalName: id, employeeNumber: id, department: null, contact: 'c', createdBy: 'setup', approvedBy: null, roles: [], now: 0 });
    const insert = (id: string, account: string, kind: string, by: string, extra = `NULL, NULL, 'r'`) =>
      db.prepare(`INSERT INTO account_requests (id, account, kind, legal_name, employee_number, reason, status, requested_by, requested_at) VALUES (?, ?, ?, ${extra}, 'pending', ?, 0)`).run(id, account, kind, by);
    insert('d1', 'a2', 'disable', 'a1');
    expect(() => db.prepare(`UPDATE account_requests SET status = 'approved', decided_by = 'a1', decided_at = 1 WHERE id = 'd1'`).run()).toThrow(/CHECK/);
    expect(() => db.prepare(`UPDATE account_requests SET status = 'approved', decided_by = 'a2', decided_at = 1 WHERE id = 'd1'`).run()).toThrow(/CHECK/);
    db.prepare(`UPDATE account_requests SET status = 'approved', decided_by = 'a3', decided_at = 1 WHERE id = 'd1'`).run();
    expect(() => insert('d2', 'a1', 'disable', 'a1')).toThrow(/CHECK/);
    expect(() => insert('p1', 'a1', 'profile', 'a2', `'New', NULL, NULL`)).toThrow(/CHECK/);
    insert('p2', 'a1', 'profile', 'a1', `'New', NULL, NULL`);
    expect(() => insert('p3', 'a1', 'profile', 'a1', `NULL, 'N2', NULL`)).toThrow(/UNIQUE/);
    expect(() => insert('p4', 'a3', 'profile', 'a3', 'NULL, NULL, NULL')).toThrow(/CHECK/);
    db.close();
  });
});
